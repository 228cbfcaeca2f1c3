import Testing
import TetherCore
import TetherTesting
@testable import SocketIOTransport

/// Bounded, seeded fuzzing of the Engine.IO and Socket.IO decoders: every input is decoded or
/// refused with the protocol's typed error, never a crash. `make fuzz` runs many more cases.
@Suite("Engine.IO / Socket.IO packet fuzzing (bounded, seeded)")
struct PacketFuzzTests {
    static let socketIOSeeds = [
        #"0{"token":"abc"}"#, #"0/admin,{"x":1}"#, #"2["event",{"a":1}]"#, #"2/ns,17["publish",{"topic":"t","data":[1]}]"#,
        #"3/ns,17[{"ok":true}]"#, "1", #"4{"message":"no"}"#, #"51-["upload",{"_placeholder":true,"num":0}]"#,
    ]
    static let engineSeeds = [
        "4hello\u{1e}bAQIDBA==\u{1e}2\u{1e}3probe", "0{\"sid\":\"x\"}", "1", "2probe", "6", "5", "40",
        "42[\"publish\",{\"topic\":\"a\",\"data\":1}]",
    ]

    @Test func socketIOPacketsDecodeOrRefuseWithTypedError() {
        var generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 3, seeds: Self.socketIOSeeds)
        var decoded = 0
        var refused = 0
        for _ in 0..<HostileInputGenerator.caseCount(default: 20_000) {
            do {
                _ = try SocketIOPacket.decode(generator.input())
                decoded += 1
            } catch {
                #expect(!error.description.isEmpty)
                refused += 1
            }
        }
        #expect(decoded > 0)
        #expect(refused > 0)
    }

    @Test func enginePayloadsDecodeOrRefuseWithTypedError() {
        var generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 4, seeds: Self.engineSeeds)
        var decoded = 0
        var refused = 0
        for index in 0..<HostileInputGenerator.caseCount(default: 20_000) {
            let input = generator.input()
            do {
                if index % 2 == 0 {
                    _ = try EnginePacket.decodePayload(input)
                } else {
                    _ = try EnginePacket.decode(input[...], allowBase64: index % 4 == 1)
                }
                decoded += 1
            } catch {
                #expect(!error.description.isEmpty)
                refused += 1
            }
        }
        #expect(decoded > 0)
        #expect(refused > 0)
    }
}
