import Foundation
import Testing
import TetherCore
import TetherTesting
@testable import WebSocketTransport

/// Bounded, seeded fuzzing of the WebSocket client frame decoder: every frame is decoded or
/// refused with a `RelayError`, never a crash, and every sequence it accepts is at most 2^63 − 1.
/// `make fuzz` runs many more cases.
@Suite("WebSocket frame fuzzing (bounded, seeded)")
struct ClientFrameFuzzTests {
    static let seeds = [
        #"{"type":"hello","client_id":"c-1","resume_token":"t","last_sequence":5,"epoch":"abc","topics":["a","b"],"history":3}"#,
        #"{"type":"ack","seq":12}"#,
        #"{"type":"ping","id":7}"#,
        #"{"type":"pong","id":"x"}"#,
        #"{"type":"publish","id":"p-1","topic":"a","data":{"k":[1,2]}}"#,
        #"{"type":"stats"}"#,
        #"{"type":"nope"}"#,
    ]

    @Test func everyFrameIsDecodedOrRefusedWithARelayError() {
        let scanner = JSONScanner(maxDepth: 64)
        var generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 2, seeds: Self.seeds)
        var decoded = 0
        var refused = 0
        // Random mutations, then every numeric edge in every number position of every seed.
        let inputs = (0..<HostileInputGenerator.caseCount(default: 20_000)).map { _ in generator.input() } + generator.numericEdgeVariants
        for input in inputs {
            do {
                switch try ClientFrame.parse(input, scanner: scanner) {
                case .hello(let hello, _):
                    #expect((hello.lastSequence ?? 0) <= ClientSequence.max, "\(String(decoding: input, as: UTF8.self))")
                    #expect((hello.history ?? 0) >= 0)
                case .ack(let seq):
                    #expect(seq <= ClientSequence.max, "\(String(decoding: input, as: UTF8.self))")
                default: break
                }
                decoded += 1
            } catch {
                #expect(!error.code.rawValue.isEmpty)
                refused += 1
            }
        }
        #expect(decoded > 0)
        #expect(refused > 0)
    }

    /// A publish frame is parsed once: the envelope is read from the members the frame parser
    /// already scanned. For every publish frame the fuzzer makes, that gives the very draft (or
    /// the very refusal) that decoding the frame from scratch as a publish body gives.
    @Test func aPublishReadFromItsScannedMembersEqualsAFullDecode() {
        let scanner = JSONScanner(maxDepth: 64)
        let decoder = PublishRequestDecoder()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 3, seeds: [Self.seeds[4]])
        var compared = 0
        for input in (0..<HostileInputGenerator.caseCount(default: 5_000)).map({ _ in generator.input() }) + [Array(Self.seeds[4].utf8)] {
            guard case .publish(_, let members)? = try? ClientFrame.parse(input, scanner: scanner) else { continue }
            let once: Result<EventDraft, RelayError>
            let twice: Result<EventDraft, RelayError>
            do { once = .success(try decoder.draft(input, members: members, now: now)) } catch { once = .failure(error) }
            do { twice = .success(try decoder.decode(input, format: .json, now: now)[0]) } catch { twice = .failure(error) }
            #expect(once == twice, "\(String(decoding: input, as: UTF8.self))")
            compared += 1
        }
        #expect(compared > 100)
    }
}
