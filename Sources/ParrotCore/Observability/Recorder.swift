import HTTPTypes

/// The Record stage: once per request, after its body was written (a hit's answer is complete
/// when built) — the duration histogram by outcome and the access line.
struct Recorder: Sendable {
    let metrics: PrometheusExporter
    let accessLog: AccessLog

    func record(method: HTTPRequest.Method, path: String, status: Int, outcome: Stats.Outcome?, provider: String,
                model: String, key: CacheKey?, upstream: Duration?, total: Duration, tokens: Int) {
        metrics.observeRequest(outcome: outcome, duration: total)
        accessLog.record(method: method, path: path, status: status, outcome: outcome, provider: provider,
                         model: model, key: key, upstream: upstream, total: total, tokens: tokens)
    }
}
