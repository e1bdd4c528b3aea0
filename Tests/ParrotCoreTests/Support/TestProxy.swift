import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ParrotCore
import ParrotMock
import ServiceLifecycle
import XCTest

/// A real Parrot on 127.0.0.1:0 in front of a real mock upstream on 127.0.0.1:0, with its own
/// temporary SQLite file. Every test stops it whether it passes or fails (`withProxy`).
final class TestProxy: @unchecked Sendable {
    let mock: MockUpstream
    let app: ParrotApplication
    let port: Int
    let directory: String
    let config: ProxyConfig
    let logs: LogCapture
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var engine: ProxyEngine { app.engine }

    static func start(
        mock existing: MockUpstream? = nil,
        directory: String? = nil,
        secrets: Secrets = Secrets(),
        logger customLogger: Logger? = nil,
        clock: any ParrotClock = SystemClock(),
        historyClock: any Clock<Duration> = ContinuousClock(),
        configure: (inout ProxyConfig) -> Void = { _ in }
    ) async throws -> TestProxy {
        let mock: MockUpstream
        if let existing { mock = existing } else { mock = try await MockUpstream.start() }
        let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("parrot-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var config = ProxyConfig()
        config.server.port = 0
        config.cache.path = dir + "/cache.sqlite"
        config.providers["openai"]!.baseURL = mock.baseURL
        config.providers["openai"]!.apiKeyEnv = ""
        configure(&config)
        let logs = LogCapture()
        var logger = customLogger ?? Logger(label: "parrot-test") { label in logs.handler(label: label) }
        if customLogger == nil { logger.logLevel = .info }
        let ports = AsyncStream<Int>.makeStream()
        let app = try await buildApplication(config: config, secrets: secrets, logger: logger, clock: clock, historyClock: historyClock) { port in
            ports.continuation.yield(port)
            ports.continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app.application], gracefulShutdownSignals: [], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestError("Parrot did not start") }
        return TestProxy(mock: mock, app: app, port: port, directory: dir, config: config, logs: logs, group: group, task: task)
    }

    private init(mock: MockUpstream, app: ParrotApplication, port: Int, directory: String, config: ProxyConfig, logs: LogCapture, group: ServiceGroup, task: Task<Void, any Error>) {
        self.mock = mock
        self.app = app
        self.port = port
        self.directory = directory
        self.config = config
        self.logs = logs
        self.group = group
        self.task = task
    }

    /// Stops Parrot (gracefully) but leaves the mock and the store file.
    func stopProxy() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    func stop(keepMock: Bool = false) async {
        await stopProxy()
        if !keepMock { await mock.stop() }
    }

    // MARK: requests

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var bytes: [UInt8]

        func header(_ name: String) -> String? { headers.first(name: name) }
        var cache: String? { header("x-parrot-cache") }
        var json: JSONValue? { try? JSONParser.parse(bytes) }
    }

    func send(_ method: HTTPMethod = .POST, _ path: String, body: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let body {
            request.body = .bytes(ByteBuffer(string: body))
            request.headers.add(name: "content-type", value: "application/json")
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: collected),
                     bytes: Array(collected.readableBytesView))
    }

    func chat(_ text: String, model: String = "gpt-4o-mini", stream: Bool = false, extra: String = "", headers: [(String, String)] = []) async throws -> Reply {
        let body = #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(text)"}]\#(stream ? #","stream":true"# : "")\#(extra)}"#
        return try await send(.POST, "/v1/chat/completions", body: body, headers: headers)
    }

    func stats() async throws -> JSONValue {
        let reply = try await send(.GET, "/stats")
        guard let json = reply.json else { throw TestError("/stats is not JSON: \(reply.body)") }
        return json
    }
}

/// Runs `body` with a started proxy and always stops it.
func withProxy(
    mock: MockUpstream? = nil,
    secrets: Secrets = Secrets(),
    clock: any ParrotClock = SystemClock(),
    configure: (inout ProxyConfig) -> Void = { _ in },
    _ body: (TestProxy) async throws -> Void
) async throws {
    let proxy = try await TestProxy.start(mock: mock, secrets: secrets, clock: clock, configure: configure)
    do {
        try await body(proxy)
    } catch {
        await proxy.stop(keepMock: mock != nil)
        throw error
    }
    await proxy.stop(keepMock: mock != nil)
}

extension ProxyConfig {
    /// Adds the provider `backup` at `baseURL` (a second mock; serves no model of its own) as
    /// the `openai` provider's fallback.
    mutating func addBackupProvider(at baseURL: String) {
        var fallback = ProviderConfig()
        fallback.baseURL = baseURL
        fallback.apiKeyEnv = ""
        fallback.models = ["backup-only-model"]
        providers["backup"] = fallback
        providers["openai"]!.fallback = "backup"
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `seconds` pass; for effects that land asynchronously.
func eventually(_ seconds: Double = 5, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// Collects every log line a test's Parrot writes, so tests can scan them for secrets.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    func handler(label: String) -> some LogHandler {
        CapturingLogHandler(capture: self)
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.append("\(event.level) \(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }
}
