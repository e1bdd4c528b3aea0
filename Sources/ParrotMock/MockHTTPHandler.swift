import NIOCore
import NIOHTTP1

/// Plays one ``MockReply`` per request onto the connection. Faults close the channel itself,
/// so the client sees exactly what a dying upstream produces: no response at all, or a body
/// that stops short of its Content-Length or its chunked terminator.
final class MockHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: MockCore
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    /// The delay or gap being waited out; cancelled when the connection goes away so a stalled
    /// or slow answer never outlives its client.
    private var pending: Scheduled<Void>?

    init(core: MockCore) {
        self.core = core
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body = nil
        case .body(var part):
            if body == nil {
                body = part
            } else {
                body!.writeBuffer(&part)
            }
        case .end:
            guard let head else { return }
            let body = self.body ?? ByteBuffer()
            self.head = nil
            self.body = nil
            let reply = core.reply(to: head, body: body)
            // HTTP/1.0 has no chunked encoding: a stream there ends with the connection.
            var keepAlive = head.isKeepAlive
            if case .respond(_, _, .events) = reply.action, head.version == .http1_0 { keepAlive = false }
            after(ms: reply.delayMs, context: context) {
                self.perform(reply.action, version: head.version, keepAlive: keepAlive, context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        pending?.cancel()
        pending = nil
        context.fireChannelInactive()
    }

    private func after(ms: Int, context: ChannelHandlerContext, _ work: @escaping () -> Void) {
        guard ms > 0 else { return work() }
        after(.milliseconds(Int64(ms)), context: context, work)
    }

    private func after(_ delay: TimeAmount, context: ChannelHandlerContext, _ work: @escaping () -> Void) {
        pending = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            pending = nil
            guard context.channel.isActive else { return }
            work()
        }
    }

    private func perform(_ action: MockReply.Action, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        switch action {
        case .closeWithoutResponse:
            context.close(promise: nil)
        case .stall:
            after(MockReply.stallLimit, context: context) { context.close(promise: nil) }
        case .respond(let status, var headers, let body):
            if !keepAlive {
                headers.replaceOrAdd(name: "connection", value: "close")
            } else if version == .http1_0 {
                headers.replaceOrAdd(name: "connection", value: "keep-alive")
            }
            let headWritten = context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))))
            let parts: [ByteBuffer]
            let gapMs: Int
            let closesEarly: Bool
            var lingerMs = 0
            switch body {
            case .full(let buffer, let pieces, let gap, let cutAt):
                parts = Self.split(buffer, pieces: pieces, cutAt: cutAt)
                (gapMs, closesEarly) = (gap, cutAt != nil)
            case .events(let events, let gap, let cutAt, let linger):
                context.flush()
                parts = cutAt.map { Array(events.prefix($0)) } ?? events
                (gapMs, closesEarly, lingerMs) = (gap, cutAt != nil, linger)
            case .endless(let first, let event):
                context.write(wrapOutboundOut(.body(.byteBuffer(first))), promise: nil)
                context.flush()
                sendForever(event, context: context)
                return
            }
            send(parts, from: 0, gapMs: gapMs, lingerMs: lingerMs, closesEarly: closesEarly, keepAlive: keepAlive, lastWrite: headWritten,
                 context: context)
        }
    }

    /// Writes `parts[index...]`, each flushed on its own and `gapMs` apart, then ends the
    /// response cleanly, or, when `closesEarly`, closes the connection once the last part has
    /// reached the socket (closing earlier could drop bytes the fault means to deliver).
    private func send(
        _ parts: [ByteBuffer],
        from index: Int,
        gapMs: Int,
        lingerMs: Int = 0,
        closesEarly: Bool,
        keepAlive: Bool,
        lastWrite: EventLoopFuture<Void>,
        context: ChannelHandlerContext
    ) {
        var index = index
        var lastWrite = lastWrite
        while index < parts.count {
            lastWrite = context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(parts[index]))))
            index += 1
            if gapMs > 0, index < parts.count {
                let next = index
                let written = lastWrite
                after(ms: gapMs, context: context) {
                    self.send(
                        parts, from: next, gapMs: gapMs, lingerMs: lingerMs, closesEarly: closesEarly, keepAlive: keepAlive,
                        lastWrite: written, context: context)
                }
                return
            }
        }
        if closesEarly {
            context.flush()
            lastWrite.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        if lingerMs > 0 {
            after(ms: lingerMs, context: context) {
                self.send([], from: 0, gapMs: 0, closesEarly: false, keepAlive: keepAlive, lastWrite: lastWrite, context: context)
            }
            return
        }
        let ended = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            ended.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// Writes `event` while the connection is writable and checks again a millisecond later
    /// when it is not, until the client goes away (`after` is cancelled on close).
    private func sendForever(_ event: ByteBuffer, context: ChannelHandlerContext) {
        var written = 0
        while context.channel.isWritable, written < 64 {
            context.write(wrapOutboundOut(.body(.byteBuffer(event))), promise: nil)
            written += 1
        }
        context.flush()
        after(.milliseconds(1), context: context) { self.sendForever(event, context: context) }
    }

    /// `pieces` slices of `buffer`, stopping after `cutAt` bytes when set.
    private static func split(_ buffer: ByteBuffer, pieces: Int, cutAt: Int?) -> [ByteBuffer] {
        let length = min(cutAt ?? buffer.readableBytes, buffer.readableBytes)
        let pieces = max(1, min(pieces, length))
        var parts: [ByteBuffer] = []
        parts.reserveCapacity(pieces)
        var offset = 0
        for piece in 0..<pieces {
            let end = length * (piece + 1) / pieces
            if let slice = buffer.getSlice(at: buffer.readerIndex + offset, length: end - offset) {
                parts.append(slice)
            }
            offset = end
        }
        return parts
    }
}
