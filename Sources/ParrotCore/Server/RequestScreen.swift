import HTTPTypes

/// The rules of DESIGN.md "Hostile clients and web pages" that a request head alone decides:
/// HTTP/1.1 framing (one `Host`), the name the client was pointed at (DNS rebinding), the page
/// that sent it (`Origin`, `Sec-Fetch-Site`), and methods and paths an OpenAI API never needs.
/// The event-loop hit path and the async responder both ask it first, so nothing either of
/// them answers or forwards has slipped past it.
///
/// One pass over the header fields, no allocation for an ordinary request.
struct RequestScreen: Sendable {
    enum Verdict: Equatable {
        /// Serve it as usual.
        case pass
        /// Serve it, and let the page at `origin` (listed in `server.allowed_origins`) read the answer.
        case passCrossOrigin(origin: String)
        /// A CORS preflight from an allowed origin, answered by Parrot itself. Any other
        /// `OPTIONS` is refused: none is ever forwarded.
        case preflight(origin: String)
        case refuse(ParrotError)
    }

    /// Whether `Host` is checked at all: always on a loopback listener, elsewhere once
    /// `server.allowed_hosts` is set.
    private let checksHost: Bool
    /// Lower-cased names (any port) and `name:port` pairs (that port only).
    private let allowedHosts: Set<String>
    private let allowedOrigins: Set<String>

    static let loopbackHosts = ["localhost", "127.0.0.1", "[::1]"]
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
    static let host = HTTPField.Name("Host")!

    init(config: ServerConfig) {
        checksHost = ProxyConfig.isLoopback(config.host) || !config.allowedHosts.isEmpty
        // The address Parrot listens on is a name it answers to (`parrot stats` uses it).
        let listener = config.host.contains(":") ? "[\(config.host)]" : config.host
        allowedHosts = Set(Self.loopbackHosts + [listener.lowercased()] + config.allowedHosts.map { $0.lowercased() })
        allowedOrigins = Set(config.allowedOrigins.compactMap(Self.normalizedOrigin))
    }

    func screen(_ head: HTTPRequest) -> Verdict {
        var origin: String? = nil
        var site: String? = nil
        for field in head.headerFields {
            switch field.name {
            case .origin: origin = field.value
            case Self.secFetchSite: site = field.value
            // The first Host became `authority`; one left among the fields is a second one.
            case Self.host: return .refuse(Self.hostCount)
            default: continue
            }
        }
        guard let authority = head.authority, !authority.isEmpty else { return .refuse(Self.hostCount) }
        let target = head.path ?? "/"
        let path = target.utf8.firstIndex(of: UInt8(ascii: "?")).map { target[..<$0] } ?? target[...]
        if checksHost, !isAllowedHost(authority), path != "/healthz", path != "/readyz" {
            return .refuse(.misdirectedRequest(host: authority))
        }
        // `TRACK` is unknown to the HTTP parser: `ConnectionGuard` answers it where parse errors arrive.
        if head.method == .trace || head.method == .connect || head.method.rawValue == "TRACK" { return .refuse(.methodNotAllowed) }
        if let problem = Self.pathProblem(path) {
            return .refuse(.invalidRequest("Request path \(problem); Parrot never forwards such a path.", param: nil))
        }
        let admin = path == "/cache" || path == "/stats/reset"
        if let origin {
            if Self.isSameOrigin(origin, authority: authority) {
                return head.method == .options ? .refuse(.methodNotAllowed) : .pass
            }
            if !admin, let allowed = allowedOrigin(origin) {
                return head.method == .options ? .preflight(origin: allowed) : .passCrossOrigin(origin: allowed)
            }
            let why = admin ? "admin endpoints never accept cross-site requests" : "list it in server.allowed_origins to allow it"
            return .refuse(.forbidden("Requests from the web page at \(origin) are refused: \(why)."))
        }
        // No Origin, yet sent by a page of another site: a navigation, or an <img>/<script> load.
        if let site, site == "cross-site" || site == "same-site",
           admin || path.hasPrefix("/v1") || (head.method != .get && head.method != .head) {
            return .refuse(.forbidden("Cross-site requests are refused (Sec-Fetch-Site: \(site))."))
        }
        return head.method == .options ? .refuse(.methodNotAllowed) : .pass
    }

    private static let hostCount = ParrotError.invalidRequest("A request must carry exactly one Host header (RFC 9112 §3.2).", param: nil)

    private func isAllowedHost(_ authority: String) -> Bool {
        if allowedHosts.contains(authority) { return true }
        let name = Self.hostName(authority)
        if allowedHosts.contains(name) { return true }
        let lower = authority.lowercased()
        return allowedHosts.contains(lower) || allowedHosts.contains(Self.hostName(lower))
    }

    /// `example.com:8080` → `example.com`, `[::1]:8080` → `[::1]`.
    static func hostName(_ authority: String) -> String {
        let utf8 = authority.utf8
        if utf8.first == UInt8(ascii: "[") {
            guard let close = utf8.firstIndex(of: UInt8(ascii: "]")) else { return authority }
            return String(authority[...close])
        }
        guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")) else { return authority }
        return String(authority[..<colon])
    }

    private func allowedOrigin(_ origin: String) -> String? {
        if allowedOrigins.contains(origin) { return origin }
        guard let normalized = Self.normalizedOrigin(origin), allowedOrigins.contains(normalized) else { return nil }
        return origin
    }

    /// Parrot's own pages (the dashboard) send `Origin: http://<Host>`, or `https://<Host>`
    /// behind a TLS-terminating proxy that passes the `Host` on.
    static func isSameOrigin(_ origin: String, authority: String) -> Bool {
        let o = origin.utf8, a = authority.utf8
        for scheme in ["http://".utf8, "https://".utf8] where o.count == scheme.count + a.count && o.starts(with: scheme) {
            return zip(o.dropFirst(scheme.count), a).allSatisfy { x, y in x | 0x20 == y | 0x20 && (x == y || Self.isLetter(x)) }
        }
        return false
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    /// `scheme://host[:port]`, lower-cased and without a trailing slash; nil for anything else
    /// (a path, a wildcard, `null`).
    static func normalizedOrigin(_ text: String) -> String? {
        var value = text.lowercased()
        if value.hasSuffix("/") { value.removeLast() }
        guard let range = value.range(of: "://") else { return nil }
        let scheme = value[..<range.lowerBound]
        let host = String(value[range.upperBound...])
        guard scheme == "http" || scheme == "https", ProxyConfig.isHostName(host), !host.contains("*") else { return nil }
        return value
    }

    /// Why `path` must not be forwarded, or nil: a `.` or `..` segment (literal or
    /// percent-encoded), or an encoded `/` or `\`, which the provider or a proxy in front of it
    /// may resolve to another path than the one Parrot routed, priced and keyed.
    static func pathProblem(_ path: Substring) -> String? {
        let bytes = path.utf8
        var dots = 0
        var other = false
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let byte = bytes[i]
            bytes.formIndex(after: &i)
            switch byte {
            case UInt8(ascii: "/"):
                if !other, dots == 1 || dots == 2 { return "has a dot segment" }
                dots = 0
                other = false
            case UInt8(ascii: "."):
                dots += 1
            case UInt8(ascii: "%"):
                guard i != bytes.endIndex else { other = true; continue }
                let high = bytes[i]
                let next = bytes.index(after: i)
                guard next != bytes.endIndex else { other = true; continue }
                let low = bytes[next] | 0x20
                switch (high, low) {
                case (UInt8(ascii: "2"), UInt8(ascii: "e")):
                    dots += 1
                case (UInt8(ascii: "2"), UInt8(ascii: "f")), (UInt8(ascii: "5"), UInt8(ascii: "c")):
                    return "has an encoded slash"
                default:
                    other = true
                }
                i = bytes.index(after: next)
            default:
                other = true
            }
        }
        if !other, dots == 1 || dots == 2 { return "has a dot segment" }
        return nil
    }

    // MARK: answers

    /// Response headers a provider might send that only Parrot may set.
    static func isCORSHeader(_ name: String) -> Bool {
        let prefix = "access-control-".utf8
        guard name.utf8.count > prefix.count else { return false }
        return zip(name.utf8, prefix).allSatisfy { $0 == $1 || $0 | 0x20 == $1 }
    }

    static let exposedHeaders = "X-Parrot-Cache, X-Parrot-Key, X-Parrot-Provider, X-Parrot-Similarity, X-Parrot-Sample, "
        + "X-Parrot-Cached-Inputs, Age, Retry-After, X-Request-Id"

    /// Lets the page at `origin` read this answer.
    static func allowCrossOrigin(_ headers: inout HTTPFields, origin: String) {
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlExposeHeaders] = exposedHeaders
        headers.append(HTTPField(name: .vary, value: "Origin"))
    }

    /// Parrot's answer to a CORS preflight from the allowed `origin`.
    static func preflightAnswer(origin: String, request: HTTPFields) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentLength] = "0"
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlAllowMethods] = "GET, HEAD, POST, DELETE"
        if let asked = request[.accessControlRequestHeaders] { headers[.accessControlAllowHeaders] = asked }
        headers[.accessControlMaxAge] = "600"
        headers[.vary] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        return headers
    }
}
