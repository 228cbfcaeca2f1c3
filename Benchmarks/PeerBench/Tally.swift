import NIOCore

/// What one subscriber connection received in a run, checked against the producer's numbering:
/// events `0..<expected`. Confined to the connection's event loop.
struct Tally {
    let expected: Int
    private var seen: [Bool]
    private(set) var unique = 0
    private(set) var duplicates = 0
    private(set) var outOfOrder = 0
    private(set) var foreign = 0
    private var highest = -1
    private(set) var lastMicros: Int64 = 0
    var latenciesMS: [Double]?

    init(expected: Int, latencies: Bool) {
        self.expected = expected
        seen = Array(repeating: false, count: expected)
        latenciesMS = latencies ? [] : nil
        latenciesMS?.reserveCapacity(expected)
    }

    var complete: Bool { unique >= expected }
    var missing: Int { expected - unique }

    /// Records one delivery; true when it completed the set.
    mutating func record(_ frame: ByteBuffer) -> Bool {
        let now = Clock.micros()
        guard let (sent, n) = Payload.parse(frame), n >= 0, n < expected else {
            foreign += 1
            return false
        }
        if seen[n] {
            duplicates += 1
            return false
        }
        if n < highest { outOfOrder += 1 }
        highest = max(highest, n)
        seen[n] = true
        unique += 1
        lastMicros = now
        latenciesMS?.append(Double(now - sent) / 1000)
        return unique == expected
    }
}
