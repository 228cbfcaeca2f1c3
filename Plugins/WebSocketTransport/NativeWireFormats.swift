import NIOCore
import TetherCore

/// A live event as a whole native `event` frame's payload, `{"type":"event","seq":…}`: what a
/// client that did not ask for `batch` gets. Encoded once per event and written, as the same
/// refcounted buffer, to every such subscriber.
enum NativeEventFrame: WireFormat {
    static func encode(_ event: Event) -> ByteBuffer {
        var json = JSONWriter(capacity: event.data.count + 96)
        json.event(event, prefix: "\"type\":\"event\",")
        return ByteBuffer(bytes: json.bytes)
    }
}

/// A live event as one element of an `events` frame, `{"seq":…}`: batching clients' frames are
/// these elements copied side by side, so each event is encoded once however many subscribers
/// and frames carry it.
enum NativeEventObject: WireFormat {
    static func encode(_ event: Event) -> ByteBuffer {
        var json = JSONWriter(capacity: event.data.count + 80)
        json.event(event)
        return ByteBuffer(bytes: json.bytes)
    }
}
