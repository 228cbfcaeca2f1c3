import NIOCore

/// Opens `total` idle subscriber connections, at most 200 handshakes at a time, and keeps them.
/// Confined to its event loop.
final class IdleOpener: @unchecked Sendable {
    let port: Int
    let wire: WireProtocol
    let total: Int
    let loop: any EventLoop
    var clients: [PeerClient] = []
    var started = 0
    var failure: (any Error)?
    let done: EventLoopPromise<Void>

    init(server port: Int, wire: WireProtocol, total: Int, loop: any EventLoop) {
        self.port = port
        self.wire = wire
        self.total = total
        self.loop = loop
        done = loop.makePromise()
    }

    func start(timeout: TimeAmount) -> EventLoopFuture<Void> {
        for _ in 0..<min(200, total) { openNext() }
        loop.scheduleTask(in: timeout) { [self] in
            done.fail(PeerError("\(clients.count) of \(total) idle connections opened before the timeout"))
        }
        return done.futureResult
    }

    private func openNext() {
        guard started < total, failure == nil else { return }
        var settings = ClientSettings(port: port, clientID: "idle-\(started)", topic: wire == .mqtt ? "idle/topic" : "idle")
        settings.subscribe = true
        started += 1
        PeerClient.connect(wire, settings, loop: loop).whenComplete { [self] result in
            switch result {
            case .success(let client):
                clients.append(client)
                if clients.count == total { done.succeed() } else { openNext() }
            case .failure(let error):
                failure = error
                done.fail(PeerError("idle connection \(clients.count + 1) of \(total) failed: \(error)"))
            }
        }
    }

    func closeAll() -> EventLoopFuture<Void> {
        EventLoopFuture.andAllComplete(clients.map { $0.close() }, on: loop)
    }
}
