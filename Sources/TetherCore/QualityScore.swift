/// A connection's quality in [0, 1]: a weighted sum of five factors, each in [0, 1] and each
/// monotonic in the thing it measures. The formula is documented in `docs/METRICS.md`; keep the
/// two in step.
///
/// | factor | weight | 1 when | 0 when |
/// |---|---|---|---|
/// | reconnects | 0.25 | no reconnect in the window | it falls as 1 / (1 + n / 3) |
/// | ack rate | 0.25 | every delivered event acked, none overdue | nothing acked |
/// | uptime | 0.20 | connected the whole time since first seen | never connected |
/// | activity | 0.15 | traffic within the last 30 s | silent for the stale timeout |
/// | latency | 0.15 | ping RTT <= 100 ms (or none measured yet) | RTT >= 2 s |
public struct QualityScore: Sendable, Hashable {
    public struct Inputs: Sendable, Hashable {
        /// Reconnects within the recent window (15 minutes by default).
        public var recentReconnects: Int
        public var delivered: UInt64
        public var acked: UInt64
        /// Delivered events still unacked after the ack timeout.
        public var overdue: Int
        /// Seconds connected since the client was first seen, and seconds since first seen.
        public var connectedSeconds: Double
        public var knownSeconds: Double
        /// Seconds since the connection's last inbound traffic.
        public var silentSeconds: Double
        public var staleTimeout: Double
        /// Last ping round trip, if one was measured.
        public var rttSeconds: Double?

        public init(
            recentReconnects: Int = 0, delivered: UInt64 = 0, acked: UInt64 = 0, overdue: Int = 0,
            connectedSeconds: Double = 0, knownSeconds: Double = 0, silentSeconds: Double = 0,
            staleTimeout: Double = 90, rttSeconds: Double? = nil
        ) {
            self.recentReconnects = recentReconnects
            self.delivered = delivered
            self.acked = acked
            self.overdue = overdue
            self.connectedSeconds = connectedSeconds
            self.knownSeconds = knownSeconds
            self.silentSeconds = silentSeconds
            self.staleTimeout = staleTimeout
            self.rttSeconds = rttSeconds
        }
    }

    public static let weights = (reconnects: 0.25, ackRate: 0.25, uptime: 0.20, activity: 0.15, latency: 0.15)

    public static func compute(_ inputs: Inputs) -> Double {
        let reconnects = 1 / (1 + Double(max(0, inputs.recentReconnects)) / 3)
        let ackRate: Double
        if inputs.delivered == 0 {
            ackRate = 1
        } else {
            let settled = Double(min(inputs.acked, inputs.delivered)) - Double(max(0, inputs.overdue))
            ackRate = clamp(settled / Double(inputs.delivered))
        }
        let uptime = inputs.knownSeconds <= 0 ? 1 : clamp(inputs.connectedSeconds / inputs.knownSeconds)
        let activeWindow = 30.0
        let activity: Double
        if inputs.silentSeconds <= activeWindow {
            activity = 1
        } else {
            let span = max(inputs.staleTimeout - activeWindow, 1)
            activity = clamp(1 - (inputs.silentSeconds - activeWindow) / span)
        }
        let latency = inputs.rttSeconds.map { clamp(1 - ($0 - 0.1) / 1.9) } ?? 1
        let w = weights
        let score = w.reconnects * reconnects + w.ackRate * ackRate + w.uptime * uptime
            + w.activity * activity + w.latency * latency
        return clamp(score)
    }

    private static func clamp(_ value: Double) -> Double {
        value.isNaN ? 0 : min(1, max(0, value))
    }
}
