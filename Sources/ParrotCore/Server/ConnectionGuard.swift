import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Synchronization

/// What one connection may hold and for how long, decided on its event loop before a request
/// reaches the hit fast path or Hummingbird:
/// - a request head must be complete within `server.header_timeout_s` of the connection
///   opening, or of the first byte of a later request; otherwise the connection is closed
///   (idle sockets and slow heads cannot hold connection slots for the whole idle timeout);
/// - a connection accepted while `server.max_connections` client connections are open is a
///   probe connection: it answers one `/healthz` or `/readyz` and closes; anything else gets
///   503 `too_many_connections`;
/// - a method the HTTP parser does not know (`TRACK`) gets the JSON 405 `RequestScreen` gives
///   `TRACE`, not a bare parse-error 400; after `CONNECT` (the parser stops there) the
///   connection closes once answered.
///
/// Sits right after Hummingbird's `HTTPConnectionStateHandler`, so idle timeouts and graceful
/// shutdown see what it answers like any other request.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Connections accepted past `max_connections`, for health probes only.
    static let probeSlots = 8
    /// A probe sends its request at once: its connection gets at most this long.
    static let probeHeadTimeout = TimeAmount.seconds(2)

    private let headTimeout: TimeAmount
    private let probeOnly: Bool
    private let maxConnections: Int

    /// Set while a head is awaited that has begun (or the connection just opened).
    private var waitingSince: NIODeadline?
    private var timer: Scheduled<Void>?
    /// A head was read and its end not yet.
    private var requestOpen = false
    /// Requests whose response has not ended.
    private var unanswered = 0
    private var closeWhenAnswered = false
    /// Everything that follows a refusal, or a probe connection's one request, is dropped.
    private var refused = false
    /// This handler's context while it is in the pipeline, for `HeadByteWatcher`'s calls.
    private var context: ChannelHandlerContext?

    init(headTimeout: TimeAmount, probeOnly: Bool, maxConnections: Int) {
        self.headTimeout = probeOnly ? min(headTimeout, Self.probeHeadTimeout) : headTimeout
        self.probeOnly = probeOnly
        self.maxConnections = maxConnections
    }

    // MARK: head deadline

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { connectionOpened(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        connectionOpened(context: context)
        context.fireChannelActive()
    }

    private func connectionOpened(context: ChannelHandlerContext) {
        guard waitingSince == nil, unanswered == 0, !requestOpen else { return }
        waitingSince = .now()
        armTimer(context: context)
    }

    /// Bytes arrive (`HeadByteWatcher`, before the HTTP decoder): on an idle connection they
    /// begin a new head, and its deadline starts now.
    fileprivate func bytesArriving() {
        if waitingSince == nil, !requestOpen, unanswered == 0 { waitingSince = .now() }
    }

    /// The decoder has seen those bytes: a head still incomplete gets its timer. Most heads
    /// arrive whole in one read, so most requests never schedule one.
    fileprivate func bytesDecoded() {
        if waitingSince != nil, timer == nil, let context { armTimer(context: context) }
    }

    private func armTimer(context: ChannelHandlerContext) {
        guard let since = waitingSince else { return }
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(deadline: since + headTimeout) { [self] in
            timer = nil
            // A head completed in the meantime cleared `waitingSince` (and cancelled this).
            if waitingSince != nil { context.close(promise: nil) }
        }
    }

    private func headArrived() {
        waitingSince = nil
        timer?.cancel()
        timer = nil
    }

    // MARK: requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            headArrived()
            if probeOnly {
                // One request per probe connection, and only a probe; a request pipelined
                // behind it is dropped (the connection closes after the first answer).
                guard unanswered == 0, !closeWhenAnswered else {
                    refused = true
                    return
                }
                guard Self.isProbe(head) else {
                    refuse(.tooManyConnections(limit: maxConnections), context: context)
                    return
                }
                closeWhenAnswered = true
            }
            requestOpen = true
            unanswered += 1
            if head.method == .connect { closeWhenAnswered = true }
        case .body:
            break
        case .end:
            requestOpen = false
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard closeWhenAnswered else {
            if case .end = unwrapOutboundIn(data) { unanswered = max(0, unanswered - 1) }
            context.write(data, promise: promise)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(var head) where unanswered == 1:
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            unanswered = max(0, unanswered - 1)
            if unanswered == 0 {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
            } else {
                context.write(data, promise: promise)
            }
        default:
            context.write(data, promise: promise)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Only when no answer is under way, or this one would cut into it.
        if let error = error as? HTTPParserError, error == .invalidMethod, unanswered == 0 {
            refuse(.methodNotAllowed, context: context)
            return
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        headArrived()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        headArrived()
        self.context = nil
    }

    /// Answers `error` itself and closes the connection; nothing after it is read.
    private func refuse(_ error: ParrotError, context: ChannelHandlerContext) {
        refused = true
        headArrived()
        let body = error.body.byteBuffer
        var headers: HTTPFields = [.contentType: "application/json", .contentLength: String(body.readableBytes), .connection: "close"]
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        context.write(wrapOutboundOut(.head(HTTPResponse(status: error.status, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.close(promise: nil)
    }

    private static func isProbe(_ head: HTTPRequest) -> Bool {
        guard head.method == .get || head.method == .head, let path = head.path else { return false }
        let bare = path.utf8.firstIndex(of: UInt8(ascii: "?")).map { path[..<$0] } ?? path[...]
        return bare == "/healthz" || bare == "/readyz"
    }
}

/// Placed first in the pipeline, before the HTTP decoder: tells `ConnectionGuard` when the
/// bytes of a new request begin and when the decoder has taken them.
final class HeadByteWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let connection: ConnectionGuard

    init(connection: ConnectionGuard) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.bytesArriving()
        context.fireChannelRead(data)
        connection.bytesDecoded()
    }
}

/// Client connections open right now, counted as they are set up and closed; a connection set
/// up while `max_connections` are open is a probe connection.
final class ConnectionCount: Sendable {
    private let open = Atomic<Int>(0)

    /// Counts a new connection until `channel` closes; returns how many are open with it.
    func opened(_ channel: any Channel) -> Int {
        let count = open.add(1, ordering: .relaxed).newValue
        channel.closeFuture.whenComplete { _ in self.open.subtract(1, ordering: .relaxed) }
        return count
    }
}
