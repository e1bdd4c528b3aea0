import HTTPTypes
import Hummingbird
import NIOCore

/// Every error Parrot itself produces. Each maps to one OpenAI-shaped JSON body and status in
/// `response`, so clients that parse OpenAI errors handle Parrot's the same way.
public enum ParrotError: Error, Sendable, Equatable {
    case invalidRequest(String, param: String?)
    case bodyTooLarge(limit: Int)
    case notFound(path: String)
    case methodNotAllowed
    case unauthorized(String)
    case forbidden(String)
    /// The request's `Host` is not a name this listener answers to (DNS rebinding).
    case misdirectedRequest(host: String)
    /// Every client connection slot is taken; only health probes are answered.
    case tooManyConnections(limit: Int)
    case upstreamUnreachable(provider: String, reason: String)
    case upstreamTimeout(provider: String)
    case upstreamInvalidAnswer(provider: String, reason: String)
    /// The provider's answer, decompressed, passed `providers.NAME.max_answer_bytes`: refused
    /// whole, never truncated, and not the provider's failure (the breaker does not count it).
    case answerTooLarge(provider: String, limit: Int)
    case rateLimited(provider: String, retryAfter: Int)
    case breakerOpen(provider: String, retryAfter: Int)
    case shuttingDown
    case internalError(String)
    /// The provider answered with an error status after retries; relayed as it came unless a
    /// stale answer or a fallback can serve instead.
    case upstreamStatus(UpstreamErrorAnswer)
    /// An offline request (`only-if-cached`, replay mode) the cache cannot answer: 504, and the
    /// provider was never contacted.
    case cacheMiss(model: String, keyPrefix: String, reason: String)

    public var status: HTTPResponse.Status {
        switch self {
        case .invalidRequest: .badRequest
        case .bodyTooLarge: .contentTooLarge
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .misdirectedRequest: .misdirectedRequest
        case .upstreamUnreachable, .upstreamInvalidAnswer, .answerTooLarge: .badGateway
        case .upstreamTimeout, .cacheMiss: .gatewayTimeout
        case .rateLimited: .tooManyRequests
        case .breakerOpen, .shuttingDown, .tooManyConnections: .serviceUnavailable
        case .internalError: .internalServerError
        case .upstreamStatus(let answer): .init(code: answer.status)
        }
    }

    var type: String {
        switch self {
        case .invalidRequest, .bodyTooLarge, .notFound, .methodNotAllowed, .misdirectedRequest: "invalid_request_error"
        case .unauthorized, .forbidden: "authentication_error"
        case .rateLimited: "rate_limit_error"
        case .upstreamUnreachable, .upstreamTimeout, .upstreamInvalidAnswer, .answerTooLarge, .breakerOpen, .shuttingDown: "upstream_error"
        case .internalError, .upstreamStatus, .tooManyConnections: "server_error"
        case .cacheMiss: "cache_miss"
        }
    }

    var code: String {
        switch self {
        case .invalidRequest: "invalid_request"
        case .bodyTooLarge: "request_too_large"
        case .notFound: "unknown_url"
        case .methodNotAllowed: "method_not_allowed"
        case .unauthorized: "invalid_parrot_token"
        case .forbidden: "forbidden"
        case .misdirectedRequest: "misdirected_request"
        case .tooManyConnections: "too_many_connections"
        case .upstreamUnreachable: "upstream_unreachable"
        case .upstreamTimeout: "upstream_timeout"
        case .upstreamInvalidAnswer: "upstream_invalid_response"
        case .answerTooLarge: "answer_too_large"
        case .rateLimited: "rate_limit_exceeded"
        case .breakerOpen: "provider_unavailable"
        case .shuttingDown: "shutting_down"
        case .internalError: "internal_error"
        case .upstreamStatus: "upstream_error"
        case .cacheMiss: "cache_miss"
        }
    }

    public var message: String {
        switch self {
        case .invalidRequest(let m, _): m
        case .bodyTooLarge(let limit): "Request body is larger than the limit of \(limit) bytes (server.max_body_bytes)."
        case .notFound(let path): "Unknown path \(path). Parrot serves /v1/*, /stats, /metrics, /healthz, /readyz and /dashboard."
        case .methodNotAllowed: "Method not allowed on this path."
        case .unauthorized(let m), .forbidden(let m): m
        case .misdirectedRequest(let host):
            "Host '\(host)' is not served here; add it to server.allowed_hosts if Parrot is meant to answer to that name."
        case .tooManyConnections(let limit):
            "All \(limit) client connections (server.max_connections) are in use; only /healthz and /readyz are answered."
        case .upstreamUnreachable(let p, let reason): "Provider '\(p)' could not be reached: \(reason)."
        case .upstreamTimeout(let p): "Provider '\(p)' did not answer in time."
        case .upstreamInvalidAnswer(let p, let reason): "Provider '\(p)' sent an invalid answer: \(reason)."
        case .answerTooLarge(let p, let limit):
            "Provider '\(p)' sent an answer larger than \(limit) bytes once decompressed (providers.\(p).max_answer_bytes); Parrot refused it rather than truncate it."
        case .rateLimited(let p, let s): "Rate limit of provider '\(p)' reached in Parrot; retry after \(s) s."
        case .breakerOpen(let p, let s): "Provider '\(p)' is failing and its circuit breaker is open; retry after \(s) s."
        case .shuttingDown: "Parrot is shutting down."
        case .internalError(let m): m
        case .upstreamStatus(let answer): "Provider answered \(answer.status)."
        case .cacheMiss(let model, let prefix, let reason):
            "No cached answer for model '\(model)' (key \(prefix)), and \(reason), so the provider was not called."
        }
    }

    var retryAfter: Int? {
        switch self {
        case .rateLimited(_, let s), .breakerOpen(_, let s): max(1, s)
        case .tooManyConnections: 1
        default: nil
        }
    }

    public var body: JSONValue {
        let param: JSONValue
        if case .invalidRequest(_, let p?) = self { param = .string(p) } else { param = .null }
        return .object([("error", .object([
            ("message", .string(message)), ("type", .string(type)), ("code", .string(code)), ("param", param),
        ]))])
    }

    public var response: Response {
        if case .upstreamStatus(let answer) = self {
            var headers = HTTPFields()
            for (name, value) in answer.headers where !RequestScreen.isCORSHeader(name) {
                if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
            }
            headers[.contentLength] = String(answer.body.count)
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let buffer = body.byteBuffer
        headers[.contentLength] = String(buffer.readableBytes)
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }
}

extension ParrotError {
    /// Maps anything thrown while handling a request to a `ParrotError`, so a client never sees
    /// an HTML page or an empty reply from Parrot itself.
    public static func from(_ error: any Error) -> ParrotError {
        if let error = error as? ParrotError { return error }
        if let error = error as? HTTPError {
            switch error.status {
            case .contentTooLarge: return .bodyTooLarge(limit: 0)
            case .notFound: return .notFound(path: "")
            default: return .invalidRequest(error.body ?? "Invalid request.", param: nil)
            }
        }
        return .internalError("Internal error.")
    }
}

/// An error answer from a provider, kept whole so it can be relayed byte for byte.
public struct UpstreamErrorAnswer: Sendable, Equatable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
    }
}
