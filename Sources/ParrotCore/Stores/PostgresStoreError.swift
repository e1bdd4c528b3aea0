import Foundation
import PostgresNIO

/// PostgresNIO's errors as `PostgresStoreError`s: whether the server is out of reach, and a
/// reason a user can act on that never carries the password or bound values.
extension PostgresStore {
    static func storeError(_ error: any Error) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        let kind: PostgresStoreError.Kind = isConnectivityFailure(error) ? .unreachable : .query
        return PostgresStoreError(kind, describe(error, connecting: nil))
    }

    /// Lost or refused connections, and server errors of the connection, operator-intervention
    /// and insufficient-resources classes (SQLSTATE 08, 57P, 53). Not: a failed statement.
    /// Anything else that is not a decoding error (the pool's errors, NIO channel errors) is
    /// taken as the server being out of reach; a cancelled caller gives no verdict.
    static func isConnectivityFailure(_ error: any Error) -> Bool {
        if error is CancellationError || error is PostgresDecodingError { return false }
        guard let error = error as? PSQLError else { return !Task.isCancelled }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53")
        case .queryCancelled, .tooManyParameters, .invalidCommandTag, .listenFailed, .unlistenFailed:
            return false
        default:
            return true
        }
    }

    /// A reason a user can act on. PSQLError's own description is deliberately generic, and its
    /// debug description may carry bound values; this uses only the code and the server's message.
    static func describe(_ error: any Error, connecting target: PostgresURL?) -> String {
        let reason: String
        switch error {
        case let error as PostgresStoreError:
            reason = error.description
        case let error as PSQLError:
            switch error.code {
            case .server:
                let state = error.serverInfo?[.sqlState] ?? "?"
                let message = error.serverInfo?[.message] ?? "no message"
                switch state {
                case "28P01", "28000":
                    reason = "authentication failed for user '\(target?.username ?? "?")' (SQLSTATE \(state): \(message))"
                case "3D000":
                    reason = "the database does not exist (SQLSTATE \(state): \(message))"
                default:
                    reason = "server error SQLSTATE \(state): \(message)"
                }
            case .connectionError:
                let underlying = error.underlying.map { "\($0)" } ?? "unknown"
                if let target {
                    reason = "cannot connect to \(target.host):\(target.port): \(underlying)"
                } else {
                    reason = "cannot connect to PostgreSQL: \(underlying)"
                }
            case .serverClosedConnection, .uncleanShutdown:
                let underlying = error.underlying.map { " (\($0))" } ?? ""
                reason = "the server\(target.map { " at \($0.host):\($0.port)" } ?? "") closed the connection\(underlying)"
            case .sslUnsupported:
                reason = "the server does not support TLS, but sslmode=\(target?.sslMode.rawValue ?? "require") needs it"
            case .authMechanismRequiresPassword:
                reason = "the server asks for a password and the URL has none"
            case .unsupportedAuthMechanism:
                reason = "the server asks for an authentication method PostgresNIO does not support"
            default:
                reason = "PostgreSQL error: \(error.code)" + (error.underlying.map { " (\($0))" } ?? "")
            }
        default:
            reason = "\(error)"
        }
        guard let password = target?.password, !password.isEmpty else { return reason }
        return reason.replacingOccurrences(of: password, with: "***")
    }
}

/// Why a `PostgresStore` call failed, with a description safe to log (no password, no values).
public struct PostgresStoreError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The server cannot be reached (or was just found unreachable): the call was not made.
        case unreachable
        case timedOut
        /// A statement failed on a working connection.
        case query
        case closed
    }

    public let kind: Kind
    public let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
