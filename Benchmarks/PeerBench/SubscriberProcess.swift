import Foundation
import NIOCore
import NIOPosix

/// `tether-peer-bench subscribe`: one load-generator process holding `count` subscriber
/// connections on one event-loop thread. Prints `ready` once every connection is subscribed,
/// then one JSON line when each has received the run's `events` (or the timeout passed).
enum SubscriberProcess {
    static func run(_ options: [String: String]) throws {
        guard let proto = options["proto"].flatMap(WireProtocol.init(rawValue:)), let port = options["port"].flatMap(Int.init),
              let topic = options["topic"], let prefix = options["prefix"], let count = options["count"].flatMap(Int.init),
              let events = options["events"].flatMap(Int.init) else {
            throw PeerError("subscribe needs --proto --port --topic --prefix --count --events")
        }
        let latencies = options["latencies"] == "1"
        let timeout = Int64(options["timeout"].flatMap(Int.init) ?? 120)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let state = SubscriberState(count: count, events: events, latencies: latencies, loop: loop)
        // A subscriber process never outlives the run that started it (Glibc does not offer
        // prctl's PR_SET_PDEATHSIG to Swift, so it watches for being orphaned).
        let parent = getppid()
        loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            if getppid() != parent { exit(1) }
        }
        var connections: [EventLoopFuture<PeerClient>] = []
        for index in 0..<count {
            var settings = ClientSettings(port: port, clientID: "\(prefix)-\(index)", topic: topic)
            settings.subscribe = true
            settings.stream = options["stream"]
            settings.ackEach = options["ack-each"] == "1"
            settings.batch = options["batch"] != "0"
            let fixed = settings
            connections.append(loop.flatSubmit {
                PeerClient.connect(proto, fixed, loop: loop) { client in
                    client.onEvent = { frame in state.record(index, frame) }
                    client.onError = { message in state.error(message) }
                }
            })
        }
        let clients = try EventLoopFuture.whenAllSucceed(connections, on: loop).wait()
        let cpuAtReady = Clock.processCPU()
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        loop.scheduleTask(in: .seconds(timeout)) { state.finish() }
        try state.done.futureResult.wait()
        let cpu = Clock.processCPU() - cpuAtReady
        let result = try loop.submit {
            try JSONSerialization.data(withJSONObject: state.result(cpu: cpu, frames: clients.reduce(0) { $0 + $1.eventFrames }))
        }.wait()
        try? EventLoopFuture.andAllComplete(clients.map { client in loop.flatSubmit { client.close() } }, on: loop).wait()
        FileHandle.standardOutput.write(result + Data("\n".utf8))
        try? group.syncShutdownGracefully()
    }
}
