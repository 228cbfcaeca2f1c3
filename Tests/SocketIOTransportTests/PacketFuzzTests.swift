import Testing
import TetherCore
import TetherTesting
@testable import SocketIOTransport

/// Bounded, seeded fuzzing of the Engine.IO and Socket.IO decoders: every input is decoded or
/// refused with the protocol's typed error, never a crash; numbers in `auth` and in the seed's
/// requests become sequences of at most 2^63 − 1 or are refused. `make fuzz` runs many more cases.
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

    static let authSeeds = [
        #"{"client_id":"c-1","last_sequence":5,"history":3,"epoch":"e"}"#, #"{"last_sequence":"12"}"#,
        #"{"pid":"c-1.t","offset":"e:42"}"#, #"{"last_sequence":1e3,"history":2.0}"#,
    ]
    static let requestSeeds = [#"{"last_sequence":5}"#, #"{"from_sequence":"7"}"#, #"{"sequence":12}"#, "3", #""4""#]

    @Test func socketIOPacketsDecodeOrRefuseWithTypedError() {
        var generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 3, seeds: Self.socketIOSeeds)
        var decoded = 0
        var refused = 0
        let inputs = (0..<HostileInputGenerator.caseCount(default: 20_000)).map { _ in generator.input() } + generator.numericEdgeVariants
        for input in inputs {
            do {
                let packet = try SocketIOPacket.decode(input)
                #expect((packet.ackID ?? 0) < 1_000_000_000_000_000, "\(String(decoding: input, as: UTF8.self))")
                decoded += 1
            } catch {
                #expect(!error.description.isEmpty)
                refused += 1
            }
        }
        #expect(decoded > 0)
        #expect(refused > 0)
    }

    /// `auth` and the seed's request members (`last_sequence`, `from_sequence`, `sequence`) are
    /// read or refused with `malformed`; whatever is read is a sequence a store can hold.
    @Test func socketIONumbersAreReadAsSequencesUpTo2pow63Minus1OrRefused() {
        var auth = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 7, seeds: Self.authSeeds)
        var requests = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 8, seeds: Self.requestSeeds)
        var read = 0
        var refused = 0
        let count = HostileInputGenerator.caseCount(default: 20_000)
        for input in (0..<count).map({ _ in auth.input() }) + auth.numericEdgeVariants {
            guard (try? JSONScanner().validateDocument(input, in: input.indices)) != nil, input.first == UInt8(ascii: "{") else { continue }
            do {
                let parsed = try TetherAuth(input, defaultHistory: 50)
                #expect((parsed.hello.lastSequence ?? 0) <= ClientSequence.max, "\(String(decoding: input, as: UTF8.self))")
                #expect((parsed.hello.history ?? 0) >= 0)
                read += 1
            } catch {
                #expect(error.code == .malformed)
                refused += 1
            }
        }
        for input in (0..<count).map({ _ in requests.input() }) + requests.numericEdgeVariants {
            guard (try? JSONScanner().validateDocument(input, in: input.indices)) != nil else { continue }
            for key in ["last_sequence", "from_sequence", "sequence"] {
                do {
                    if let value = try SeedRequests.number(key, in: [input]) {
                        #expect(value <= ClientSequence.max, "\(key) of \(String(decoding: input, as: UTF8.self))")
                        read += 1
                    }
                } catch {
                    #expect(error.code == .malformed)
                    refused += 1
                }
            }
        }
        #expect(read > 0)
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
