import Foundation

/// Issue 16's runs against one started server, in one run of the benchmark: the paced runs
/// (every server), and for Tether's WebSocket the client without `batch` and the stock Python
/// client. Each figure is attempted on its own: one that fails is reported as an error and the
/// others still run. Integrity counts go to the checks "paced", "no batch" and "stock client".
struct ClientVariantRuns {
    let coordinator: Coordinator
    let sizes: Coordinator.Sizes
    /// nil: the stock client was turned off (`--stock 0`); a failure: why it cannot run.
    let stock: Result<StockClient, PeerError>?

    func measure(_ server: PeerServer, run: Int, into results: inout Results) {
        let kind = server.kind
        func attempt(_ what: String, _ body: () throws -> Void) {
            coordinator.progress("\(kind.rawValue) run \(run)/\(sizes.runs): \(what)")
            do { try body() } catch {
                results.errors.append("\(kind.rawValue) \(what) (run \(run)): \(error)")
                coordinator.progress("\(kind.rawValue) \(what) FAILED: \(error)")
            }
        }
        func record(_ check: String, _ fan: Coordinator.FanOut, _ what: String) {
            results.count(kind, check, missing: fan.missing, duplicates: fan.duplicates, outOfOrder: fan.outOfOrder)
            if !fan.errors.isEmpty { results.errors.append("\(kind.rawValue) \(what): \(fan.errors.prefix(2))") }
        }
        let pacedEvents = max(1, Int(sizes.pacedRate * sizes.pacedSeconds))

        // Paced: what a relay feeding dashboards sees, where batching has little to work with.
        for subscribers in sizes.paced {
            attempt("paced \(Int(sizes.pacedRate)) events/s × \(subscribers)") {
                let fan = try coordinator.fanOut(server, subscribers: subscribers, events: pacedEvents, rate: sizes.pacedRate, latencies: false)
                results.add(kind, "paced_cpu_\(subscribers)", fan.serverCPUMicrosPerDelivery)
                results.add(kind, "paced_gen_\(subscribers)", fan.generatorCPUMicrosPerDelivery)
                if let epf = fan.eventsPerFrame { results.add(kind, "paced_epf_\(subscribers)", epf) }
                record("paced", fan, "paced × \(subscribers)")
            }
        }
        guard kind.wire == .tether else { return }

        // The native generator's client that never asked for `batch`: one `event` frame per event.
        attempt("fan-out 1 → 10 without batch") {
            let fan = try coordinator.fanOut(server, subscribers: 10, events: max(1, sizes.deliveries / 10), rate: nil, batch: false)
            results.add(kind, "nobatch_cpu_10", fan.serverCPUMicrosPerDelivery)
            results.add(kind, "nobatch_gen_10", fan.generatorCPUMicrosPerDelivery)
            record("no batch", fan, "fan-out 1 → 10 without batch")
        }

        guard let stock else { return }
        let client: StockClient
        switch stock {
        case .success(let found): client = found
        case .failure(let error):
            results.errors.append("\(kind.rawValue) stock client (run \(run)): not measured: \(error)")
            return
        }
        for batch in [true, false] {
            let name = batch ? "stock" : "stock_nobatch"
            attempt("stock client 1 → 10\(batch ? "" : " without batch")") {
                let fan = try coordinator.fanOut(server, subscribers: 10, events: max(1, sizes.stockDeliveries / 10), rate: nil,
                                                 batch: batch, stock: client)
                results.add(kind, "\(name)_cpu_10", fan.serverCPUMicrosPerDelivery)
                results.add(kind, "\(name)_gen_10", fan.generatorCPUMicrosPerDelivery)
                if batch, let epf = fan.eventsPerFrame { results.add(kind, "stock_epf_10", epf) }
                record(batch ? "stock client" : "no batch", fan, "stock client 1 → 10\(batch ? "" : " without batch")")
            }
        }
        for subscribers in sizes.paced {
            attempt("stock client, paced \(Int(sizes.pacedRate)) events/s × \(subscribers)") {
                let fan = try coordinator.fanOut(server, subscribers: subscribers, events: pacedEvents, rate: sizes.pacedRate,
                                                 latencies: false, stock: client)
                results.add(kind, "stock_paced_cpu_\(subscribers)", fan.serverCPUMicrosPerDelivery)
                results.add(kind, "stock_paced_gen_\(subscribers)", fan.generatorCPUMicrosPerDelivery)
                if let epf = fan.eventsPerFrame { results.add(kind, "stock_paced_epf_\(subscribers)", epf) }
                record("stock client", fan, "stock client paced × \(subscribers)")
            }
        }
    }
}
