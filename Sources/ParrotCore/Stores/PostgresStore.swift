import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The shared store: one PostgreSQL database that several Parrot processes, on several machines,
/// use at once. Semantics match `SQLiteStore` (see `CacheStore`); what differs is what a shared,
/// remote store needs:
///
/// - Every call has a time limit (2 s to get a connection, 5 s in all; 60 s for bulk calls), so a
///   lost server turns requests into `BYPASS` instead of hanging them.
/// - Once the server is found unreachable, calls fail at once for a second, then one call probes
///   it; the janitor's 1 s poll is such a call, so caching resumes by itself when it is back
///   (PostgresNIO's pool retries new connections with a growing backoff, capped at 60 s, so
///   after a long outage that can take up to a minute).
/// - Clears reach other processes at once through `NOTIFY` (`PostgresClearListener`), and within
///   a second, through the clear generation the janitor polls, when a notification is lost.
/// - Migrations run under an advisory lock, so replicas that start together migrate once.
public final class PostgresStore: CacheStore {
    let client: PostgresClient
    private let runner: Task<Void, Never>
    private let clearListener: PostgresClearListener
    let logger: Logger
    let reachability = Mutex(StoreReachabilityStateMachine())
    let isClosed = Atomic<Bool>(false)
    /// The URL without its password, for `/stats` and logs.
    public let location: String

    /// Time limits of one store call: waiting for a pooled connection, and the call in all.
    struct Budget: Sendable {
        var lease: Duration
        var total: Duration

        /// Calls on the request path and the janitor's polls.
        static let quick = Budget(lease: .seconds(2), total: .seconds(5))
        /// Clears, eviction, export pages and imports, which touch many rows.
        static let bulk = Budget(lease: .seconds(2), total: .seconds(60))
    }

    private init(client: PostgresClient, runner: Task<Void, Never>, clearListener: PostgresClearListener, location: String, logger: Logger) {
        self.client = client
        self.runner = runner
        self.clearListener = clearListener
        self.location = location
        self.logger = logger
    }

    /// Connects, checks the server and the credentials within ~5 s, migrates the schema, and
    /// starts the connection pool. Every failure is a `ConfigError` naming `cache.postgres_url`
    /// with the reason; the password never appears in it.
    public static func connect(url: String, poolSize: Int, logger: Logger) async throws -> PostgresStore {
        let target = try PostgresURL(url)
        let tls: (client: PostgresClient.Configuration.TLS, connection: PostgresConnection.Configuration.TLS)
        do {
            tls = try target.tlsModes()
        } catch {
            throw target.configError("cannot set up TLS for sslmode=\(target.sslMode.rawValue): \(error)")
        }

        var checkConfiguration = PostgresConnection.Configuration(
            host: target.host, port: target.port, username: target.username, password: target.password,
            database: target.database, tls: tls.connection
        )
        checkConfiguration.options.connectTimeout = .seconds(5)
        let check = checkConfiguration
        do {
            let connection = try await withDeadline(.seconds(5), onTimeout: {
                PostgresStoreError(.timedOut, "no answer from \(target.host):\(target.port) within 5 s")
            }) {
                try await PostgresConnection.connect(configuration: check, id: 0, logger: logger)
            }
            // A migration may take longer than a connection; it gets a bulk call's budget.
            let watch = LeaseWatch()
            _ = watch.leased(connection)
            do {
                try await withDeadline(Budget.bulk.total, onTimeout: {
                    _ = watch.abandon()
                    return PostgresStoreError(.timedOut, "the schema migration did not finish within \(Budget.bulk.total)")
                }) {
                    try await migrate(connection, logger: logger)
                }
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
        } catch {
            throw target.configError(Self.describe(error, connecting: target))
        }

        var configuration = PostgresClient.Configuration(
            host: target.host, port: target.port, username: target.username, password: target.password,
            database: target.database, tls: tls.client
        )
        configuration.options.maximumConnections = max(1, poolSize)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = [("application_name", "parrot")]
        var poolLogger = logger
        poolLogger[metadataKey: "component"] = "postgres-pool"
        let client = PostgresClient(configuration: configuration, backgroundLogger: poolLogger)
        // Detached: the pool must outlive a graceful shutdown of the server, so the janitor can
        // write the last hit counts; `close()` ends it.
        let runner = Task.detached { await client.run() }
        logger.info("PostgreSQL store ready", metadata: ["url": "\(target.redacted)"])
        var listenerConfiguration = check
        listenerConfiguration.options.additionalStartupParameters = [("application_name", PostgresClearListener.applicationName)]
        var listenerLogger = logger
        listenerLogger[metadataKey: "component"] = "postgres-clear-listener"
        let clearListener = PostgresClearListener(configuration: listenerConfiguration, logger: listenerLogger)
        return PostgresStore(
            client: client, runner: runner, clearListener: clearListener,
            location: target.redacted, logger: logger
        )
    }

    /// A hint after every clear or import by any process, through `LISTEN` on a connection of its
    /// own; see `PostgresClearListener`.
    public func clearHints() -> AsyncStream<Void> {
        clearListener.hints()
    }

    /// Ends the pool; later calls throw. Safe to call more than once.
    public func close() async throws {
        guard !isClosed.exchange(true, ordering: .relaxed) else { return }
        runner.cancel()
        // The pool closes its connections when its run() is cancelled; a shutdown does not wait
        // for ever on one that does not.
        let runner = self.runner
        let ended = (try? await DeadlineRace.run({
            await runner.value
            return true
        }, deadline: {
            try await Task.sleep(for: .seconds(10))
            return false
        })) ?? false
        if !ended { logger.warning("the PostgreSQL pool did not stop within 10 s; leaving it to finish on its own") }
    }
}
