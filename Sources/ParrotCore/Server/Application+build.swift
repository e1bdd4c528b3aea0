import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// What `buildApplication` hands back: the application to run, plus the parts tests inspect.
public struct ParrotApplication: Sendable {
    public let application: Application<ParrotResponderHandle>
    public let engine: ProxyEngine
    /// The last hour of 10-second samples behind `/stats?history=1`.
    public let history: StatsHistory
}

/// A thin public wrapper so the responder's type can appear in `ParrotApplication`.
public struct ParrotResponderHandle: HTTPResponder {
    public typealias Context = BasicRequestContext
    let responder: ParrotResponder

    public func respond(to request: Request, context: Context) async throws -> Response {
        try await responder.respond(to: request, context: context)
    }
}

/// Builds Parrot from plain values: the executable calls this with the configuration it
/// loaded; tests call it with their own (port 0, temporary store, mock upstream).
/// - Parameters:
///   - clients: per-provider upstream clients to use instead of building AsyncHTTPClient pools.
///   - clock: where time is read (TTL, breaker, rate limits); tests pass a ``ManualClock``.
///   - historyClock: paces the 10-second `/stats?history=1` samples.
///   - onServerRunning: called with the bound port once the listener is up.
public func buildApplication(
    config: ProxyConfig,
    secrets: Secrets,
    logger: Logger,
    clients: [String: any UpstreamClient] = [:],
    clock: any ParrotClock = SystemClock(),
    historyClock: any Clock<Duration> = ContinuousClock(),
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> ParrotApplication {
    try config.validate()
    let store = try await openStore(config: config.cache, logger: logger)
    let secret: String
    do {
        if let configured = secrets.namespaceSecret {
            secret = configured
        } else {
            secret = try await store.namespaceSecret(proposed: NamespaceDeriver.generateSecret())
        }
    } catch {
        try? await store.close()
        throw error
    }
    let stats = Stats(providers: config.providers.keys)
    var providers: [String: Provider] = [:]
    for (name, providerConfig) in config.providers {
        let client = clients[name] ?? HTTPUpstreamClient(provider: name, config: providerConfig)
        providers[name] = Provider(name: name, config: providerConfig, client: client, apiKey: secrets.providerKeys[name],
                                   stats: stats.provider(name), logger: logger, clock: clock)
    }
    let tiers = CacheTiers(memory: MemoryTier(capacityBytes: config.cache.memoryBytes), store: store, logger: logger)
    var semantic: SemanticTier? = nil
    if config.semantic.enabled, let embeddingProvider = providers[config.semantic.embeddingProvider] {
        let embedder = OpenAIEmbedder(provider: embeddingProvider, model: config.semantic.model, timeoutMs: config.semantic.timeoutMs)
        semantic = SemanticTier(config: config.semantic, embedder: embedder, logger: logger)
        await semantic?.sync(from: store)
    }
    let metrics = PrometheusExporter(providers: config.providers.keys)
    let engine = try ProxyEngine(
        config: config, secrets: secrets, providers: providers, tiers: tiers, stats: stats,
        namespaces: NamespaceDeriver(secret: secret, shareAcrossKeys: config.cache.shareAcrossKeys), semantic: semantic,
        metrics: metrics, logger: logger, clock: clock
    )
    let history = StatsHistory(stats: stats)
    let responder = ParrotResponder(engine: engine, metrics: metrics, history: history, dashboard: ByteBuffer(string: Dashboard.html))
    let server = config.server
    var application = Application(
        responder: ParrotResponderHandle(responder: responder),
        server: .parrotHTTP1(configuration: .init(
            idleTimeout: .seconds(Int64(server.idleTimeoutS)),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: server.maxHeaderBytes, maxHeaderListSize: server.maxHeaderBytes)
        ), engine: engine),
        configuration: .init(
            address: .hostname(server.host, port: server.port),
            serverName: nil,
            // Past max_connections, a few more are accepted for health probes only (ConnectionGuard).
            availableConnectionsDelegate: MaximumAvailableConnections(server.maxConnections + ConnectionGuard.probeSlots)
        ),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? server.port
            for line in StartupSummary(config: config, secrets: secrets, port: port).lines { logger.info("\(line)") }
            await onServerRunning(port)
        },
        logger: logger
    )
    application.addServices(
        UpstreamClientsService(providers: Array(providers.values)),
        StoreClosingService(store: store),
        StoreJanitor(tiers: tiers, config: config.cache, semantic: semantic, logger: logger),
        StatsHistorySampler(history: history, clock: historyClock)
    )
    return ParrotApplication(application: application, engine: engine, history: history)
}

