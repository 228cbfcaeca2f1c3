import Atomics

/// A histogram with fixed bucket bounds whose `observe` is a handful of relaxed atomic adds: no
/// lock, no allocation. The delivery-latency histogram is observed for every acknowledged event,
/// which rules out swift-prometheus's lock-per-observation histogram on that path; exporters
/// read a ``Snapshot`` instead.
public final class AtomicHistogram: Sendable {
    /// Upper bounds of the buckets, ascending; a final `+Inf` bucket is implied.
    public let bounds: [Double]
    private let counts: [ManagedAtomic<UInt64>]
    private let total = ManagedAtomic<UInt64>(0)
    /// The sum, in units of `1 / sumScale`, so it can be an integer atomic.
    private let scaledSum = ManagedAtomic<UInt64>(0)
    private let sumScale: Double

    /// - Parameter sumScale: resolution of the sum (1e6 keeps microseconds for seconds values).
    public init(bounds: [Double], sumScale: Double = 1e6) {
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }, "bucket bounds must ascend")
        self.bounds = bounds
        self.counts = bounds.map { _ in ManagedAtomic<UInt64>(0) }
        self.sumScale = sumScale
    }

    public func observe(_ value: Double) {
        let value = value.isFinite ? max(0, value) : 0
        if let index = bounds.firstIndex(where: { value <= $0 }) {
            counts[index].wrappingIncrement(ordering: .relaxed)
        }
        total.wrappingIncrement(ordering: .relaxed)
        scaledSum.wrappingIncrement(by: UInt64((value * sumScale).rounded()), ordering: .relaxed)
    }

    /// Observes many values with one atomic add per touched bucket instead of three per value:
    /// `body` is handed a recorder to call for each value (used per acknowledged batch).
    public func observeBatch(_ body: (inout BatchRecorder) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: bounds.count) { counts in
            counts.initialize(repeating: 0)
            var recorder = BatchRecorder(bounds: bounds, counts: counts)
            body(&recorder)
            for index in counts.indices where counts[index] > 0 {
                self.counts[index].wrappingIncrement(by: counts[index], ordering: .relaxed)
            }
            if recorder.total > 0 {
                total.wrappingIncrement(by: recorder.total, ordering: .relaxed)
                scaledSum.wrappingIncrement(by: UInt64((recorder.sum * sumScale).rounded()), ordering: .relaxed)
            }
        }
    }

    /// Collects one batch's observations on the stack (see ``observeBatch(_:)``).
    public struct BatchRecorder: ~Copyable {
        let bounds: [Double]
        let counts: UnsafeMutableBufferPointer<UInt64>
        var total: UInt64 = 0
        var sum: Double = 0

        public mutating func observe(_ value: Double) {
            let value = value.isFinite ? max(0, value) : 0
            if let index = bounds.firstIndex(where: { value <= $0 }) { counts[index] += 1 }
            total += 1
            sum += value
        }
    }

    /// Cumulative counts per bound (Prometheus `le` semantics), the total count and the sum.
    public struct Snapshot: Sendable, Hashable {
        public var bounds: [Double]
        public var cumulative: [UInt64]
        public var count: UInt64
        public var sum: Double
    }

    public func snapshot() -> Snapshot {
        var running: UInt64 = 0
        let cumulative = counts.map { count -> UInt64 in
            running += count.load(ordering: .relaxed)
            return running
        }
        // Read the total last and never below the buckets, so the series stays consistent.
        let count = max(total.load(ordering: .relaxed), running)
        return Snapshot(bounds: bounds, cumulative: cumulative, count: count, sum: Double(scaledSum.load(ordering: .relaxed)) / sumScale)
    }
}

/// The relay's histograms. Latencies in seconds; quality and lag are sampled for every attached
/// client at each health sweep.
public final class RelayHistograms: Sendable {
    public let pingRTT = AtomicHistogram(bounds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
    public let deliveryLatency = AtomicHistogram(bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
    public let quality = AtomicHistogram(bounds: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1], sumScale: 1e4)
    public let clientLag = AtomicHistogram(bounds: [0, 1, 10, 100, 256, 1000, 10_000, 100_000], sumScale: 1)

    public init() {}
}
