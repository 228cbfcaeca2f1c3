import NIOCore

/// A minimal NATS client (text protocol: INFO, CONNECT, PUB, SUB, MSG, HMSG, PING/PONG) that
/// uses JetStream through its `$JS.API.*` request subjects: a subscriber creates (or finds) its
/// durable push consumer with explicit acks and acknowledges each message by publishing to the
/// message's `$JS.ACK…` reply subject; a producer publishes with a reply inbox, so each publish
/// is confirmed by the stream's PubAck. Written by hand: no NATS package is among the ones this
/// machine offers.
final class NATSClient: PeerClient, @unchecked Sendable {
    private var inbox: String { "_INBOX.\(settings.clientID)" }
    private var deliverSubject: String { "deliver.\(settings.clientID)" }
    private var requests: [Int: EventLoopPromise<String>] = [:]
    private var nextRequest = 0

    override func start() {}  // the server speaks first (INFO)

    override func publish(_ payload: ByteBuffer) {
        var out = ByteBuffer()
        out.reserveCapacity(payload.readableBytes + 64)
        out.writeString("PUB \(settings.topic) \(inbox).p \(payload.readableBytes)\r\n")
        var payload = payload
        out.writeBuffer(&payload)
        out.writeString("\r\n")
        write(out)
    }

    /// A JetStream API request (or any request): the reply's payload as text.
    func request(_ subject: String, _ body: String) -> EventLoopFuture<String> {
        let promise = loop.makePromise(of: String.self)
        nextRequest += 1
        requests[nextRequest] = promise
        write(ByteBuffer(string: "PUB \(subject) \(inbox).r\(nextRequest) \(body.utf8.count)\r\n\(body)\r\n"))
        flush()
        return promise.futureResult
    }

    override func channelInactive(context: ChannelHandlerContext) {
        for promise in requests.values { promise.fail(PeerError("NATS connection closed")) }
        requests = [:]
        super.channelInactive(context: context)
    }

    private func connected() {
        write(ByteBuffer(string: "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"peer-bench\",\"lang\":\"swift\",\"version\":\"0.1\",\"protocol\":1,\"headers\":true,\"no_responders\":true}\r\n"))
        write(ByteBuffer(string: "SUB \(inbox).* 1\r\n"))
        guard settings.subscribe else {
            write(ByteBuffer(string: "PING\r\n"))   // ready on the PONG: CONNECT and SUB were processed
            return
        }
        guard let stream = settings.stream else {
            // An idle subscriber: a plain subscription, no JetStream consumer.
            write(ByteBuffer(string: "SUB \(settings.topic) 2\r\nPING\r\n"))
            return
        }
        // As nats.go does for a durable subscription: look the consumer up, create it only if
        // it is missing, and subscribe to its deliver subject afterwards. (Re-creating an existing
        // consumer while its messages are in flight makes 2.9 forget their acks.)
        let durable = settings.clientID.replacingOccurrences(of: ".", with: "_")
        let config = """
            {"stream_name":"\(stream)","config":{"durable_name":"\(durable)","deliver_subject":"\(deliverSubject)",\
            "deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_ack_pending":256,\
            "filter_subject":"\(settings.topic)","replay_policy":"instant"}}
            """
        let created = request("$JS.API.CONSUMER.INFO.\(stream).\(durable)", "").flatMap { [self] info in
            info.contains("\"error\"")
                ? request("$JS.API.CONSUMER.DURABLE.CREATE.\(stream).\(durable)", config)
                : loop.makeSucceededFuture(info)
        }
        created.whenComplete { [self] result in
            switch result {
            case .success(let reply) where !reply.contains("\"error\""):
                write(ByteBuffer(string: "SUB \(deliverSubject) 3\r\nPING\r\n"))  // ready on the PONG
                flush()
            case .success(let reply):
                fail("JetStream refused the consumer: \(reply)")
            case .failure(let error):
                fail("JetStream consumer: \(error)")
            }
        }
    }

    override func parse() throws {
        while true {
            guard let end = inbound.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return }
            let lineLength = end - inbound.readerIndex + 1
            guard let line = inbound.getString(at: inbound.readerIndex, length: lineLength - 2) else { throw PeerError("bad NATS line") }
            if line.hasPrefix("MSG ") || line.hasPrefix("HMSG ") {
                let parts = line.split(separator: " ")
                let isHeaders = parts[0] == "HMSG"
                guard let total = Int(parts[parts.count - 1]) else { throw PeerError("bad NATS \(line)") }
                guard inbound.readableBytes >= lineLength + total + 2 else { return }
                inbound.moveReaderIndex(forwardBy: lineLength)
                var body = inbound.readSlice(length: total)!
                inbound.moveReaderIndex(forwardBy: 2)
                let hasReply = parts.count == (isHeaders ? 6 : 5)
                let reply = hasReply ? String(parts[3]) : nil
                if isHeaders, let headerLength = Int(parts[parts.count - 2]) {
                    let headers = body.readString(length: headerLength) ?? ""
                    // A status message (503 no responders, 408, 409, 100 idle heartbeat).
                    if headers.hasPrefix("NATS/1.0 ") {
                        message(subject: parts[1], sid: parts[2], reply: reply, body: body, status: headers)
                        continue
                    }
                }
                message(subject: parts[1], sid: parts[2], reply: reply, body: body, status: nil)
                continue
            }
            inbound.moveReaderIndex(forwardBy: lineLength)
            if line.hasPrefix("INFO ") {
                connected()
            } else if line == "PING" {
                write(ByteBuffer(string: "PONG\r\n"))
            } else if line == "PONG" {
                ready.succeed()
            } else if line.hasPrefix("-ERR") {
                onError?("NATS \(line)")
            }
        }
    }

    /// Routed by subscription id: 3 is the consumer's deliver subject (JetStream keeps the
    /// original subject on the message), 2 a plain subscription, 1 this client's inbox.
    private func message(subject: Substring, sid: Substring, reply: String?, body: ByteBuffer, status: String?) {
        if sid == "3" {
            guard status == nil else { return }
            onEvent?(body)
            if let reply { write(ByteBuffer(string: "PUB \(reply) 0\r\n\r\n")) }  // +ACK, one per message
            return
        }
        guard sid == "1", subject.hasPrefix(inbox) else {
            onEvent?(body)  // a plain subscription (idle connections never receive any)
            return
        }
        let tail = subject.dropFirst(inbox.count + 1)
        if tail == "p" {
            if status != nil || body.readableBytesView.count > 0 && String(buffer: body).contains("\"error\"") {
                onError?("JetStream refused a publish: \(status ?? String(buffer: body))")
            } else {
                onConfirm?()
            }
        } else if tail.hasPrefix("r"), let id = Int(tail.dropFirst()), let promise = requests.removeValue(forKey: id) {
            if let status {
                promise.fail(PeerError("NATS request answered \(status.trimmingCharacters(in: .whitespacesAndNewlines))"))
            } else {
                promise.succeed(String(buffer: body))
            }
        }
    }
}
