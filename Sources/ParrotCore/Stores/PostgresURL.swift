import Foundation
import PostgresNIO

/// `postgres://user:password@host:port/database?sslmode=…` (or `postgresql://`), parsed once,
/// with a redacted form for messages and logs. User and password are percent-decoded; query
/// parameters other than `sslmode` are ignored.
public struct PostgresURL: Sendable, Equatable {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    /// libpq's meaning: `prefer` (the default) and `require` encrypt without checking the
    /// certificate; `verify-ca` checks the chain; `verify-full` also the host name.
    public var sslMode: SSLMode

    public init(_ text: String) throws {
        let shape = "expected postgres://user:password@host:port/database[?sslmode=disable|require]"
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw ConfigError(key: "cache.postgres_url", "not a valid URL (\(shape); percent-encode special characters in the password)")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw ConfigError(key: "cache.postgres_url", "scheme must be postgres:// or postgresql://, got \(scheme)://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ConfigError(key: "cache.postgres_url", "has no host (\(shape))")
        }
        guard let user = components.user, !user.isEmpty else {
            throw ConfigError(key: "cache.postgres_url", "has no user name (\(shape))")
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.username = user
        self.password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? nil : path
        self.sslMode = .prefer
        for item in components.queryItems ?? [] where item.name == "sslmode" {
            guard let mode = SSLMode(rawValue: item.value ?? "") else {
                throw ConfigError(key: "cache.postgres_url", "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")), got '\(item.value ?? "")'")
            }
            self.sslMode = mode
        }
    }

    /// The URL without the password.
    public var redacted: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(username)@\(shownHost):\(port)/\(database ?? username)?sslmode=\(sslMode.rawValue)"
    }

    func configError(_ reason: String) -> ConfigError {
        ConfigError(key: "cache.postgres_url", "\(redacted): \(reason)")
    }

    func tlsModes() throws -> (client: PostgresClient.Configuration.TLS, connection: PostgresConnection.Configuration.TLS) {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable:
            return (.disable, .disable)
        case .allow, .prefer:
            tls.certificateVerification = .none
            return (.prefer(tls), .prefer(try NIOSSLContext(configuration: tls)))
        case .require:
            tls.certificateVerification = .none
            return (.require(tls), .require(try NIOSSLContext(configuration: tls)))
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return (.require(tls), .require(try NIOSSLContext(configuration: tls)))
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return (.require(tls), .require(try NIOSSLContext(configuration: tls)))
        }
    }
}
