public import CoreMetrics
public import Prometheus

/// The swift-metrics backend for the libraries Tether runs on (Hummingbird's request metrics and
/// any other package that records through swift-metrics), over a swift-prometheus registry.
///
/// Unlike swift-prometheus's own factory it names series by Prometheus's rules (dots become
/// underscores, counters end in `_total`, timers are histograms in `_seconds`) and gives every
/// series HELP text, so `promtool check metrics` passes on the whole exposition. Bootstrapped
/// once by the executable; the Prometheus exporter finds it through `MetricsSystem.factory`.
public struct LibraryMetricsFactory: MetricsFactory {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// HELP text for the series libraries are known to record; others get a generic line.
    static let knownHelp: [String: String] = [
        "hb.requests": "HTTP requests handled, by route and method (Hummingbird).",
        "hb.request.errors": "HTTP requests that ended in an error, by route and method (Hummingbird).",
        "http.server.request.duration": "Time to handle an HTTP request, by route and method (Hummingbird).",
        "http.server.active_requests": "HTTP requests being handled now (Hummingbird).",
    ]

    static func help(_ label: String) -> String {
        knownHelp[label] ?? "Recorded through swift-metrics as \"\(label)\"."
    }

    static func name(_ label: String, suffix: String = "") -> String {
        var name = String(label.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        if let first = name.first, first.isNumber { name = "_" + name }
        if !suffix.isEmpty, !name.hasSuffix(suffix) { name += suffix }
        return name
    }

    static func descriptor(_ label: String, suffix: String = "") -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name(label, suffix: suffix), unitName: "", helpText: help(label))
    }

    static func labels(_ dimensions: [(String, String)]) -> [(String, String)] {
        dimensions.map { (name($0.0), $0.1) }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: Self.descriptor(label, suffix: "_total"), labels: Self.labels(dimensions))
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: Self.descriptor(label, suffix: "_total"), labels: Self.labels(dimensions))
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else {
            return registry.makeGauge(descriptor: Self.descriptor(label), labels: Self.labels(dimensions))
        }
        return registry.makeValueHistogram(descriptor: Self.descriptor(label), labels: Self.labels(dimensions), buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: Self.descriptor(label), labels: Self.labels(dimensions))
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(
            descriptor: Self.descriptor(label, suffix: "_seconds"), labels: Self.labels(dimensions),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]
        )
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
