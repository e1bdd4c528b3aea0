import Histogram
import Synchronization

/// Microsecond-resolution latency percentiles. Recording takes a short lock (an array
/// increment), never across an `await`.
public final class LatencyHistogram: Sendable {
    private let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three))

    public init() {}

    public func record(microseconds: UInt64) {
        histogram.withLock { _ = $0.record(max(1, min(microseconds, 3_600_000_000))) }
    }

    public func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        record(microseconds: UInt64(max(0, micros)))
    }

    public struct Snapshot: Sendable, Equatable {
        public var count: UInt64
        public var p50: Double
        public var p95: Double
        public var p99: Double
        public var max: Double
        /// Sum in milliseconds, for Prometheus.
        public var sum: Double
    }

    /// Percentiles in milliseconds.
    public func snapshot() -> Snapshot {
        histogram.withLock { h in
            guard h.totalCount > 0 else { return Snapshot(count: 0, p50: 0, p95: 0, p99: 0, max: 0, sum: 0) }
            func ms(_ v: UInt64) -> Double { Double(v) / 1000 }
            return Snapshot(
                count: h.totalCount, p50: ms(h.valueAtPercentile(50)), p95: ms(h.valueAtPercentile(95)),
                p99: ms(h.valueAtPercentile(99)), max: ms(h.max), sum: h.mean * Double(h.totalCount) / 1000
            )
        }
    }

    public func reset() {
        histogram.withLock { $0.reset() }
    }
}
