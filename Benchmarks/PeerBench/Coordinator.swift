import Foundation
import NIOCore
import NIOPosix

/// Runs the figures against one server at a time: it starts the servers, the subscriber
/// processes and the producer, and reads the servers' CPU and memory from /proc.
final class Coordinator {
    struct Sizes {
        var runs = 3
        var deliveries = 200_000
        var latencyEvents = 3000
        var replayEvents = 1000
        var idle = [1000, 10_000]
        var killEvents = 2000
        var subscribers = [10, 100]
        var timeout: Int64 = 90
        /// SSE replay by `client_id` alone (the relay's cursor) instead of `Last-Event-ID`.
        var sseCursorResume = false
        /// Paced runs (issue 16): one producer at `pacedRate` events/s for `pacedSeconds`, to each
        /// of these subscriber counts.
        var paced = [10, 100]
        var pacedRate = 1000.0
        var pacedSeconds = 5.0
        /// Unpaced runs of the stock Python client (1 → 10): fewer deliveries than the native
        /// generator's, which Python would take long to read.
        var stockDeliveries = 50_000
        /// Idle CPU: relay CPU over `idleCPUSeconds` with this many idle subscribers, after they settle.
        var idleCPUConnections = 1000
        var idleCPUSeconds = 10.0

        static let smoke = Sizes(runs: 1, deliveries: 2000, latencyEvents: 200, replayEvents: 1000, idle: [50, 200], killEvents: 100, timeout: 60,
                                 paced: [10], pacedSeconds: 1, stockDeliveries: 2000, idleCPUConnections: 50, idleCPUSeconds: 1)
    }

    /// Subscriber connections are spread over this many processes, for every server alike.
    static let workerProcesses = 4

    let sizes: Sizes
    let tether: String
    let workDirectory: String
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var loop: any EventLoop { group.next() }
    private var tagCounter = 0

    init(sizes: Sizes, tether: String, workDirectory: String) {
        self.sizes = sizes
        self.tether = tether
        self.workDirectory = workDirectory
    }

    func progress(_ message: String) {
        FileHandle.standardError.write(Data("peer-bench: \(message)\n".utf8))
    }

    private func nextTag() -> String {
        tagCounter += 1
        return "r\(getpid())x\(tagCounter)"
    }

    func freshDirectory(_ name: String) -> String {
        let path = "\(workDirectory)/\(name)-\(nextTag())"
        try? FileManager.default.removeItem(atPath: path)
        return path
    }

    /// Where a run's events go: a topic per run (a stream per run on NATS).
    private func destination(_ server: PeerServer, tag: String) throws -> (topic: String, stream: String?) {
        switch server.kind.wire {
        case .tether, .sse, .socketio: return ("bench-\(tag)", nil)
        case .mqtt: return ("bench/\(tag)", nil)
        case .nats:
            let stream = "B\(tag)"
            try natsAdmin(server) { admin in
                admin.request("$JS.API.STREAM.CREATE.\(stream)", """
                    {"name":"\(stream)","subjects":["\(stream).>"],"storage":"file","retention":"limits","discard":"old","num_replicas":1}
                    """)
            }
            return ("\(stream).e", stream)
        }
    }

    /// One JetStream API exchange on a short-lived connection, retried while JetStream starts.
    @discardableResult
    func natsAdmin(_ server: PeerServer, _ body: @escaping @Sendable (NATSClient) -> EventLoopFuture<String>) throws -> String {
        var last = ""
        for _ in 0..<50 {
            let settings = ClientSettings(port: server.port, clientID: "admin-\(nextTag())", topic: "admin")
            let loop = self.loop
            do {
                let reply = try loop.flatSubmit {
                    PeerClient.connect(.nats, settings, loop: loop).flatMap { client in
                        body(client as! NATSClient).always { _ in _ = client.close() }
                    }
                }.wait()
                if !reply.contains("\"error\"") { return reply }
                last = reply
            } catch {
                last = "\(error)"
            }
            usleep(100_000)
        }
        throw PeerError("JetStream request failed: \(last)")
    }

    func connect(_ server: PeerServer, _ settings: ClientSettings, wire: WireProtocol? = nil,
                 configure: @escaping @Sendable (PeerClient) -> Void = { _ in }) throws -> PeerClient {
        let loop = self.loop
        let wire = wire ?? server.kind.wire
        return try loop.flatSubmit { PeerClient.connect(wire, settings, loop: loop, configure: configure) }.wait()
    }

    /// Publishes `events` and returns once every one is confirmed.
    func produce(_ server: PeerServer, topic: String, events: Int, rate: Double?) throws {
        let settings = ClientSettings(port: server.port, clientID: "producer-\(nextTag())", topic: topic)
        let client = try connect(server, settings, wire: server.kind.producerWire)
        let producer = try loop.submit { Producer(client: client, events: events, rate: rate) }.wait()
        let timeout = sizes.timeout
        defer { _ = try? loop.flatSubmit { client.close() }.wait() }
        try loop.flatSubmit {
            producer.start(timeout: .seconds(timeout))
            return producer.done.futureResult
        }.wait()
    }

    // MARK: figure 1-3: fan-out with acks, latency, CPU

    struct FanOut {
        var deliveriesPerSecond: Double
        var serverCPUMicrosPerDelivery: Double
        /// The share of the server's CPU spent in the kernel (stime), in percent.
        var serverSystemPercent: Double
        var generatorCPUMicrosPerDelivery: Double
        /// Deliveries ÷ frames that carried events, as the subscribers counted them; nil where
        /// the subscriber does not count frames (every protocol but Tether's WebSocket).
        var eventsPerFrame: Double?
        var seconds: Double
        var missing: Int
        var duplicates: Int
        var outOfOrder: Int
        var errors: [String]
        var latencies: [Double]
    }

    /// One producer to `subscribers` subscribers of a fresh topic. `batch: false` makes Tether's
    /// WebSocket subscribers leave `batch` out of their hello; `stock` runs them as the stock
    /// Python client instead of the native generator (both only for Tether's WebSocket).
    /// Latencies are collected in paced runs unless `latencies` is false (their transfer would
    /// count as generator CPU).
    func fanOut(_ server: PeerServer, subscribers: Int, events: Int, rate: Double?, ackEach: Bool = false,
                batch: Bool = true, latencies: Bool? = nil, stock: StockClient? = nil) throws -> FanOut {
        let latencies = latencies ?? (rate != nil)
        let tag = nextTag()
        let (topic, stream) = try destination(server, tag: tag)
        let processes = min(subscribers, Self.workerProcesses)
        var workers: [Worker] = []
        defer { for worker in workers { worker.kill() } }
        for index in 0..<processes {
            let count = subscribers / processes + (index < subscribers % processes ? 1 : 0)
            if let stock {
                workers.append(try stock.spawn(port: server.port, topic: topic, prefix: "stock-\(tag)-\(index)", count: count, events: events,
                                               timeout: sizes.timeout, batch: batch, latencies: latencies))
                continue
            }
            var arguments = ["--proto", server.kind.wire.rawValue, "--port", "\(server.port)", "--topic", topic,
                             "--prefix", "sub-\(tag)-\(index)", "--count", "\(count)", "--events", "\(events)",
                             "--timeout", "\(sizes.timeout)"]
            if let stream { arguments += ["--stream", stream] }
            if latencies { arguments += ["--latencies", "1"] }
            if ackEach { arguments += ["--ack-each", "1"] }
            if !batch { arguments += ["--batch", "0"] }
            workers.append(try Worker.spawn(arguments))
        }
        for worker in workers { try worker.waitReady() }
        let serverCPU = server.cpuSplit()
        let ownCPU = Clock.processCPU()
        let start = Clock.micros()
        try produce(server, topic: topic, events: events, rate: rate)
        let results = try workers.map { try $0.result() }
        let serverAfter = server.cpuSplit()
        let serverSystem = serverAfter.system - serverCPU.system
        let serverUsed = serverAfter.user - serverCPU.user + serverSystem
        let generatorUsed = Clock.processCPU() - ownCPU + results.reduce(0) { $0 + ($1["cpu_seconds"] as? Double ?? 0) }
        let delivered = results.reduce(0) { $0 + ($1["received"] as? Int ?? 0) }
        let frames = results.reduce(0) { $0 + ($1["frames"] as? Int ?? 0) }
        let last = results.map { $0["last_micros"] as? Int64 ?? Int64($0["last_micros"] as? Int ?? 0) }.max() ?? start
        let seconds = Double(last - start) / 1_000_000
        if let stream { _ = try? natsAdmin(server) { $0.request("$JS.API.STREAM.DELETE.\(stream)", "") } }
        return FanOut(
            deliveriesPerSecond: Double(delivered) / seconds,
            serverCPUMicrosPerDelivery: serverUsed * 1e6 / Double(max(1, delivered)),
            serverSystemPercent: 100 * serverSystem / serverUsed,
            generatorCPUMicrosPerDelivery: generatorUsed * 1e6 / Double(max(1, delivered)),
            eventsPerFrame: frames > 0 ? Double(delivered) / Double(frames) : nil,
            seconds: seconds,
            missing: results.reduce(0) { $0 + ($1["missing"] as? Int ?? 0) },
            duplicates: results.reduce(0) { $0 + ($1["duplicates"] as? Int ?? 0) },
            outOfOrder: results.reduce(0) { $0 + ($1["out_of_order"] as? Int ?? 0) },
            errors: results.flatMap { $0["errors"] as? [String] ?? [] },
            latencies: results.flatMap { $0["latencies_ms"] as? [Double] ?? [] }
        )
    }

    // MARK: figure 4: replay after reconnect

    struct Replay {
        var milliseconds: Double
        var missing: Int
        var duplicates: Int
        var outOfOrder: Int
    }

    func replay(_ server: PeerServer) throws -> Replay {
        let tag = nextTag()
        let (topic, stream) = try destination(server, tag: tag)
        var settings = ClientSettings(port: server.port, clientID: "replay-\(tag)", topic: topic)
        settings.subscribe = true
        settings.stream = stream
        let first = try connect(server, settings)
        if let sse = first as? TetherSSEClient, !sizes.sseCursorResume {
            // As EventSource does: resume from the last id seen (here the welcome's head), since
            // SSE has no acks and the relay's cursor counts events merely written as acknowledged.
            settings.lastEventID = try loop.submit { sse.welcomeID }.wait()
        }
        if let socketIO = first as? TetherSocketIOClient {
            // As a seed dashboard does: resume with the last sequence seen (here the head from
            // `connection_established`); the relay answers with one `event_replay`.
            settings.lastSequence = try loop.submit { socketIO.lastSequence }.wait()
        }
        try loop.flatSubmit { first.close() }.wait()
        let events = sizes.replayEvents
        try produce(server, topic: topic, events: events, rate: nil)
        let loop = self.loop
        let state = try loop.submit { SubscriberState(count: 1, events: events, latencies: false, loop: loop) }.wait()
        let start = Clock.micros()
        let second = try connect(server, settings) { client in client.onEvent = { state.record(0, $0) } }
        loop.scheduleTask(in: .seconds(10)) { state.finish() }
        try state.done.futureResult.wait()
        usleep(100_000)  // late duplicates still count
        let tally = try loop.submit { state.tallies[0] }.wait()
        try loop.flatSubmit { second.close() }.wait()
        if let stream { _ = try? natsAdmin(server) { $0.request("$JS.API.STREAM.DELETE.\(stream)", "") } }
        let end = tally.complete ? tally.lastMicros : Clock.micros()
        return Replay(milliseconds: Double(end - start) / 1000, missing: tally.missing, duplicates: tally.duplicates, outOfOrder: tally.outOfOrder)
    }

    // MARK: figure 5: memory per idle connection

    struct Idle {
        var kbPerConnection: Double
        var rssBeforeKB: Int
        var rssAfterKB: Int
        var opened: Int
        /// Relay CPU over the idle window, in % of one core (nil: not measured in this run).
        var cpuPercent: Double?
    }

    /// Opens `connections` idle subscribers on a fresh server and reads its memory 1 s after the
    /// last; with `cpuWindow`, then also its CPU over that many seconds (pings and timers only:
    /// nothing is published).
    func idle(_ kind: PeerServer.Kind, connections: Int, cpuWindow: Double? = nil) throws -> Idle {
        let server = try PeerServer(kind: kind, directory: freshDirectory("idle-\(kind.rawValue)"), tether: tether)
        defer { server.stop() }
        usleep(500_000)
        let before = server.rssKB()
        let loop = self.loop
        let port = server.port
        let opener = try loop.submit { IdleOpener(server: port, wire: kind.wire, total: connections, loop: loop) }.wait()
        let timeout = sizes.timeout
        try loop.flatSubmit { opener.start(timeout: .seconds(timeout)) }.wait()
        usleep(1_000_000)
        let after = server.rssKB()
        var cpuPercent: Double?
        if let cpuWindow {
            let cpuBefore = server.cpuSeconds()
            let start = Clock.seconds()
            usleep(useconds_t(cpuWindow * 1_000_000))
            let elapsed = Clock.seconds() - start
            cpuPercent = 100 * (server.cpuSeconds() - cpuBefore) / elapsed
            let open = try loop.submit { opener.clients.filter { $0.context != nil }.count }.wait()
            if open != connections { throw PeerError("\(connections - open) idle connections closed during the CPU window") }
        }
        try loop.flatSubmit { opener.closeAll() }.wait()
        return Idle(kbPerConnection: Double(after - before) / Double(connections), rssBeforeKB: before, rssAfterKB: after, opened: connections,
                    cpuPercent: cpuPercent)
    }

    // MARK: figure 6: accepted events after SIGKILL

    struct Survival {
        var accepted: Int
        var present: Int
    }

    func survival(_ kind: PeerServer.Kind) throws -> Survival {
        let server = try PeerServer(kind: kind, directory: freshDirectory("kill-\(kind.rawValue)"), tether: tether)
        defer { server.stop() }
        let tag = nextTag()
        let (topic, stream) = try destination(server, tag: tag)
        var settings = ClientSettings(port: server.port, clientID: "kill-\(tag)", topic: topic)
        settings.subscribe = true
        if kind == .mosquitto {
            // MQTT keeps messages only for sessions that exist: subscribe, then go away.
            let first = try connect(server, settings)
            try loop.flatSubmit { first.close() }.wait()
        }
        let events = sizes.killEvents
        try produce(server, topic: topic, events: events, rate: nil)
        try server.restartAfterKill(tether: tether)
        if let stream {
            let info = try natsAdmin(server) { $0.request("$JS.API.STREAM.INFO.\(stream)", "") }
            guard let range = info.range(of: "\"messages\":") else { throw PeerError("no message count in \(info.prefix(200))") }
            return Survival(accepted: events, present: Int(info[range.upperBound...].prefix { $0.isNumber }) ?? -1)
        }
        settings.port = server.port
        if kind.isTether {
            settings.clientID = "count-\(tag)"
            settings.lastSequence = 0
        }
        let loop = self.loop
        let state = try loop.submit { SubscriberState(count: 1, events: events, latencies: false, loop: loop) }.wait()
        let counter = try connect(server, settings) { client in client.onEvent = { state.record(0, $0) } }
        loop.scheduleTask(in: .seconds(3)) { state.finish() }
        try state.done.futureResult.wait()
        let tally = try loop.submit { state.tallies[0] }.wait()
        try loop.flatSubmit { counter.close() }.wait()
        return Survival(accepted: events, present: tally.unique)
    }
}
