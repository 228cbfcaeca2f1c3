import Foundation
import Testing
import TetherCore
@testable import SocketIOTransport

/// A relay event's Socket.IO EVENT packet is built in one buffer (`EventMessage`);
/// it must be byte for byte what the general packet encoder gives for the same arguments, in the
/// default and in another namespace, with and without the recovery offset.
@Suite struct EventMessageTests {
    @Test(arguments: ["/", "/custom"], [true, false])
    func theOneBufferPacketIsWhatThePacketEncoderGives(namespace: String, recovery: Bool) {
        let epoch = Epoch(rawValue: "9f7aa883e37aee74")
        let event = Event(seq: 41, topic: "metrics \"cpu\"", time: Date(timeIntervalSince1970: 1_765_000_000.123), data: Array(#"{"v":[1,2.5,"x\ny"]}"#.utf8))
        var arguments = [SeedEvents.event(event)]
        if recovery { arguments.append(SeedEvents.string(TetherAuth.offset(epoch: epoch, seq: event.seq))) }
        let general = SocketIOPacket.event("claude_event", arguments, namespace: namespace).encodeHeaderAndPayload()
        let built = EventMessage(offsetEpoch: recovery ? epoch : nil, namespace: namespace).bytes(event)
        #expect(String(decoding: built, as: UTF8.self) == String(decoding: general, as: UTF8.self))
    }
}
