import Testing
import TetherTesting
@testable import TetherCore

/// Bounded, seeded fuzzing of the core decoders: every input is accepted or refused with a typed
/// error (`RelayError`, `JSONSyntaxError`), never a crash. `make fuzz` runs many more cases.
@Suite("Decoder fuzzing (bounded, seeded)")
struct DecoderFuzzTests {
    static let seeds = [
        #"{"topic":"a","data":{"x":[1,2.5,-3e2,"s\u00e9\n",true,false,null]}}"#,
        #"[{"topic":"a","data":1,"id":"p-1"},{"topic":"b","data":"two"}]"#,
        "{\"topic\":\"a\",\"data\":1}\n{\"topic\":\"b\"}\n",
        #"{"topic":"\ud83d\ude00","data":[[[[[]]]]]}"#,
        #"{"topic":"","data":{}}"#,
    ]

    @Test func publishRequestDecoderAcceptsOrRefusesEveryInput() {
        var limits = IngestLimits()
        limits.maxDepth = 32
        limits.maxEventBytes = 4096
        let decoder = PublishRequestDecoder(limits: limits)
        var generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed, seeds: Self.seeds)
        var accepted = 0
        var refused: [String: Int] = [:]
        for _ in 0..<HostileInputGenerator.caseCount(default: 20_000) {
            let input = generator.input()
            for format in [PublishRequestDecoder.Format.json, .ndjson] {
                do {
                    let drafts = try decoder.decode(input, format: format)
                    // Whatever is accepted must hold up: a topic, and data that is itself valid JSON.
                    for draft in drafts {
                        #expect(!draft.topic.isEmpty)
                        #expect((try? JSONScanner(maxDepth: 64).validateDocument(draft.data, in: draft.data.indices)) != nil)
                    }
                    accepted += 1
                } catch {
                    refused[error.code.rawValue, default: 0] += 1
                    #expect(!error.message.isEmpty)
                }
            }
        }
        // The generator must exercise both outcomes, or it is not testing much.
        #expect(accepted > 0)
        #expect(refused["malformed", default: 0] > 0)
    }

    @Test func jsonScannerValidatesOrThrowsTypedError() {
        let scanner = JSONScanner(maxDepth: 64)
        var generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 1, seeds: Self.seeds)
        for _ in 0..<HostileInputGenerator.caseCount(default: 20_000) {
            let input = generator.input()
            do {
                let value = try scanner.validateDocument(input, in: input.indices)
                #expect(value.lowerBound >= 0 && value.upperBound <= input.count)
                if input[value.lowerBound] == UInt8(ascii: "{") {
                    _ = try scanner.members(ofObject: input, in: value)
                } else if input[value.lowerBound] == UInt8(ascii: "[") {
                    _ = try scanner.elements(ofArray: input, in: value)
                } else if input[value.lowerBound] == UInt8(ascii: "\"") {
                    _ = try JSONScanner.decodeString(input, quoted: value)
                }
            } catch {
                #expect(error.offset >= 0)
            }
        }
    }

    @Test func sameSeedSameInputs() {
        var a = HostileInputGenerator(seed: 42, seeds: Self.seeds)
        var b = HostileInputGenerator(seed: 42, seeds: Self.seeds)
        for _ in 0..<100 { #expect(a.input() == b.input()) }
    }
}
