import CSystemd
import Glibc

/// Writes one journal entry with `sd_journal_sendv` (Swift cannot call the variadic
/// `sd_journal_send`). All `FIELD=value` items go into one contiguous buffer and an `iovec` per
/// item points into it; values may hold newlines or any bytes.
///
/// `sd_journal_sendv` reports success even when no journald listens, so success here does not
/// prove delivery: tests read entries back with `journalctl`.
public enum JournalWriter {
    /// Returns 0 on success or a negative errno, as `sd_journal_sendv` does.
    @discardableResult
    public static func send(_ fields: [(String, String)]) -> Int32 {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        buffer.reserveCapacity(fields.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count + 1 })
        for (name, value) in fields {
            let start = buffer.count
            buffer.append(contentsOf: name.utf8)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: value.utf8)
            ranges.append(start..<buffer.count)
        }
        return buffer.withUnsafeMutableBytes { bytes -> Int32 in
            var vectors = ranges.map { range in
                iovec(iov_base: bytes.baseAddress.map { $0 + range.lowerBound }, iov_len: range.count)
            }
            return vectors.withUnsafeMutableBufferPointer { iov in
                sd_journal_sendv(iov.baseAddress, Int32(iov.count))
            }
        }
    }
}
