import HTTPTypes

/// What the caller asked of the cache for one request, read from its headers.
public struct CachePolicy: Sendable, Equatable {
    /// Look the key up before calling upstream.
    public var lookup = true
    /// Store the upstream answer.
    public var store = true
    /// Accept a cached answer at most this many seconds old.
    public var maxAge: Int?
    /// Store for this many seconds (0 = never expires); nil = configured TTL.
    public var ttl: Int?
    public var semantic = true
    public var namespaceName: String?

    public init() {}

    public static let namespaceHeader = HTTPField.Name("X-Parrot-Namespace")!
    public static let ttlHeader = HTTPField.Name("X-Parrot-TTL")!
    public static let semanticHeader = HTTPField.Name("X-Parrot-Semantic")!

    public init(headers: HTTPFields) throws(ParrotError) {
        for value in headers[values: .cacheControl] {
            for directive in value.split(separator: ",") {
                let part = directive.trimmingCharacters(in: .whitespaces).lowercased()
                if part == "no-cache" {
                    lookup = false
                } else if part == "no-store" {
                    lookup = false
                    store = false
                } else if part.hasPrefix("max-age=") {
                    guard let n = Int(part.dropFirst(8)), n >= 0 else {
                        throw .invalidRequest("Cache-Control max-age must be a non-negative integer", param: nil)
                    }
                    maxAge = n
                }
            }
        }
        if let ttlText = headers[Self.ttlHeader] {
            guard let n = Int(ttlText.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                throw .invalidRequest("X-Parrot-TTL must be a non-negative integer number of seconds", param: nil)
            }
            ttl = n
        }
        if let semanticText = headers[Self.semanticHeader]?.lowercased() {
            semantic = !(semanticText == "off" || semanticText == "false" || semanticText == "0")
        }
        if let name = headers[Self.namespaceHeader]?.trimmingCharacters(in: .whitespaces), !name.isEmpty {
            guard name.utf8.count <= 128 else { throw .invalidRequest("X-Parrot-Namespace is longer than 128 bytes", param: nil) }
            namespaceName = name
        }
    }
}

import Foundation
