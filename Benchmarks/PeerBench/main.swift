import Foundation

// tether-peer-bench: Tether against Mosquitto (MQTT 3.1.1, QoS 1, persistent sessions) and NATS
// JetStream (durable consumers, explicit acks), every server its own process on 127.0.0.1, the
// load generator in other processes. `subscribe` is the subscriber-process mode it spawns itself.

func options(_ arguments: ArraySlice<String>) -> [String: String] {
    var result: [String: String] = [:]
    var iterator = arguments.makeIterator()
    while let argument = iterator.next() {
        guard argument.hasPrefix("--") else { continue }
        let key = String(argument.dropFirst(2))
        if let equals = key.firstIndex(of: "=") {
            result[String(key[..<equals])] = String(key[key.index(after: equals)...])
        } else {
            result[key] = iterator.next() ?? ""
        }
    }
    return result
}

// 10,000 idle connections need as many descriptors in the generator and in each server.
var limit = rlimit()
getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
limit.rlim_cur = limit.rlim_max
setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)

let arguments = CommandLine.arguments
if arguments.count > 1, arguments[1] == "subscribe" {
    do {
        try SubscriberProcess.run(options(arguments.dropFirst(2)))
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("subscriber: \(error)\n".utf8))
        exit(1)
    }
}

let flags = options(arguments.dropFirst())
if flags["help"] != nil {
    print("""
        usage: tether-peer-bench [--smoke 1] [--runs N] [--targets tether-memory,tether-sqlite,tether-sse,tether-socketio,mosquitto,nats]
                                 [--tether PATH] [--json FILE] [--work DIR] [--deliveries N]
                                 [--sse-resume last-event-id|cursor]
                                 [--paced 10,100] [--paced-rate 1000] [--paced-seconds 5]
                                 [--stock 0|1] [--python .build-venv/bin/python] [--stock-client FILE] [--stock-deliveries N]
                                 [--idle SMALL,LARGE] [--idle-cpu N] [--idle-cpu-seconds S]
          --paced: subscriber counts of the paced runs (one producer at --paced-rate events/s for --paced-seconds)
          --stock 0: leave out the stock Python client (Tether's WebSocket as a Python `websockets` user writes it)
          --idle: the two idle-memory sizes (default 1000,10000)
          --idle-cpu: idle subscribers during the relay-CPU window (default 1,000); read in the idle-memory run of that size, or a run of its own
        """)
    exit(0)
}
Children.killOnInterrupt()
var sizes = flags["smoke"] == "1" ? Coordinator.Sizes.smoke : Coordinator.Sizes()
if let runs = flags["runs"].flatMap(Int.init) { sizes.runs = runs }
if let deliveries = flags["deliveries"].flatMap(Int.init) { sizes.deliveries = deliveries }
sizes.sseCursorResume = flags["sse-resume"] == "cursor"
if let paced = flags["paced"] { sizes.paced = paced.split(separator: ",").compactMap { Int($0) } }
if let rate = flags["paced-rate"].flatMap(Double.init) { sizes.pacedRate = rate }
if let seconds = flags["paced-seconds"].flatMap(Double.init) { sizes.pacedSeconds = seconds }
if let deliveries = flags["stock-deliveries"].flatMap(Int.init) { sizes.stockDeliveries = deliveries }
if let idle = flags["idle"] {
    let counts = idle.split(separator: ",").compactMap { Int($0) }
    guard counts.count == 2 else {
        FileHandle.standardError.write(Data("tether-peer-bench: --idle takes two sizes, e.g. 1000,10000\n".utf8))
        exit(2)
    }
    sizes.idle = counts
}
if let idle = flags["idle-cpu"].flatMap(Int.init) { sizes.idleCPUConnections = idle }
if let seconds = flags["idle-cpu-seconds"].flatMap(Double.init) { sizes.idleCPUSeconds = seconds }
let kinds = (flags["targets"] ?? PeerServer.Kind.allCases.map(\.rawValue).joined(separator: ","))
    .split(separator: ",").compactMap { PeerServer.Kind(rawValue: String($0)) }
let tether = flags["tether"] ?? ".build/release/tether"
let work = flags["work"] ?? FileManager.default.temporaryDirectory.appendingPathComponent("peer-bench-\(getpid())").path
let wantsStock = flags["stock"] != "0" && kinds.contains { $0.wire == .tether }
let stock = wantsStock ? StockClient.find(python: flags["python"], script: flags["stock-client"]) : nil
let bench = Bench(sizes: sizes, kinds: kinds, tether: tether, work: work, stock: stock)
let failed = bench.run(json: flags["json"])
// A directory given with --work is kept (server logs); the default temporary one is not.
if flags["work"] == nil { try? FileManager.default.removeItem(atPath: work) }
exit(failed ? 1 : 0)
