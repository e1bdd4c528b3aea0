import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers memory-tier hits on the connection's event loop, before a request reaches
/// Hummingbird's async responder. A hit is the hot path: there, Hummingbird's per-request work
/// (a hop into Swift concurrency and back, a request body stream, a response writer) costs
/// more than Parrot's own. Anything this handler does not answer reaches Hummingbird exactly
/// as it arrived (head, body, end), only later; `ProxyEngine.handle` then decides everything,
/// errors included, as if this handler were not there.
///
/// Sits after Hummingbird's `HTTPConnectionStateHandler`, so idle timeouts and graceful
/// shutdown see the requests answered here like any other.
final class HitFastPathHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        case idle
        /// A request that may be a repeat: held until its end.
        case holding(head: HTTPRequest, body: ByteBuffer?, started: ContinuousClock.Instant)
        /// The current request goes on to Hummingbird part by part.
        case passing
    }

    private let engine: ProxyEngine
    private var state = State.idle
    /// Requests handed on whose response has not ended: while one is open, a later request must
    /// wait its turn there, or its answer would overtake the earlier one's.
    private var open = 0
    /// A request handed on asked to close the connection: Hummingbird answers it and closes,
    /// so nothing after it may be answered here.
    private var closing = false
    private var date = HTTPDate()

    init(engine: ProxyEngine) {
        self.engine = engine
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (state, unwrapInboundIn(data)) {
        case (.idle, .head(let head)):
            // Not while the client is not reading its answers either: held back by Hummingbird's
            // backpressure, it cannot pile answers up in the outbound buffer.
            // Nor anything `RequestScreen` would refuse or dress with CORS headers: the
            // responder asks it first and answers those.
            if open == 0, !closing, context.channel.isWritable, Self.mayBeRepeat(head), case .pass = engine.screen.screen(head) {
                state = .holding(head: head, body: nil, started: .now)
            } else {
                if Self.asksToClose(head) { closing = true }
                open += 1
                state = .passing
                context.fireChannelRead(data)
            }
        case (.holding(let head, var body, let started), .body(let chunk)):
            if (body?.readableBytes ?? 0) + chunk.readableBytes > KeyMemo.maxBodyBytes {
                handOn(head: head, body: body, context: context)
                context.fireChannelRead(data)
            } else {
                if body == nil { body = chunk } else { body!.writeImmutableBuffer(chunk) }
                state = .holding(head: head, body: body, started: started)
            }
        case (.holding(let head, let body, let started), .end(let trailers)):
            state = .idle
            if trailers == nil, let answer = engine.quickHit(head: head, body: body ?? ByteBuffer(), started: started) {
                write(answer, context: context)
            } else {
                handOn(head: head, body: body, context: context)
                state = .idle
                context.fireChannelRead(data)
            }
        case (.passing, .end):
            state = .idle
            context.fireChannelRead(data)
        default:
            // `.passing` parts, and whatever else the parser sends: on, unchanged.
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { open = max(0, open - 1) }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A connection closed mid-request: Hummingbird sees its stream end, as it would have.
        state = .idle
        context.fireChannelInactive()
    }

    /// Passes on a held request's head and body; its remaining parts follow as they arrive.
    private func handOn(head: HTTPRequest, body: ByteBuffer?, context: ChannelHandlerContext) {
        open += 1
        state = .passing
        context.fireChannelRead(wrapInboundOut(.head(head)))
        if let body { context.fireChannelRead(wrapInboundOut(.body(body))) }
    }

    private func write(_ answer: ProxyEngine.HitAnswer, context: ChannelHandlerContext) {
        var headers = answer.headers
        headers[.date] = date.current()
        context.write(wrapOutboundOut(.head(HTTPResponse(status: answer.status, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private static func asksToClose(_ head: HTTPRequest) -> Bool {
        head.headerFields[values: .connection].contains { $0.lowercased().contains("close") }
    }

    /// A POST with a small, declared body and nothing about the connection itself (`Connection`,
    /// `Expect`) that Hummingbird must see. The path and everything else `quickHit` checks.
    private static func mayBeRepeat(_ head: HTTPRequest) -> Bool {
        guard head.method == .post else { return false }
        var declared = false
        for field in head.headerFields {
            switch field.name {
            case .contentLength:
                guard let length = Int(field.value), length <= KeyMemo.maxBodyBytes else { return false }
                declared = true
            case .connection, .expect, .transferEncoding:
                return false
            default:
                continue
            }
        }
        return declared
    }
}
