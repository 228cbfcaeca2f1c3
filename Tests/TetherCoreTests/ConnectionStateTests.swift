import Testing
import TetherTesting
import TetherCore

@Suite struct ConnectionStateTests {
    @Test func theDocumentedLifecycleIsAllowed() {
        let path: [ConnectionState] = [.connecting, .connected, .stale, .connected, .disconnected, .reconnecting, .connected, .disconnected, .reconnecting, .failed, .connecting]
        for (from, to) in zip(path, path.dropFirst()) {
            #expect(from.canMove(to: to), "\(from) → \(to) should be allowed")
        }
    }

    @Test(arguments: [
        (ConnectionState.connecting, ConnectionState.stale), (.disconnected, .connected), (.disconnected, .stale),
        (.failed, .connected), (.connected, .reconnecting), (.stale, .failed), (.connected, .connecting),
    ])
    func shortcutsAreRefused(from: ConnectionState, to: ConnectionState) {
        #expect(!from.canMove(to: to))
    }

    @Test func noStateMovesToItself() {
        for state in ConnectionState.allCases { #expect(!state.canMove(to: state)) }
    }
}

@Suite struct QualityScoreTests {
    /// Seeded random inputs, so a failure names a reproducible case.
    static func randomInputs(_ seed: UInt64) -> QualityScore.Inputs {
        var rng = SplitMix64(seed: seed)
        let known = Double(rng.next() % 10_000) + 1
        let delivered = rng.next() % 5_000
        return QualityScore.Inputs(
            recentReconnects: Int(rng.next() % 20), delivered: delivered, acked: delivered == 0 ? 0 : rng.next() % (delivered + 1),
            overdue: Int(rng.next() % 10), connectedSeconds: Double(rng.next() % UInt64(known + 1)), knownSeconds: known,
            silentSeconds: Double(rng.next() % 200), staleTimeout: 90, rttSeconds: rng.next() % 4 == 0 ? nil : Double(rng.next() % 3000) / 1000
        )
    }

    @Test(arguments: 0..<200)
    func staysInTheUnitInterval(seed: UInt64) {
        let score = QualityScore.compute(Self.randomInputs(seed))
        #expect(score >= 0 && score <= 1)
    }

    @Test(arguments: 0..<200)
    func moreReconnectsNeverRaiseIt(seed: UInt64) {
        var inputs = Self.randomInputs(seed)
        let before = QualityScore.compute(inputs)
        inputs.recentReconnects += 1
        #expect(QualityScore.compute(inputs) <= before)
    }

    @Test(arguments: 0..<200)
    func moreAcksNeverLowerIt(seed: UInt64) {
        var inputs = Self.randomInputs(seed)
        guard inputs.acked < inputs.delivered else { return }
        let before = QualityScore.compute(inputs)
        inputs.acked += 1
        #expect(QualityScore.compute(inputs) >= before)
    }

    @Test(arguments: 0..<200)
    func slowerPingsAndLongerSilenceNeverRaiseIt(seed: UInt64) {
        var inputs = Self.randomInputs(seed)
        let before = QualityScore.compute(inputs)
        inputs.rttSeconds = (inputs.rttSeconds ?? 0) + 0.25
        inputs.silentSeconds += 10
        #expect(QualityScore.compute(inputs) <= before)
    }

    @Test func aPerfectConnectionScoresOneAndADeadOneLow() {
        let perfect = QualityScore.Inputs(delivered: 100, acked: 100, connectedSeconds: 60, knownSeconds: 60, silentSeconds: 1, rttSeconds: 0.01)
        #expect(QualityScore.compute(perfect) == 1)
        let dead = QualityScore.Inputs(recentReconnects: 30, delivered: 100, acked: 0, overdue: 100, connectedSeconds: 0, knownSeconds: 600, silentSeconds: 600, rttSeconds: 5)
        #expect(QualityScore.compute(dead) < 0.05)
    }
}
