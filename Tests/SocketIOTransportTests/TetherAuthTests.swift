import Testing
import TetherCore
@testable import SocketIOTransport

/// How CONNECT auth becomes a relay hello.
@Suite struct TetherAuthTests {
    @Test func seedAuthWithLastSequenceResumes() throws {
        let auth = try TetherAuth(Array(#"{"client_id":"dash-1","last_sequence":41}"#.utf8), defaultHistory: 50)
        #expect(auth.mode == .seedResume)
        #expect(auth.hello.clientID == "dash-1")
        #expect(auth.hello.lastSequence == 41)
        #expect(auth.hello.history == nil)
    }

    @Test func seedAuthWithZeroStartsFreshWithHistory() throws {
        let auth = try TetherAuth(Array(#"{"client_id":"dash-1","last_sequence":0}"#.utf8), defaultHistory: 50)
        #expect(auth.mode == .fresh)
        #expect(auth.hello.lastSequence == nil)
        #expect(auth.hello.history == 50)
    }

    @Test func lastSequenceStoredAsTextIsAccepted() throws {
        let auth = try TetherAuth(Array(#"{"last_sequence":"7"}"#.utf8), defaultHistory: 0)
        #expect(auth.hello.lastSequence == 7)
    }

    @Test func stockRecoveryUsesPidAndOffset() throws {
        let pid = TetherAuth.pid(clientID: "c-1.x", token: "abcdef")
        let auth = try TetherAuth(Array(#"{"pid":"\#(pid)","offset":"e1:99"}"#.utf8), defaultHistory: 50)
        #expect(auth.mode == .recovery)
        #expect(auth.hello.clientID == "c-1.x")
        #expect(auth.hello.resumeToken == "abcdef")
        #expect(auth.hello.epoch == Epoch(rawValue: "e1"))
        #expect(auth.hello.lastSequence == 99)
    }

    @Test(arguments: [#"{"last_sequence":-1}"#, #"{"client_id":5}"#, #"{"topics":7}"#, "[]"])
    func wrongTypesAreRefusedWithTheMemberNamed(_ json: String) {
        #expect(throws: RelayError.self) { try TetherAuth(Array(json.utf8), defaultHistory: 0) }
    }
}
