import Foundation
import NIOCore

/// The benchmark event: about 200 bytes of JSON, `{"t":MICROS,"n":N,"p":"xx…"}`, where `t` is the
/// producer's wall clock at send time (same host, so subscribers subtract their own clock) and
/// `n` numbers the events of one run from 0, so subscribers can count missing, duplicate and
/// out-of-order deliveries.
enum Payload {
    static let size = 200

    static func make(n: Int, into buffer: inout ByteBuffer) {
        let head = "{\"t\":\(Clock.micros()),\"n\":\(n),\"p\":\""
        buffer.writeString(head)
        let pad = max(0, size - head.utf8.count - 2)
        buffer.writeRepeatingByte(UInt8(ascii: "x"), count: pad)
        buffer.writeString("\"}")
    }

    static func make(n: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        make(n: n, into: &buffer)
        return buffer
    }

    /// `t` and `n` from a payload, or from a frame that embeds it (Tether's `event` frame: the
    /// first `"t":` key is the payload's, as no other key of the frame is named `t`).
    static func parse(_ buffer: ByteBuffer) -> (t: Int64, n: Int)? {
        buffer.withUnsafeReadableBytes { bytes -> (Int64, Int)? in
            guard let t = number(after: tKey, in: bytes), let n = number(after: nKey, in: bytes) else { return nil }
            return (t, Int(n))
        }
    }

    private static let tKey = Array("\"t\":".utf8)
    private static let nKey = Array("\"n\":".utf8)

    private static func number(after key: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int64? {
        guard bytes.count >= key.count else { return nil }
        var i = 0
        let last = bytes.count - key.count
        while i <= last {
            if bytes[i] == key[0], bytes[i + 1] == key[1], bytes[i + 2] == key[2], bytes[i + 3] == key[3] {
                var j = i + key.count
                var value: Int64 = 0
                var digits = 0
                while j < bytes.count, bytes[j] >= 0x30, bytes[j] <= 0x39 {
                    value = value * 10 + Int64(bytes[j] - 0x30)
                    j += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            i += 1
        }
        return nil
    }
}

/// Wall-clock microseconds (CLOCK_REALTIME): producer and subscribers run on one host.
enum Clock {
    static func micros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    static func seconds() -> Double { Double(micros()) / 1_000_000 }

    /// CPU seconds this process used so far (all threads, user + system).
    static func processCPU() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
