import NIOCore
import NIOHTTP1
import NIOPosix

/// Another web site on another port: serves one HTML page to every GET, as a site the developer
/// happens to have open would. For browser tests of what such a page can make Parrot do.
final class PageServer: Sendable {
    private let channel: any Channel
    let port: Int

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    static func start(html: String) async throws -> PageServer {
        let page = ByteBuffer(string: html)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(PageHandler(page: page))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return PageServer(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}

private final class PageHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let page: ByteBuffer

    init(page: ByteBuffer) {
        self.page = page
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let headers = HTTPHeaders([
            ("content-type", "text/html; charset=utf-8"), ("content-length", "\(page.readableBytes)"), ("cache-control", "no-store"),
        ])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(page))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
