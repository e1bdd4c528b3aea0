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
        /// `lingerMs`: wait this long after the last event before ending the body, as a
        /// provider does after `data: [DONE]` (clients stop reading at `[DONE]`).
        case events([ByteBuffer], gapMs: Int, cutAt: Int?, lingerMs: Int = 0)
        /// A chunked SSE body that never ends: `first`, then `event` again and again, written
        /// only while the connection is writable (so the mock itself stays small), until the
        /// client closes the connection.
        case endless(first: ByteBuffer, event: ByteBuffer)
    }

    var action: Action
    /// Wait before the response head (or before the close).
    var delayMs: Int

    static let stallLimit = TimeAmount.seconds(120)
}
