import Testing
@testable import TetherCore

@Suite struct JSONScannerTests {
    let scanner = JSONScanner(maxDepth: 8)

    @Test(arguments: [
        #"{}"#, #"[]"#, #"0"#, #"-0.5e+10"#, #""a\"b\\c\/\u00e9\ud83d\ude00""#, #"true"#, #"null"#,
        #" {"a" : [1, {"b": false}], "c": "é"} "#, "\"\u{1F600}\"",
    ])
    func acceptsValidJSON(_ text: String) throws {
        let bytes = Array(text.utf8)
        _ = try scanner.validateDocument(bytes, in: bytes.indices)
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "01", "1.", "-", "1e", "tru", "nul", "\"abc",
        "\"a\\x\"", "\"\\u12\"", "\"tab\there\"", "[1] 2", "{'a':1}", "[[[[[[[[[1]]]]]]]]]",
    ])
    func refusesInvalidJSON(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(throws: JSONSyntaxError.self) { try scanner.validateDocument(bytes, in: bytes.indices) }
    }

    @Test(arguments: [
        [0x22, 0xC3, 0x28, 0x22],  // bad continuation
        [0x22, 0xC0, 0xAF, 0x22],  // overlong
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // surrogate
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0xE2, 0x82, 0x22],  // truncated
    ] as [[UInt8]])
    func refusesInvalidUTF8InStrings(_ bytes: [UInt8]) {
        #expect(throws: JSONSyntaxError.self) { try scanner.validateDocument(bytes, in: bytes.indices) }
    }

    @Test func membersGiveDecodedKeysAndRawValueRanges() throws {
        let bytes = Array(#"{"t\u006fpic": "a\nb", "data": {"x": 1.50}, "n": [1, 2]}"#.utf8)
        let members = try scanner.members(ofObject: bytes, in: bytes.indices)
        #expect(members.map(\.key) == ["topic", "data", "n"])
        #expect(String(decoding: bytes[members[1].value], as: UTF8.self) == #"{"x": 1.50}"#)
        #expect(try JSONScanner.decodeString(bytes, quoted: members[0].value) == "a\nb")
    }

    @Test func decodesSurrogatePairs() throws {
        let bytes = Array(#""\ud83d\ude00 \u00e9""#.utf8)
        #expect(try JSONScanner.decodeString(bytes, quoted: bytes.indices) == "😀 é")
    }
}
