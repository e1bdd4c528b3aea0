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

    static func milliseconds(_ d: Duration) -> String {
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return String(format: "%.3f", ms)
    }
}

import Foundation
