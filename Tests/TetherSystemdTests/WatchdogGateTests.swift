import Foundation
import Testing
import TetherSystemd

@Suite struct WatchdogGateTests {
    @Test func pingsOnlyForAProofNewerThanTheLastPinged() {
        var gate = WatchdogGate()
        let t0 = Date(timeIntervalSince1970: 1000)
        #expect(gate.decide(proof: nil) == .withhold(1))
        #expect(gate.decide(proof: t0) == .recovered)
        #expect(gate.decide(proof: t0) == .withhold(1))
        #expect(gate.decide(proof: t0) == .withhold(2))
        #expect(gate.decide(proof: t0.addingTimeInterval(-1)) == .withhold(3))
        #expect(gate.decide(proof: t0.addingTimeInterval(1)) == .recovered)
        #expect(gate.decide(proof: t0.addingTimeInterval(2)) == .ping)
    }

    @Test func firstProofIsAPlainPing() {
        var gate = WatchdogGate()
        #expect(gate.decide(proof: Date()) == .ping)
    }
}
