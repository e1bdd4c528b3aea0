/// How a mock upstream answers when neither a scripted behaviour nor a request header says
/// otherwise. Benchmarks set these once for the whole run; tests usually keep the defaults.
public struct MockOptions: Sendable {
    /// Delay before the response head, for every request.
    public var latencyMs: Int
    /// Content pieces in a streamed answer (chat, completions, responses).
    public var chunkCount: Int
    /// Gap between two streamed events; a real gap, each event is flushed on its own.
    public var chunkDelayMs: Int
    /// Approximate answer content length in bytes; `nil` keeps the short natural sentence.
    public var contentSize: Int?
    /// Gzip JSON answers for clients that send `Accept-Encoding: gzip`, as if every request
    /// carried `x-mock-gzip: 1`.
    public var gzip: Bool
    /// Keep every request for ``MockUpstream/recordedRequests``. Long benchmark runs turn it off
    /// so memory stays flat.
    public var recordsRequests: Bool

    public init(
        latencyMs: Int = 0,
        chunkCount: Int = 5,
        chunkDelayMs: Int = 0,
        contentSize: Int? = nil,
        gzip: Bool = false,
        recordsRequests: Bool = true
    ) {
        self.latencyMs = latencyMs
        self.chunkCount = chunkCount
        self.chunkDelayMs = chunkDelayMs
        self.contentSize = contentSize
        self.gzip = gzip
        self.recordsRequests = recordsRequests
    }
}
