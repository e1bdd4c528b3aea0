import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A fake OpenAI upstream on a real socket: realistic JSON and SSE answers, counters a test can
/// assert on, and faults (errors, delays, stalls, cut streams, dropped connections) provoked by
/// script or by `x-mock-*` request headers.
///
/// Built on SwiftNIO directly rather than on an HTTP framework so a fault closes the socket at
/// exactly the byte it means to, and `stop()` never waits for a stalled client.
public final class MockUpstream: Sendable {
    private let core: MockCore
    private let connections: MockConnections
    private let channel: any Channel
    private let stopped = Mutex(false)

    public let port: Int
    public let host: String

    private init(core: MockCore, connections: MockConnections, channel: any Channel, host: String) {
        self.core = core
        self.connections = connections
        self.channel = channel
        self.host = host
        self.port = channel.localAddress?.port ?? 0
    }

    /// Binds and starts serving; port 0 picks a free port (read it from ``port``).
    public static func start(host: String = "127.0.0.1", port: Int = 0, options: MockOptions = .init()) async throws
        -> MockUpstream
    {
        let connections = MockConnections()
        let core = MockCore(options: options, connections: connections)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard connections.accept(channel) else {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MockHTTPHandler(core: core))
                }
            }
            .bind(host: host, port: port)
            .get()
        return MockUpstream(core: core, connections: connections, channel: channel, host: host)
    }

    /// The base URL a client or the proxy's provider config points at.
    public var baseURL: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(shownHost):\(port)/v1"
    }

    /// Closes the listener and every open connection. Safe to call more than once.
    public func stop() async {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        try? await channel.close()
        await connections.closeAll()
    }

    // MARK: counters

    /// Requests received (complete request heads and bodies) since start or the last reset.
    public var totalRequests: Int { core.state.withLock { $0.totalRequests } }

    /// Requests to one path, without the query string, e.g. `/v1/chat/completions`.
    public func requestCount(path: String) -> Int {
        core.state.withLock { $0.pathCounts[path] ?? 0 }
    }

    /// TCP connections accepted since start or the last reset.
    public var connectionsOpened: Int { connections.opened }

    /// Every request received, oldest first (empty when `MockOptions.recordsRequests` is off).
    public var recordedRequests: [MockRecordedRequest] { core.state.withLock { $0.recorded } }

    /// Zeroes the counters and forgets recorded requests. Answer numbering (`chatcmpl-<n>`)
    /// keeps counting, scripts and fixed embeddings stay.
    public func resetCounters() {
        core.state.withLock { $0.resetCounters() }
        connections.resetCount()
    }

    // MARK: scripting

    /// Queues a behaviour for the next `times` requests, first in first out, ahead of the
    /// default behaviour; a scripted behaviour overrides `x-mock-*` headers where they conflict.
    public func enqueue(_ behaviour: MockBehaviour, times: Int = 1) {
        guard times > 0 else { return }
        core.state.withLock { $0.script.append(contentsOf: repeatElement(behaviour, count: times)) }
    }

    /// The behaviour for every request with nothing queued; nil returns to normal answers.
    public func setDefaultBehaviour(_ behaviour: MockBehaviour?) {
        core.state.withLock { $0.defaultBehaviour = behaviour }
    }

    /// Pins the embedding returned for an input text, whatever the requested dimensions, so a
    /// semantic-tier test can set a cosine similarity exactly.
    public func setEmbedding(_ vector: [Float], for text: String) {
        core.state.withLock { $0.embeddings[text] = vector }
    }

    /// The vector the mock answers for an input text (a token list reads as its ids joined by
    /// spaces) when none is pinned: what a test compares a proxied answer with.
    public static func embedding(of text: String, dimensions: Int = 8) -> [Float] {
        MockAnswers.embedding(of: text, dimensions: dimensions)
    }
}
