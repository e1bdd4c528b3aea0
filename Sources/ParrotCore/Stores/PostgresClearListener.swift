import Logging
import PostgresNIO

/// Hears of clears as they commit: `LISTEN parrot_clear` on a connection of its own (not a pooled
/// one: it is held for the process's life and must not take a slot from requests). Every clear
/// and import sends `NOTIFY` in its own transaction, and PostgreSQL delivers it on commit to
/// every listening session of the database, the clearing process's own included.
///
/// A hint, never the only path: while the connection is down, clears are missed, and the caller's
/// 1 s poll of the clear generation is what still delivers them. A lost connection is reopened
/// after 1 s, then after a delay that doubles up to 30 s while the server stays away.
struct PostgresClearListener: Sendable {
    static let channel = "parrot_clear"
    /// How the listening session shows in `pg_stat_activity`.
    static let applicationName = "parrot-clear-listener"

    let configuration: PostgresConnection.Configuration
    let logger: Logger
    var firstRetry: Duration = .seconds(1)
    var longestRetry: Duration = .seconds(30)

    /// Yields after each announced clear, and each time listening (re)starts, since clears
    /// announced before that were not heard. Coalesced: a slow consumer sees one pending hint.
    /// The connection closes when the consumer stops iterating.
    func hints() -> AsyncStream<Void> {
        let (hints, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let listening = Task { await listen(continuation) }
        continuation.onTermination = { _ in listening.cancel() }
        return hints
    }

    private func listen(_ hints: AsyncStream<Void>.Continuation) async {
        var delay = firstRetry
        var wasListening = false
        while !Task.isCancelled {
            var listened = false
            do {
                try await listenOnce { listened = true } onNotification: { hints.yield() }
            } catch {
                guard !Task.isCancelled else { break }
                let reason = PostgresStore.describe(error, connecting: nil)
                if listened || wasListening {
                    logger.warning("lost the PostgreSQL connection that listens for clears; until it is back, clears by other processes arrive through the 1 s poll", metadata: ["error": "\(reason)"])
                } else {
                    logger.debug("cannot listen for clears yet", metadata: ["error": "\(reason)", "retry_in": "\(delay)"])
                }
            }
            wasListening = listened
            if listened { delay = firstRetry }
            guard !Task.isCancelled, (try? await Task.sleep(for: delay)) != nil else { break }
            delay = min(delay * 2, longestRetry)
        }
        hints.finish()
    }

    /// One connection's life: connect, LISTEN, pass every notification on. Returns or throws
    /// when the connection ends (or the task is cancelled).
    private func listenOnce(onListening: () -> Void, onNotification: () -> Void) async throws {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        do {
            try await connection.listen(on: Self.channel) { notifications in
                onListening()
                onNotification()
                for try await _ in notifications { onNotification() }
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
        // The stream ends without an error only when the listener was cancelled or the
        // connection went away; either way this session is over.
        if !Task.isCancelled { throw PostgresStoreError(.unreachable, "the listening connection closed") }
    }
}
