import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1.1 channel with `HitFastPathHandler` placed right after its connection
/// state handler, where it sees parsed requests before they enter Swift concurrency.
/// (`HTTP1Channel.Configuration.additionalChannelHandlers` would place it before that state
/// handler, which would then take connections busy with hits for idle ones.)
struct ParrotHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let http1: HTTP1Channel
    let engine: ProxyEngine

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let state = try pipeline.handler(type: HTTPConnectionStateHandler.self)
            try pipeline.addHandler(HitFastPathHandler(engine: engine), position: .after(state))
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
        .init { responder in
            ParrotHTTP1Channel(http1: HTTP1Channel(responder: responder, configuration: configuration), engine: engine)
        }
    }
}
