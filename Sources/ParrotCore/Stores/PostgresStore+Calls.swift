import Logging
import NIOCore
import PostgresNIO

/// How every call runs: within a time budget, failing fast while the server is unreachable,
/// on a pooled connection that is closed, not reused, when the call outlives its budget.
extension PostgresStore {
    /// Runs one store call on a pooled connection within `budget`, failing fast while the server
    /// is known to be unreachable. Errors come out as `PostgresStoreError`.
    func call<T: Sendable>(
        _ budget: Budget,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        guard !isClosed.load(ordering: .relaxed) else { throw PostgresStoreError(.closed, "the store is closed") }
        let isProbe: Bool
        switch reachability.withLock({ $0.callStarting(now: .now) }) {
        case .failFast:
            throw PostgresStoreError(.unreachable, "PostgreSQL at \(location) is unreachable; retrying shortly")
        case .proceed(let probe):
            isProbe = probe
        }
        do {
            let value = try await withLeasedConnection(budget, body)
            reachability.withLock { $0.callSucceeded() }
            return value
        } catch {
            let failure = Self.storeError(error)
            if failure.kind == .unreachable || failure.kind == .timedOut {
                reachability.withLock { $0.callFoundServerUnreachable(now: .now) }
            } else if isProbe {
                reachability.withLock { $0.probeEndedWithoutVerdict(now: .now) }
            }
            throw failure
        }
    }

    /// The lease and the whole call each have a deadline. A call past its deadline with a
    /// connection in hand closes that connection: PostgresNIO does not cancel a running query,
    /// but closing its connection fails it at once (and the server rolls its transaction back).
    func withLeasedConnection<T: Sendable>(
        _ budget: Budget,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let watch = LeaseWatch()
        let client = self.client
        let logger = self.logger
        // Not a task group: leaving one waits for the lease, which may never end (see DeadlineRace).
        do {
            return try await DeadlineRace.run({
                try await client.withConnection { connection in
                    guard watch.leased(connection) else { throw CancellationError() }
                    defer { watch.finished() }
                    return try await body(connection, logger)
                }
            }, deadline: {
                try await Task.sleep(for: budget.lease)
                guard watch.stillLeasing() else {
                    throw PostgresStoreError(.timedOut, "no connection to PostgreSQL within \(budget.lease)")
                }
                try await Task.sleep(for: budget.total - budget.lease)
                guard watch.abandon() else { return nil }
                throw PostgresStoreError(.timedOut, "PostgreSQL did not answer within \(budget.total)")
            })
        } catch {
            // However the call ended (the caller cancelled included): a connection it leased is
            // closed, a lease that comes later is refused, one that finished is left alone.
            _ = watch.abandon()
            throw error
        }
    }

    /// BEGIN … COMMIT around `body`, ROLLBACK when it throws; the body's own error is rethrown
    /// unwrapped so callers can tell a lost connection from a failed statement.
    static func transaction<T: Sendable>(
        _ connection: PostgresConnection,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await connection.query("BEGIN", logger: logger)
        let value: T
        do {
            value = try await body(connection)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
        try await connection.query("COMMIT", logger: logger)
        return value
    }

    static func single<T: PostgresDecodable & Sendable>(_ type: T.Type, _ rows: PostgresRowSequence) async throws -> T? {
        for try await value in rows.decode(T.self) { return value }
        return nil
    }
}
