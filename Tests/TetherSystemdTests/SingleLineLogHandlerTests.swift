import Logging
import Synchronization
import Testing
@testable import TetherSystemd

/// Input can never start a line of the stderr log: one call is one line.
@Suite struct SingleLineLogHandlerTests {
    final class Recorder: @unchecked Sendable {
        // Written by the test's own logger calls only, one at a time.
        nonisolated(unsafe) var lines: [String] = []
    }

    struct RecordingHandler: LogHandler {
        let recorder: Recorder
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let fields = (metadata.merging(event.metadata ?? [:]) { $1 }).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            recorder.lines.append((fields + ["\(event.message)"]).joined(separator: " "))
        }
    }

    @Test func controlCharactersInMessagesAndMetadataAreEscaped() {
        let recorder = Recorder()
        var logger = Logger(label: "test") { _ in SingleLineLogHandler(RecordingHandler(recorder: recorder)) }
        logger[metadataKey: "peer"] = "x\r\nforged"
        logger.warning("hello refused for a\nINJECTED level=critical", metadata: ["client": "a\nb", "list": ["c\u{1b}[31m"], "ok": "plain é"])
        let text = recorder.lines.joined(separator: "\n")
        #expect(recorder.lines.count == 1)
        #expect(!text.contains("\n") && !text.contains("\r") && !text.contains("\u{1b}"))
        #expect(text.contains(#"a\nINJECTED"#) && text.contains(#"x\r\nforged"#) && text.contains("plain é"))
    }
}
