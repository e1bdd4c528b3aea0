import NIOCore
import NIOHTTP1

/// Everything the channel handler writes for one request, decided before the first byte, so
/// the wire code only sequences writes, delays and closes.
struct MockReply {
    enum Action {
        case respond(status: HTTPResponseStatus, headers: HTTPHeaders, body: Body)
        case closeWithoutResponse
        /// Write nothing; the connection ends when the client closes it or after ``stallLimit``.
        case stall
    }

    enum Body {
        /// A Content-Length body written in `pieces` writes `gapMs` apart. With `cutAt` the
        /// connection is closed after that many bytes, short of the announced length.
        case full(ByteBuffer, pieces: Int, gapMs: Int, cutAt: Int?)
        /// A chunked body of SSE events, each written and flushed on its own, `gapMs` apart.
        /// With `cutAt` the connection is closed after that many events, with no terminating
        /// chunk.
        case events([ByteBuffer], gapMs: Int, cutAt: Int?)
    }

    var action: Action
    /// Wait before the response head (or before the close).
    var delayMs: Int

    static let stallLimit = TimeAmount.seconds(120)
}
