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
///   - onServerRunning: called with the bound port once the listener is up.
public func buildApplication(
    config: ProxyConfig,
    secrets: Secrets,
    logger: Logger,
    clients: [String: any UpstreamClient] = [:],
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
                                   stats: stats.provider(name), logger: logger)
    }
    let tiers = CacheTiers(memory: MemoryTier(capacityBytes: config.cache.memoryBytes), store: store, logger: logger)
    var semantic: SemanticTier? = nil
    if config.semantic.enabled, let embeddingProvider = providers[config.semantic.embeddingProvider] {
        let embedder = OpenAIEmbedder(provider: embeddingProvider, model: config.semantic.model, timeoutMs: config.semantic.timeoutMs)
        semantic = SemanticTier(config: config.semantic, embedder: embedder, logger: logger)
        await semantic?.sync(from: store)
    }
    let engine = try ProxyEngine(
        config: config, secrets: secrets, providers: providers, tiers: tiers, stats: stats,
        namespaces: NamespaceDeriver(secret: secret, shareAcrossKeys: config.cache.shareAcrossKeys), semantic: semantic, logger: logger
    )
    let responder = ParrotResponder(engine: engine, metrics: PrometheusExporter(), dashboard: ByteBuffer(string: Dashboard.html))
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
            availableConnectionsDelegate: MaximumAvailableConnections(server.maxConnections)
        ),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? server.port
            logger.notice("Parrot listening", metadata: ["address": "http://\(server.host):\(port)", "store": "\(config.cache.store)"])
            await onServerRunning(port)
        },
        logger: logger
    )
    application.addServices(
        UpstreamClientsService(providers: Array(providers.values)),
        StoreClosingService(store: store),
        StoreJanitor(tiers: tiers, config: config.cache, semantic: semantic, logger: logger)
    )
    return ParrotApplication(application: application, engine: engine)
}
