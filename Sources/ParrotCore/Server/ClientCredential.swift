import HTTPTypes

/// Which credential authenticated a caller: the one its namespace is derived from.
///
/// With client tokens configured (`server.client_tokens_env`) it is the Parrot token that
/// matched — from `X-Parrot-Token` or `Authorization: Bearer`, whichever matched — and never the
/// placeholder `Authorization` an SDK sends beside it: two tenants presenting their own tokens
/// and the same placeholder key must not share answers. Without client tokens it is the provider
/// credential the caller sent (`Authorization`, `api-key`, `x-api-key`).
///
/// Credentials are compared and hashed as the bytes that arrived. They must be printable ASCII
/// (every provider key and every token Parrot issues is): the HTTP stack hands header values
/// over as Unicode text, where different invalid byte sequences become the same replacement
/// character, so a credential outside ASCII could not be told apart from another one.
enum ClientCredential {
    static let tokenHeader = HTTPField.Name("X-Parrot-Token")!
    static let apiKeyHeader = HTTPField.Name("api-key")!
    static let xAPIKeyHeader = HTTPField.Name("x-api-key")!

    enum Outcome: Equatable {
        /// The caller may proceed; its namespace derives from these bytes (nil: no credential).
        case authenticated([UInt8]?)
        case refused(String)
    }

    static func authenticate(_ headers: HTTPFields, clientTokens: Set<[UInt8]>) -> Outcome {
        if !clientTokens.isEmpty {
            if let token = headers.first(where: { $0.name == tokenHeader }).map(bytes), clientTokens.contains(token) {
                return .authenticated(token)
            }
            if let auth = headers.first(where: { $0.name == .authorization }).map(bytes), let token = bearerToken(auth),
               clientTokens.contains(token) {
                return .authenticated(token)
            }
            return .refused("A Parrot client token is required (Authorization: Bearer <token> or X-Parrot-Token).")
        }
        guard let field = headers.first(where: { $0.name == .authorization })
            ?? headers.first(where: { $0.name == apiKeyHeader })
            ?? headers.first(where: { $0.name == xAPIKeyHeader })
        else { return .authenticated(nil) }
        let credential = bytes(field)
        guard credential.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
            return .refused("The credential in \(field.name.canonicalName) must be printable ASCII.")
        }
        return .authenticated(credential)
    }

    static func bytes(_ field: HTTPField) -> [UInt8] {
        field.withUnsafeBytesOfValue { Array($0) }
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, surrounding blanks trimmed).
    static func bearerToken(_ value: [UInt8]) -> [UInt8]? {
        guard value.count > 7, value[0..<7].map({ $0 | 0x20 }) == Array("bearer ".utf8) else { return nil }
        var token = value[7...]
        while let first = token.first, first == 0x20 || first == 0x09 { token = token.dropFirst() }
        while let last = token.last, last == 0x20 || last == 0x09 { token = token.dropLast() }
        return Array(token)
    }
}
