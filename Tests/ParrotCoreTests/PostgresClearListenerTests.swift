import Foundation
@testable import ParrotCore
import Synchronization
import XCTest

/// Clears announced through PostgreSQL's NOTIFY: every opener of the database hears of them at
/// once, and a listener whose connection is lost listens again by itself.
final class PostgresClearListenerTests: XCTestCase {
    /// No poll at this level: a hint after the clear can only come from the notification.
    func testClearAndImportByOneOpenerHintAnotherAtOnce() async throws {
        try await withListeningOpener { _, clearing, hints in
            let beforeClear = hints.count
            _ = try await clearing.clear(namespace: nil)
            let heardClear = try await eventually(5) { hints.count > beforeClear }
            XCTAssertTrue(heardClear, "a clear by another opener is announced")

            let beforeImport = hints.count
            try await clearing.importEntries([])
            let heardImport = try await eventually(5) { hints.count > beforeImport }
            XCTAssertTrue(heardImport, "an import is announced like a clear")
        }
    }

    func testListenerWhoseConnectionIsLostListensAgain() async throws {
        try await withListeningOpener { database, clearing, hints in
            let beforeLoss = hints.count
            try await database.execute("""
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = '\(PostgresClearListener.applicationName)'
                """)
            let relistened = try await eventually(15) { hints.count > beforeLoss }
            XCTAssertTrue(relistened, "the listener reconnects and hints once it listens again")

            let beforeClear = hints.count
            _ = try await clearing.clear(namespace: nil)
            let heardClear = try await eventually(5) { hints.count > beforeClear }
            XCTAssertTrue(heardClear, "clears are heard again on the new connection")
        }
    }

    /// Two openers of a fresh database, the second one's hints counted from the moment it
    /// listens (it hints once then: clears before it were not heard).
    private func withListeningOpener(_ body: (TestDatabase, PostgresStore, HintCount) async throws -> Void) async throws {
        try await withTestDatabase { database in
            try await withTwoOpeners(of: database) { clearing, listening in
                let hints = HintCount(listening: listening)
                defer { hints.stop() }
                let started = try await eventually(10) { hints.count >= 1 }
                XCTAssertTrue(started, "a hint when listening starts")
                try await body(database, clearing, hints)
            }
        }
    }

    private func withTwoOpeners(of database: TestDatabase, _ body: (PostgresStore, PostgresStore) async throws -> Void) async throws {
        let clearing = try await PostgresStore.connect(url: database.url, poolSize: 2, logger: TestPostgres.quietLogger)
        let listening: PostgresStore
        do {
            listening = try await PostgresStore.connect(url: database.url, poolSize: 2, logger: TestPostgres.quietLogger)
        } catch {
            try? await clearing.close()
            throw error
        }
        do {
            try await body(clearing, listening)
        } catch {
            try? await clearing.close()
            try? await listening.close()
            throw error
        }
        try? await clearing.close()
        try? await listening.close()
    }
}

/// Counts the hints a store yields, consumed by a task of its own until `stop()`.
private final class HintCount: Sendable {
    private let heard = Atomic<Int>(0)
    private let consumer = Mutex<Task<Void, Never>?>(nil)

    init(listening store: PostgresStore) {
        let task = Task { [self] in
            for await _ in store.clearHints() { increment() }
        }
        consumer.withLock { $0 = task }
    }

    var count: Int { heard.load(ordering: .relaxed) }

    private func increment() {
        heard.add(1, ordering: .relaxed)
    }

    func stop() {
        consumer.withLock { $0?.cancel() }
    }
}
