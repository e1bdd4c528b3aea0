import NIOHTTP1

/// Everything that shapes one answer, resolved once per request: options first, then the
/// `x-mock-*` headers, then the scripted behaviour (a test's script wins over the headers).
struct MockControls {
    var status: Int?
    var retryAfter: Int?
    var delayMs: Int
    var chunkDelayMs: Int
    var chunkCount: Int
    var cutAfter: Int?
    var closeWithoutResponse = false
    var resetMidBody = false
    var stall = false
    var invalidJSON = false
    /// Plain JSON bodies are dripped only when a script asks, so a global chunk delay slows
    /// streams without also slowing every plain answer.
    var dripsPlainBody = false
    var contentSize: Int?
    var gzip: Bool
    /// Spaces after the opening brace of a plain JSON answer (`x-mock-padding: N`): JSON mode's
    /// documented failure, an answer that is mostly whitespace and compresses a thousandfold.
    var padding = 0
    /// A streamed answer that never ends (`x-mock-endless: 1`).
    var endless = false
    /// Streams: milliseconds between `data: [DONE]` and the end of the body (`x-mock-linger-ms`).
    var lingerMs = 0

    init(options: MockOptions, headers: HTTPHeaders) {
        delayMs = options.latencyMs
        chunkDelayMs = options.chunkDelayMs
        chunkCount = options.chunkCount
        contentSize = options.contentSize
        var wantsGzip = options.gzip
        var acceptsGzip = false
        // One pass over the headers: the hot path of a benchmark reads them for every request.
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower == "accept-encoding" {
                acceptsGzip = acceptsGzip || Self.acceptsGzip(value)
                continue
            }
            guard lower.hasPrefix("x-mock-") else { continue }
            let number = Int(value.trimmingSpaces)
            let flag = value.trimmingSpaces == "1" || value.lowercased().trimmingSpaces == "true"
            switch lower {
            case "x-mock-status": status = number
            case "x-mock-retry-after": retryAfter = number
            case "x-mock-delay-ms": delayMs = number ?? delayMs
            case "x-mock-chunk-delay-ms": chunkDelayMs = number ?? chunkDelayMs
            case "x-mock-chunks": chunkCount = number ?? chunkCount
            case "x-mock-cut-after": cutAfter = number
            case "x-mock-close": closeWithoutResponse = flag
            case "x-mock-reset": resetMidBody = flag
            case "x-mock-stall": stall = flag
            case "x-mock-invalid-json": invalidJSON = flag
            case "x-mock-size": contentSize = number
            case "x-mock-gzip": wantsGzip = flag
            case "x-mock-padding": padding = max(0, number ?? 0)
            case "x-mock-endless": endless = flag
            case "x-mock-linger-ms": lingerMs = max(0, number ?? 0)
            default: break
            }
        }
        gzip = wantsGzip && acceptsGzip
        chunkCount = max(1, chunkCount)
    }

    private static func acceptsGzip(_ value: String) -> Bool {
        value.lowercased().split(separator: ",").contains { coding in
            String(coding.split(separator: ";").first ?? "").trimmingSpaces == "gzip"
        }
    }

    mutating func apply(_ behaviour: MockBehaviour) {
        switch behaviour {
        case .normal: break
        case .status(let code, let retryAfter):
            status = code
            self.retryAfter = retryAfter
        case .delay(let ms): delayMs = ms
        case .stall: stall = true
        case .closeWithoutResponse: closeWithoutResponse = true
        case .cutStream(let chunks): cutAfter = chunks
        case .resetMidBody: resetMidBody = true
        case .invalidJSON: invalidJSON = true
        case .huge(let bytes): contentSize = bytes
        case .slowDrip(let ms):
            chunkDelayMs = ms
            dripsPlainBody = true
        }
    }
}

extension String {
    var trimmingSpaces: Substring {
        var slice = self[...]
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return slice
    }
}
