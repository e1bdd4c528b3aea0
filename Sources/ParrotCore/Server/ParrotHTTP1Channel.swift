import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1.1 channel with `ConnectionGuard` and then `HitFastPathHandler` placed
/// right after its connection state handler, where they see parsed requests before those enter
/// Swift concurrency, and `HeadByteWatcher` first of all, where it sees the bytes.
/// (`HTTP1Channel.Configuration.additionalChannelHandlers` would place it before that state
/// handler, which would then take connections busy with hits for idle ones.)
struct ParrotHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let http1: HTTP1Channel
    let engine: ProxyEngine
    let connections: ConnectionCount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let server = engine.config.server
        let probeOnly = connections.opened(channel) > server.maxConnections
        return http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let state = try pipeline.handler(type: HTTPConnectionStateHandler.self)
            let connection = ConnectionGuard(headTimeout: .seconds(Int64(server.headerTimeoutS)), probeOnly: probeOnly,
                                             maxConnections: server.maxConnections)
            try pipeline.addHandler(connection, position: .after(state))
            try pipeline.addHandler(HitFastPathHandler(engine: engine), position: .after(connection))
            try pipeline.addHandler(HeadByteWatcher(connection: connection), position: .first)
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with Parrot's hit fast path.
    static func parrotHTTP1(configuration: HTTP1Channel.Configuration, engine: ProxyEngine) -> HTTPServerBuilder {
        let connections = ConnectionCount()
        return .init { responder in
            ParrotHTTP1Channel(http1: HTTP1Channel(responder: responder, configuration: configuration), engine: engine,
                               connections: connections)
        }
    }
}
