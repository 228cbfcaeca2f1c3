import HTTPTypes
import NIOCore
import NIOHTTPTypes
import TetherCore

extension RelayError.Code {
    /// A request body did not arrive within `limits.body-timeout` of its head (a slow or stalled
    /// upload): HTTP 408, connection closed.
    static let bodyTimeout = RelayError.Code(rawValue: "body_timeout")
}

/// Bounds how long a request may take to send its body: from its head to its end at most
/// `timeout`. A body trickled slower (a slowloris on the body) is answered `408 body_timeout`
/// with the JSON error, and the connection is closed. Hummingbird's idle timeout does not do
/// this: every body part, however small, counts as activity.
///
/// Sits after HTTP decoding (Hummingbird's `additionalChannelHandlers`), so it sees request
/// heads, body parts and ends, and the responses going out: when a response to the request has
/// already started (a route that answered before reading the body), the connection is only
/// closed, since a second response head would corrupt the stream.
///
/// Ownership: event-loop bound, like every channel handler.
final class RequestBodyDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private let onTimeout: @Sendable (RelayError, SocketAddress?) -> Void
    private var deadline: Scheduled<Void>?
    /// Requests whose head arrived and whose response has not ended.
    private var responsesOwed = 0
    /// A response head went out and its end did not yet.
    private var responseInProgress = false

    init(timeout: TimeAmount, onTimeout: @escaping @Sendable (RelayError, SocketAddress?) -> Void) {
        self.timeout = timeout
        self.onTimeout = onTimeout
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            responsesOwed += 1
            deadline?.cancel()
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                let (handler, context) = bound.value
                handler.expire(context: context)
            }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.kind != .informational:
            responseInProgress = true
        case .end:
            responseInProgress = false
            responsesOwed -= 1
        default:
            break
        }
        context.write(data, promise: promise)
    }

    private func expire(context: ChannelHandlerContext) {
        deadline = nil
        let seconds = Double(timeout.nanoseconds) / 1e9
        let error = RelayError(
            .bodyTimeout,
            "the request body did not arrive within \(seconds) s of its head (limits.body-timeout); send it faster, or raise the limit for slow links"
        )
        onTimeout(error, context.channel.remoteAddress)
        // Only the request being read is owed an answer, and nothing of it went out yet.
        if responsesOwed == 1, !responseInProgress {
            let body = error.jsonBody
            let head = HTTPResponse(
                status: .requestTimeout,
                headerFields: [.contentType: "application/json", .contentLength: String(body.count), .connection: "close"]
            )
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }
}
