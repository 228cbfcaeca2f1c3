import Foundation
import NIOCore
import NIOEmbedded
import Testing
import TetherCore
@testable import WebSocketTransport

/// The native encodings are made once per event loop and shared: every subscriber on a loop
/// writes the very same buffer for an event (issue 16: encode once, not once per subscriber).
@Suite struct LoopEncodingsTests {
    static func event(_ seq: UInt64, data: String = #"{"n":1}"#) -> Event {
        Event(seq: seq, topic: "t", time: Date(timeIntervalSince1970: 1_800_000_000), data: Array(data.utf8))
    }

    /// Where a buffer's bytes live: equal for buffers that share one storage.
    static func address(_ buffer: ByteBuffer) -> UInt? {
        buffer.withUnsafeReadableBytes { $0.baseAddress.map { UInt(bitPattern: $0) } }
    }

    @Test func twentySubscribersOnALoopWriteOneEncodingOfEachEvent() throws {
        let loop = EmbeddedEventLoop()
        let events = (1...100).map { Self.event($0) }
        var frames: [[UInt?]] = []
        var objects: [[UInt?]] = []
        for _ in 0..<20 {
            // Each subscriber's handler gets its loop's set in handlerAdded.
            let encodings = LoopEncodings.of(loop)
            frames.append(events.map { Self.address(encodings.frame($0)) })
            objects.append(events.map { Self.address(encodings.object($0)) })
        }
        #expect(Set(frames).count == 1 && Set(objects).count == 1, "subscribers got encodings of their own")
        let frame = LoopEncodings.of(loop).frame(events[0])
        #expect(String(buffer: frame) == #"{"type":"event","seq":1,"topic":"t","time":"2027-01-15T08:00:00.000Z","data":{"n":1}}"#)
    }

    @Test func aSlotAnswersOnlyForTheVerySameEvent() {
        let loop = EmbeddedEventLoop()
        let encodings = LoopEncodings.of(loop)
        let first = String(buffer: encodings.frame(Self.event(7, data: "1")))
        // Same sequence number, another event (another relay in this process, another epoch).
        let other = String(buffer: encodings.frame(Self.event(7, data: "2")))
        #expect(first.hasSuffix(#""data":1}"#))
        #expect(other.hasSuffix(#""data":2}"#))
    }
}
