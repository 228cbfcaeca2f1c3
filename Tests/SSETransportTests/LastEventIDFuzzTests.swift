import Hummingbird
import HTTPTypes
import Testing
import TetherCore
import TetherTesting
@testable import SSETransport

/// Bounded, seeded fuzzing of the SSE resume request (`Last-Event-ID`, `history`, `topics`):
/// every value is read or refused with a `RelayError`, never a crash, and every sequence read is
/// at most 2^63 − 1.
@Suite("SSE Last-Event-ID fuzzing (bounded, seeded)")
struct LastEventIDFuzzTests {
    static let seeds = ["abc123:42", "42", "e:9223372036854775807", "7", "e:18446744073709551615", ":", "x:y:z", "-1", "0", "00000000000000000000000001"]

    @Test func everyLastEventIDIsReadOrRefused() {
        var generator = HostileInputGenerator(seed: HostileInputGenerator.baseSeed &+ 5, seeds: Self.seeds)
        var read = 0
        var refused = 0
        // Random mutations, then every numeric edge in every number position of every seed.
        let inputs = (0..<HostileInputGenerator.caseCount(default: 20_000)).map { _ in generator.input() }
        let edges = generator.numericEdgeVariants
        for (index, input) in (inputs + edges.flatMap { [$0, $0] }).enumerated() {  // each edge as a header and as history
            // Header values cannot hold every byte: what HTTP would refuse never reaches the parser.
            let text = String(decoding: input.filter { $0 >= 0x20 && $0 != 0x7F }, as: UTF8.self)
            var fields = HTTPFields()
            if index % 2 == 0, let name = HTTPField.Name("Last-Event-ID") { fields[name] = text }
            let history = index % 2 == 1 ? "&history=\(text.addingPercentEncodingForQuery)" : ""
            let head = HTTPRequest(method: .get, scheme: "http", authority: "127.0.0.1", path: "/v1/stream?topics=a,b" + history, headerFields: fields)
            let request = Request(head: head, body: .init(buffer: ByteBuffer()))
            do {
                let hello = try SSEResumeRequest(request).hello
                #expect((hello.lastSequence ?? 0) <= ClientSequence.max, "Last-Event-ID \(text)")
                #expect((hello.history ?? 0) >= 0, "history=\(text)")
                read += 1
            } catch {
                #expect(error.code == .malformed)
                refused += 1
            }
        }
        #expect(read > 0)
        #expect(refused > 0)
    }
}

extension String {
    /// Percent-encodes everything but unreserved characters.
    var addingPercentEncodingForQuery: String {
        var out = ""
        for byte in utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E {
                out.append(Character(Unicode.Scalar(byte)))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded
            }
        }
        return out
    }
}

private extension String {
    var leftPadded: String { count == 1 ? "0" + self : self }
}
