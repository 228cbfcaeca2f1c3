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

    static let numberSeeds = ["42", "0", "9223372036854775807", "1e3", "\"12\"", "0.5", "-7", "12345678901234567890"]

    /// Whatever `ClientSequence` accepts, from random mutations and from every numeric edge in
    /// every number position, is a sequence a store can hold (at most 2^63 − 1) and is exactly the
    /// number the text says: digits for `parse(_:)`, or a whole double up to 2^53 for `parse(json:)`.
    @Test func clientSequenceAcceptsOnlyExactWholeNumbersUpTo2pow63Minus1() {
        var generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 6, seeds: Self.numberSeeds)
        let inputs = generator.numericEdgeVariants + (0..<HostileInputGenerator.caseCount(default: 20_000)).map { _ in generator.input() }
        var accepted = 0
        var refused = 0
        for input in inputs {
            let text = String(decoding: input, as: UTF8.self)
            // A frame's bytes (an ack's `seq`) are read as the same number as their text.
            #expect(ClientSequence.parse(digits: input) == ClientSequence.parse(text), "\(text)")
            if let value = ClientSequence.parse(text) {
                #expect(value <= ClientSequence.max, "\(text) read as \(value)")
                #expect(text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && UInt64(text) == value, "\(text) read as \(value)")
                accepted += 1
            } else {
                refused += 1
            }
            if let value = ClientSequence.parse(json: text) {
                #expect(value <= ClientSequence.max, "\(text) read as \(value)")
                if ClientSequence.parse(text) != value {
                    #expect(value <= 1 << 53 && Double(text) == Double(value), "\(text) read as \(value)")
                }
            }
        }
        #expect(accepted > 0)
        #expect(refused > 0)
        // The edges themselves, exactly.
        #expect(ClientSequence.parse("9223372036854775807") == ClientSequence.max)
        for refusedEdge in ["9223372036854775808", "18446744073709551615", "18446744073709551616", "-0", "+1", " 1", "1e3", "0x10", ""] {
            #expect(ClientSequence.parse(refusedEdge) == nil, "\(refusedEdge)")
        }
        #expect(ClientSequence.parse(json: "1e3") == 1000)
        #expect(ClientSequence.parse(json: "9007199254740992.0") == 1 << 53)
        for refusedEdge in ["9223372036854775808", "1e19", "1e400", "-1", "-0", "1.5", "NaN", "Infinity", "0x10", "\"12\""] {
            #expect(ClientSequence.parse(json: refusedEdge) == nil, "\(refusedEdge)")
        }
    }

    @Test func publishRequestDecoderHoldsUpUnderNumericEdges() {
        let decoder = PublishRequestDecoder(limits: IngestLimits())
        let generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed, seeds: Self.seeds)
        for input in generator.numericEdgeVariants {
            do {
                for draft in try decoder.decode(input, format: .json) {
                    #expect((try? JSONScanner(maxDepth: 64).validateDocument(draft.data, in: draft.data.indices)) != nil)
                }
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }

    @Test func sameSeedSameInputs() {
        var a = HostileInputGenerator(seed: 42, seeds: Self.seeds)
        var b = HostileInputGenerator(seed: 42, seeds: Self.seeds)
        for _ in 0..<100 { #expect(a.input() == b.input()) }
    }
}
