import NIOCore
import TetherCore

/// A live event as a whole native `event` frame's payload, `{"type":"event","seq":…}`: what a
/// client that did not ask for `batch` gets.
enum NativeEventFrame {
    static func encode(_ event: Event) -> ByteBuffer {
        var json = JSONWriter(capacity: event.data.count + 96)
        json.event(event, prefix: "\"type\":\"event\",")
        return ByteBuffer(bytes: json.bytes)
    }
}

/// A live event as one element of an `events` frame, `{"seq":…}`: batching clients' frames are
/// these elements copied side by side.
enum NativeEventObject {
    static func encode(_ event: Event) -> ByteBuffer {
        var json = JSONWriter(capacity: event.data.count + 80)
        json.event(event)
        return ByteBuffer(bytes: json.bytes)
    }
}

/// The native encodings of the newest events, one set per event loop: every WebSocket subscriber
/// on a loop writes the same buffer for an event, encoded by the first of them. So an event is
/// encoded once per loop and format (two loops on this 2-core machine), however many subscribers
/// send it, with no lock on the way: each set is confined to its loop.
///
/// (The process-wide `WireCache` that SSE and Socket.IO use takes a lock per lookup, shared by
/// the loops; with it the native transport measured 1.60 µs per delivery at 1 → 100, with this
/// 0.90, in consecutive runs: BENCHMARKS.md, issue 16.)
///
/// Bounded: 512 slots per format, and only events of at most 4 KB of data are kept (a larger one
/// is encoded for each subscriber; its encoding costs little next to copying it). So a loop's
/// set holds at most about 8 MB, typically a few hundred KB, and never keeps events the log has
/// dropped beyond that.
///
/// Ownership: one instance per event loop, made and used on that loop only (the registry hands
/// each connection its loop's instance once, in `handlerAdded`). A slot answers only for the
/// very same event (sequence, time, topic and data compared).
final class LoopEncodings {
    private struct Slot {
        var event: Event
        var buffer: ByteBuffer
    }

    private static let slotCount = 512
    private static let maxDataBytes = 4096
    private var frames = [Slot?](repeating: nil, count: slotCount)
    private var objects = [Slot?](repeating: nil, count: slotCount)

    /// One set per loop.
    private static let perLoop = PerLoop<LoopEncodings>()

    /// The set of `loop`; call on `loop`.
    static func of(_ loop: any EventLoop) -> LoopEncodings {
        perLoop.value(on: loop) { LoopEncodings() }
    }

    /// `event` as a whole `event` frame's payload.
    func frame(_ event: Event) -> ByteBuffer {
        Self.lookup(event, in: &frames, encode: NativeEventFrame.encode)
    }

    /// `event` as one element of an `events` frame.
    func object(_ event: Event) -> ByteBuffer {
        Self.lookup(event, in: &objects, encode: NativeEventObject.encode)
    }

    private static func lookup(_ event: Event, in slots: inout [Slot?], encode: (Event) -> ByteBuffer) -> ByteBuffer {
        guard event.data.count <= maxDataBytes else { return encode(event) }
        let index = Int(truncatingIfNeeded: event.seq % UInt64(slotCount))
        if let slot = slots[index], slot.event == event { return slot.buffer }
        let buffer = encode(event)
        slots[index] = Slot(event: event, buffer: buffer)
        return buffer
    }
}
