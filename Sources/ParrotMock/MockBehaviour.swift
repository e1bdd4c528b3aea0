/// A scripted way to answer one request (``MockUpstream/enqueue(_:times:)``) or every request
/// (``MockUpstream/setDefaultBehaviour(_:)``). Each case mirrors one `x-mock-*` request header, so
/// a test can provoke the same fault with or without control over the request's headers.
public enum MockBehaviour: Sendable {
    /// Answer as the options and headers say.
    case normal
    /// An OpenAI-shaped error with this status; `retryAfter` adds `Retry-After: N` (seconds).
    case status(Int, retryAfter: Int? = nil)
    /// Wait this long before the response head.
    case delay(ms: Int)
    /// Send nothing until the client gives up (the connection is closed after 120 s at most).
    case stall
    /// Close the TCP connection without writing a byte of response.
    case closeWithoutResponse
    /// Streamed answers: close the connection after this many content chunks, with no final
    /// chunk, no `[DONE]` and no chunked-encoding terminator. Plain answers: like `resetMidBody`.
    case cutStream(afterChunks: Int)
    /// Plain answers: send the head (with the full Content-Length) and half the body, then close.
    /// Streamed answers: cut after half the content chunks.
    case resetMidBody
    /// 200 with `application/json` and a truncated JSON body.
    case invalidJSON
    /// Answer content of about this many bytes.
    case huge(bytes: Int)
    /// Stream events this far apart; plain JSON answers are sent in `chunkCount` pieces this far
    /// apart (Content-Length still announces the whole body).
    case slowDrip(chunkDelayMs: Int)
}
