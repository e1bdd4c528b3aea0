import HTTPTypes
import Logging

/// One line per request: what was asked, how the cache answered, and how long it took.
/// Never the credential and never the prompt or answer.
struct AccessLog: Sendable {
    let logger: Logger

    func record(method: HTTPRequest.Method, path: String, status: Int, outcome: Stats.Outcome?, provider: String,
                model: String, key: CacheKey?, upstream: Duration?, total: Duration, tokens: Int) {
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "method": "\(method.rawValue)", "path": "\(path)", "status": "\(status)",
            "provider": "\(provider)", "total_ms": "\(Self.milliseconds(total))",
        ]
        if let outcome { metadata["cache"] = "\(outcome.rawValue)" }
        if !model.isEmpty { metadata["model"] = "\(model)" }
        if let key { metadata["key"] = "\(key.prefix)" }
        if let upstream { metadata["upstream_ms"] = "\(Self.milliseconds(upstream))" }
        if tokens > 0 { metadata["tokens"] = "\(tokens)" }
        logger.info("request", metadata: metadata)
    }

    /// Milliseconds with three decimals (`12.345`). Integer arithmetic: `String(format:)` cost
    /// more than the rest of a hit's access-log line.
    static func milliseconds(_ d: Duration) -> String {
        let (seconds, attoseconds) = d.components
        let micros = max(0, seconds * 1_000_000 + (attoseconds + 500_000_000_000) / 1_000_000_000_000)
        let fraction = micros % 1000
        let padding = fraction < 10 ? "00" : fraction < 100 ? "0" : ""
        return "\(micros / 1000).\(padding)\(fraction)"
    }
}

import Foundation
