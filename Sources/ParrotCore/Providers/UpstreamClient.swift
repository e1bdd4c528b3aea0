import HTTPTypes
import NIOCore

/// The seam between Parrot and a provider's HTTP API, so the proxy logic can be exercised
/// against any transport.
public protocol UpstreamClient: Sendable {
    func send(_ request: UpstreamRequest) async throws(ParrotError) -> UpstreamResponse
    /// Connections in use right now, for `/stats`.
    var inFlight: Int { get }
    func shutdown() async throws
}

public struct UpstreamRequest: Sendable {
    public enum Body: Sendable {
        case none
        case bytes(ByteBuffer)
        case stream(any AsyncSequence<ByteBuffer, any Error> & Sendable, length: Int?)
    }

    public var method: HTTPRequest.Method
    public var url: String
    public var headers: [(String, String)]
    public var body: Body
    /// When the client's request runs out of time (`server.request_timeout_ms`): a response head
    /// not received by then is a timeout, whatever the provider's own `timeout_ms` allows.
    public var deadline: ContinuousClock.Instant?

    public init(method: HTTPRequest.Method, url: String, headers: [(String, String)], body: Body,
                deadline: ContinuousClock.Instant? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.deadline = deadline
    }
}

public struct UpstreamHead: Sendable {
    public var status: Int
    /// End-to-end headers only; hop-by-hop and transfer encodings are already removed.
    public var headers: [(String, String)]

    public init(status: Int, headers: [(String, String)]) {
        self.status = status
        self.headers = headers
    }

    /// - Parameter name: in lower case (header names are case-insensitive; this is on the hot
    ///   path, so names are compared as bytes after an ASCII lower-casing of the stored one).
    public func header(_ name: String) -> String? {
        headers.first { Self.equalsLowercased($0.0, name) }?.1
    }

    static func equalsLowercased(_ stored: String, _ lowercased: String) -> Bool {
        let a = stored.utf8, b = lowercased.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in (x >= 65 && x <= 90 ? x | 0x20 : x) == y }
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// A 5xx or a 429: the provider could not answer. Counted in its `errors`, retried, and
    /// the moment for a stale answer or the fallback once retries are exhausted; a 5xx is also
    /// a breaker failure (a 429 is the provider pacing Parrot, not failing).
    public var isProviderFailure: Bool { Self.isProviderFailure(status: status) }

    static func isProviderFailure(status: Int) -> Bool { status >= 500 || status == 429 }
}

public struct UpstreamResponse: Sendable {
    public var head: UpstreamHead
    public var body: any AsyncSequence<ByteBuffer, any Error> & Sendable

    public init(head: UpstreamHead, body: any AsyncSequence<ByteBuffer, any Error> & Sendable) {
        self.head = head
        self.body = body
    }
}

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus the ones Parrot
/// sets itself.
enum HopByHop {
    static let names: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding",
        "content-encoding",
    ]

    static func isHopByHop(_ name: String, connectionTokens: Set<String> = []) -> Bool {
        let lower = name.lowercased()
        return names.contains(lower) || connectionTokens.contains(lower)
    }
}

import Foundation
