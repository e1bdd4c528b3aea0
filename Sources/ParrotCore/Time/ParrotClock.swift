import Foundation
import Synchronization

/// Where Parrot reads the time: TTLs, `Age`, max-age and stale windows read `now`; the
/// breaker's windows and the token buckets read `monotonic`. Tests pass a ``ManualClock`` and
/// advance it instead of sleeping.
public protocol ParrotClock: Sendable {
    /// Wall-clock seconds since 1970: what stored entries' created and expiry times are in.
    var now: Double { get }
    /// Seconds on a clock that never goes back, from an arbitrary start.
    var monotonic: Double { get }
}

/// The real clocks.
public struct SystemClock: ParrotClock {
    public init() {}
    public var now: Double { Date().timeIntervalSince1970 }
    public var monotonic: Double { Self.monotonicSeconds() }

    public static let monotonicSeconds: @Sendable () -> Double = {
        let d = ContinuousClock.now - SystemClock.epoch
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
    static let epoch = ContinuousClock.now
}

/// A clock that moves only when told to, for tests: TTL expiry, breaker windows and rate-limit
/// refills without waiting for them.
public final class ManualClock: ParrotClock {
    private let offset = Mutex<Double>(0)
    private let start: Double

    /// Starts at the real wall-clock time, so entries it stamps look ordinary.
    public init() {
        start = Date().timeIntervalSince1970
    }

    public var now: Double { start + offset.withLock { $0 } }
    public var monotonic: Double { offset.withLock { $0 } }

    public func advance(by seconds: Double) {
        offset.withLock { $0 += seconds }
    }
}
