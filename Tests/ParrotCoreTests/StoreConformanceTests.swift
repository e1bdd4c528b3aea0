import Foundation
import Logging
import NIOCore
@testable import ParrotCore
import Synchronization
import XCTest

/// One body per behaviour of `CacheStore`, run against every implementation: what the rest of
/// Parrot relies on holds for SQLite and PostgreSQL alike.
final class StoreConformanceTests: XCTestCase {
    func testPutThenGetReturnsTheEntryBitForBit() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            var everyByte = Array(0...255).map(UInt8.init)
            everyByte += (0..<300_000).map { _ in UInt8.random(in: 0...255) }
            let plain = makeEntry(1, body: [0, 0x1f, 0x8b, 0, 0xff, 0], expiresAt: nil)
            let full = makeEntry(
                2, namespace: "5f0c", body: everyByte, createdAt: 1_712_345_678.123_456, expiresAt: 1_712_349_278.654_321,
                lastHitAt: 1_712_345_999.5, hitCount: 5, promptTokens: 12, completionTokens: 345,
                semantic: SemanticRecord(scope: "ab12", vector: [0.25, -1.5, 3.0e-8, .greatestFiniteMagnitude], text: "what is a parrot?")
            )
            try await store.put(plain)
            try await store.put(full)
            try await assertStored(plain, in: store)
            try await assertStored(full, in: store)
            let missing = try await store.get(key(999))
            XCTAssertNil(missing)
        }
    }

    func testPutReplacesTheEntryOfTheSameKey() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            try await store.put(makeEntry(1, body: Array("old answer".utf8), model: "gpt-4o", hitCount: 9))
            let newer = makeEntry(1, body: Array("new answer".utf8), model: "gpt-4o-mini", status: 201, createdAt: 1_700_000_100, hitCount: 0)
            try await store.put(newer)
            try await assertStored(newer, in: store)
            let summary = try await store.summary()
            XCTAssertEqual(summary.entries, 1)
            XCTAssertEqual(summary.bytes, newer.body.readableBytes)
        }
    }

    /// Two openers (two processes, for PostgreSQL) storing the same key at once: one entry, whole.
    func testConcurrentPutsOfOneKeyLeaveOneWholeEntry() async throws {
        try await onEveryStore { stores in
            let firstOpener = try await stores.open()
            let secondOpener = try await stores.open()
            let bodies = (0..<20).map { n in Array("answer number \(n) ".utf8) + Array(repeating: UInt8(n), count: 5_000) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (n, body) in bodies.enumerated() {
                    let store = n.isMultiple(of: 2) ? firstOpener : secondOpener
                    group.addTask { try await store.put(makeEntry(7, body: body)) }
                }
                try await group.waitForAll()
            }
            let summary = try await firstOpener.summary()
            XCTAssertEqual(summary.entries, 1)
            let stored = try await secondOpener.get(key(7))
            XCTAssertTrue(bodies.contains(Array(stored?.body.readableBytesView ?? [])), "the stored body is one of the bodies put, not a mix")
        }
    }

    func testRecordHitsAddsCountsAndKeepsTheLatestHitTime() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            try await store.put(makeEntry(1, lastHitAt: 100, hitCount: 1))
            try await store.put(makeEntry(2, lastHitAt: 100, hitCount: 0))
            try await store.recordHits([key(1): HitTally(count: 2, lastHitAt: 200)])
            try await store.recordHits([
                key(1): HitTally(count: 4, lastHitAt: 150),
                key(2): HitTally(count: 1, lastHitAt: 300),
                key(404): HitTally(count: 5, lastHitAt: 400),
            ])
            try await store.recordHits([:])
            let hitInTwoBatches = try await store.get(key(1))
            XCTAssertEqual(hitInTwoBatches?.hitCount, 7)
            XCTAssertEqual(hitInTwoBatches?.lastHitAt, 200, "an older batched hit never moves the last-hit time back")
            let hitOnce = try await store.get(key(2))
            XCTAssertEqual(hitOnce?.hitCount, 1)
            XCTAssertEqual(hitOnce?.lastHitAt, 300)
            let summary = try await store.summary()
            XCTAssertEqual(summary.entries, 2, "hits for an unknown key create nothing")
            XCTAssertEqual(summary.hits, 8)
        }
    }

    func testClearRemovesANamespaceOrEverythingAndBumpsTheGeneration() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            let other = try await stores.open()
            try await store.put(makeEntry(1, namespace: "a"))
            try await store.put(makeEntry(2, namespace: "a"))
            try await store.put(makeEntry(3, namespace: "b"))
            let before = try await other.clearGeneration()

            let removedA = try await store.clear(namespace: "a")
            XCTAssertEqual(removedA, 2)
            let afterNamespace = try await other.clearGeneration()
            XCTAssertGreaterThan(afterNamespace, before, "another opener sees the clear")
            let goneA = try await store.get(key(1))
            XCTAssertNil(goneA)
            let keptB = try await store.get(key(3))
            XCTAssertNotNil(keptB)

            let removedAll = try await store.clear(namespace: nil)
            XCTAssertEqual(removedAll, 1)
            let afterAll = try await other.clearGeneration()
            XCTAssertGreaterThan(afterAll, afterNamespace)
            let summary = try await store.summary()
            XCTAssertEqual(summary.entries, 0)
            let removedNothing = try await store.clear(namespace: "nobody")
            XCTAssertEqual(removedNothing, 0)
        }
    }

    func testEvictRemovesLongExpiredThenExpiredThenLeastRecentlyUsed() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            let now = 2_000_000.0
            let stale = 100
            let hundred = [UInt8](repeating: 7, count: 100)
            try await store.put(makeEntry(1, body: [UInt8](repeating: 1, count: 10), createdAt: now - 5000, expiresAt: now - 1000, lastHitAt: now - 1))
            try await store.put(makeEntry(2, body: hundred, createdAt: now - 500, expiresAt: now - 10, lastHitAt: now))
            try await store.put(makeEntry(3, body: hundred, createdAt: now - 500, expiresAt: now + 1000, lastHitAt: now - 300))
            try await store.put(makeEntry(4, body: hundred, createdAt: now - 500, expiresAt: now + 1000, lastHitAt: now - 200))
            try await store.put(makeEntry(5, body: hundred, createdAt: now - 500, expiresAt: nil, lastHitAt: now - 100))

            let pastStaleWindow = try await store.evict(maxBytes: 1_000_000, now: now, staleSeconds: stale)
            XCTAssertEqual(pastStaleWindow, 1, "entries expired beyond the stale window go even under the size bound")
            try await assertKeys([2, 3, 4, 5], in: store)

            let overSize = try await store.evict(maxBytes: 250, now: now, staleSeconds: stale)
            XCTAssertEqual(overSize, 2)
            try await assertKeys([4, 5], in: store, "the expired entry goes first (though hit last), then the least recently used")
            let summary = try await store.summary()
            XCTAssertLessThanOrEqual(summary.bytes, 250)
            XCTAssertEqual(summary.bytes, 200)

            let underSize = try await store.evict(maxBytes: 200, now: now, staleSeconds: stale)
            XCTAssertEqual(underSize, 0, "nothing goes while the store is within its bound")
            let everything = try await store.evict(maxBytes: 0, now: now, staleSeconds: stale)
            XCTAssertEqual(everything, 2)
            try await assertKeys([], in: store)
        }
    }

    func testSummaryAddsUpEveryEntry() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            let empty = try await store.summary()
            XCTAssertEqual(empty.entries, 0)
            XCTAssertEqual(empty.bytes, 0)
            try await store.put(makeEntry(1, body: [UInt8](repeating: 1, count: 100), rawBytes: 400, hitCount: 2, promptTokens: 10, completionTokens: 20))
            try await store.put(makeEntry(2, body: [UInt8](repeating: 2, count: 50), rawBytes: 100, hitCount: 3, promptTokens: 1, completionTokens: 2))
            try await store.put(makeEntry(3, body: [UInt8](repeating: 3, count: 10), rawBytes: 10, hitCount: 0, promptTokens: 0, completionTokens: 0))
            let summary = try await store.summary()
            XCTAssertEqual(summary.entries, 3)
            XCTAssertEqual(summary.bytes, 160)
            XCTAssertEqual(summary.rawBytes, 510)
            XCTAssertEqual(summary.hits, 5)
            XCTAssertEqual(summary.promptTokens, 11)
            XCTAssertEqual(summary.completionTokens, 22)
            XCTAssertFalse(summary.path.isEmpty, "the summary says where the store is")
        }
    }

    func testEntriesPageThroughEveryKeyInOrder() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            var keys: [CacheKey] = []
            for n in 0..<7 {
                let random = CacheKey(digest: (0..<32).map { _ in UInt8.random(in: 0...255) })
                keys.append(random)
                var entry = makeEntry(n)
                entry.key = random
                try await store.put(entry)
            }
            var seen: [String] = []
            var after: CacheKey? = nil
            var pages = 0
            while true {
                let page = try await store.entries(after: after, limit: 3)
                guard let last = page.last else { break }
                XCTAssertLessThanOrEqual(page.count, 3)
                seen += page.map(\.key.hex)
                after = last.key
                pages += 1
                XCTAssertLessThan(pages, 10, "paging ends")
                if pages >= 10 { break }
            }
            XCTAssertEqual(pages, 3)
            XCTAssertEqual(seen, keys.map(\.hex).sorted(), "every key once, in ascending order")
            let pastEnd = try await store.entries(after: CacheKey(digest: [UInt8](repeating: 0xff, count: 32)), limit: 3)
            XCTAssertTrue(pastEnd.isEmpty)
        }
    }

    func testImportReplacesEntriesAndBumpsTheGeneration() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            let other = try await stores.open()
            try await store.put(makeEntry(1, body: Array("before import".utf8)))
            let before = try await other.clearGeneration()
            let replaced = makeEntry(1, body: Array("imported".utf8), hitCount: 4)
            let added = makeEntry(2, body: Array("also imported".utf8), expiresAt: nil)
            try await store.importEntries([replaced, added])
            let after = try await other.clearGeneration()
            XCTAssertGreaterThan(after, before, "an import makes every process drop memory copies it may have replaced")
            try await assertStored(replaced, in: other)
            try await assertStored(added, in: other)
        }
    }

    func testNamespaceSecretIsInsertedOnceAndSharedByEveryOpener() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            let firstSecret = try await store.namespaceSecret(proposed: "first-secret")
            XCTAssertEqual(firstSecret, "first-secret")
            let secondSecret = try await store.namespaceSecret(proposed: "second-secret")
            XCTAssertEqual(secondSecret, "first-secret", "a second proposal returns the stored secret")
            let replica = try await stores.open()
            let replicaSecret = try await replica.namespaceSecret(proposed: "replica-secret")
            XCTAssertEqual(replicaSecret, "first-secret", "every replica derives the same namespaces")
        }
    }

    /// Replicas starting together on an empty store agree on one secret.
    func testNamespaceSecretRaceHasOneWinner() async throws {
        try await onEveryStore { stores in
            let firstReplica = try await stores.open()
            let secondReplica = try await stores.open()
            let secrets = try await withThrowingTaskGroup(of: String.self) { group in
                for n in 0..<16 {
                    let store = n.isMultiple(of: 2) ? firstReplica : secondReplica
                    group.addTask { try await store.namespaceSecret(proposed: "proposal-\(n)") }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            XCTAssertEqual(secrets.count, 1, "one secret for everyone: \(secrets)")
        }
    }

    func testSemanticRowsComeOldestFirstFromAGivenTime() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            func record(_ n: Int) -> SemanticRecord { SemanticRecord(scope: "scope-\(n)", vector: [Float(n), 0.5, -0.25], text: "prompt \(n)") }
            try await store.put(makeEntry(3, createdAt: 30, semantic: record(3)))
            try await store.put(makeEntry(1, createdAt: 10, semantic: record(1)))
            try await store.put(makeEntry(2, createdAt: 20, semantic: record(2)))
            try await store.put(makeEntry(4, createdAt: 25, semantic: nil))
            let rows = try await store.semanticRows(since: 15, limit: 10)
            XCTAssertEqual(rows.map(\.key), [key(2), key(3)])
            XCTAssertEqual(rows.map(\.record), [record(2), record(3)])
            XCTAssertEqual(rows.map(\.createdAt), [20, 30])
            let limited = try await store.semanticRows(since: 0, limit: 1)
            XCTAssertEqual(limited.map(\.key), [key(1)])
        }
    }

    func testPingAnswersUntilTheStoreIsClosed() async throws {
        try await onEveryStore { stores in
            let store = try await stores.open()
            try await store.ping()
            try await store.close()
            do {
                try await store.ping()
                XCTFail("ping answered after close")
            } catch {}
        }
    }

    // MARK: fixtures

    /// The store the running body is checked against, named in every failure it records.
    private let storeUnderTest = Mutex<String?>(nil)

    override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int, expected: Bool) {
        let prefix = storeUnderTest.withLock { $0 }.map { "[\($0)] " } ?? ""
        super.recordFailure(withDescription: prefix + description, inFile: filePath, atLine: lineNumber, expected: expected)
    }

    /// Runs `check` against SQLite, then PostgreSQL, each on a fresh backing location. The name
    /// stays set after a throw, so the error XCTest records names the store too (each test
    /// method runs on an instance of its own).
    func onEveryStore(_ check: (StoreFixture) async throws -> Void) async throws {
        storeUnderTest.withLock { $0 = "SQLite" }
        try await onSQLite(check)
        storeUnderTest.withLock { $0 = "PostgreSQL" }
        try await onPostgres(check)
    }

    func onSQLite(_ check: (StoreFixture) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parrot-store-\(UUID().uuidString)").path
        let stores = StoreFixture { try SQLiteStore(path: directory + "/cache.sqlite") }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await stores.run(check)
    }

    func onPostgres(_ check: (StoreFixture) async throws -> Void) async throws {
        try await withTestDatabase { database in
            let stores = StoreFixture {
                try await PostgresStore.connect(url: database.url, poolSize: 4, logger: TestPostgres.quietLogger)
            }
            try await stores.run(check)
        }
    }

    func assertStored(_ expected: CacheEntry, in store: any CacheStore, file: StaticString = #filePath, line: UInt = #line) async throws {
        guard let stored = try await store.get(expected.key) else {
            return XCTFail("no entry for \(expected.key.hex)", file: file, line: line)
        }
        XCTAssertTrue(Array(stored.body.readableBytesView) == Array(expected.body.readableBytesView), "body differs", file: file, line: line)
        XCTAssertEqual(fields(of: stored), fields(of: expected), file: file, line: line)
        XCTAssertEqual(stored.semantic, expected.semantic, file: file, line: line)
    }

    func assertKeys(_ numbers: [Int], in store: any CacheStore, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) async throws {
        let stored = try await store.entries(after: nil, limit: 100).map(\.key.hex)
        XCTAssertEqual(stored, numbers.map { key($0).hex }.sorted(), message, file: file, line: line)
    }
}

/// Opens stores on one backing location (a SQLite file, a PostgreSQL database), as several
/// processes would, and closes every one of them when the check ends, passed or failed.
final class StoreFixture: @unchecked Sendable {
    private let opener: () async throws -> any CacheStore
    private let lock = NSLock()
    private var opened: [any CacheStore] = []

    init(_ opener: @escaping () async throws -> any CacheStore) {
        self.opener = opener
    }

    func open() async throws -> any CacheStore {
        let store = try await opener()
        lock.withLock { opened.append(store) }
        return store
    }

    func run(_ check: (StoreFixture) async throws -> Void) async throws {
        do {
            try await check(self)
        } catch {
            await closeAll()
            throw error
        }
        await closeAll()
    }

    private func closeAll() async {
        let stores = lock.withLock { opened }
        for store in stores { try? await store.close() }
    }
}

/// Every field but the body and the semantic record, as text (doubles print exactly), so one
/// assertion compares them all and shows which differ.
private func fields(of entry: CacheEntry) -> [String] {
    [
        "key \(entry.key.hex)", "namespace \(entry.namespace)", "endpoint \(entry.endpoint)", "provider \(entry.provider)",
        "model \(entry.model)", "mode \(entry.mode)", "status \(entry.status)", "content type \(entry.contentType)",
        "raw bytes \(entry.rawBytes)", "created \(entry.createdAt)", "expires \(entry.expiresAt.map { "\($0)" } ?? "never")",
        "last hit \(entry.lastHitAt)", "hits \(entry.hitCount)", "prompt tokens \(entry.promptTokens)",
        "completion tokens \(entry.completionTokens)",
    ]
}

/// A key that depends only on `n` (distinct for 0…255).
private func key(_ n: Int) -> CacheKey {
    CacheKey(digest: (0..<32).map { UInt8(truncatingIfNeeded: n &* 31 &+ $0 &* 7) })
}

private func makeEntry(
    _ n: Int, namespace: String = "default", body: [UInt8] = Array(#"{"id":"chatcmpl-1"}"#.utf8), model: String = "gpt-4o-mini",
    status: Int = 200, rawBytes: Int? = nil, createdAt: Double = 1_700_000_000, expiresAt: Double? = 1_700_003_600,
    lastHitAt: Double? = nil, hitCount: Int = 0, promptTokens: Int = 3, completionTokens: Int = 7, semantic: SemanticRecord? = nil
) -> CacheEntry {
    CacheEntry(
        key: key(n), namespace: namespace, endpoint: "/v1/chat/completions", provider: "openai", model: model,
        mode: n.isMultiple(of: 2) ? .sse : .json, status: status,
        contentType: n.isMultiple(of: 2) ? "text/event-stream" : "application/json", body: ByteBuffer(bytes: body),
        rawBytes: rawBytes ?? body.count * 3, createdAt: createdAt, expiresAt: expiresAt, lastHitAt: lastHitAt,
        hitCount: hitCount, promptTokens: promptTokens, completionTokens: completionTokens, semantic: semantic
    )
}

/// What only the PostgreSQL store has to get right: URLs, start-up errors, migrations shared by
/// replicas, the integrity check, and a server that goes away and comes back.
final class PostgresStoreTests: XCTestCase {
    func testURLIsParsedAndRedacted() throws {
        let url = try PostgresURL("postgresql://app%40prod:p%3Ass%2Fw0rd@db.internal:6543/parrot?sslmode=require")
        XCTAssertEqual(url.username, "app@prod")
        XCTAssertEqual(url.password, "p:ss/w0rd")
        XCTAssertEqual(url.host, "db.internal")
        XCTAssertEqual(url.port, 6543)
        XCTAssertEqual(url.database, "parrot")
        XCTAssertEqual(url.sslMode, .require)
        XCTAssertFalse(url.redacted.contains("p:ss"), url.redacted)
        let defaults = try PostgresURL("postgres://parrot@localhost")
        XCTAssertEqual(defaults.port, 5432)
        XCTAssertNil(defaults.password)
        XCTAssertNil(defaults.database)
        XCTAssertEqual(defaults.sslMode, .prefer)
    }

    func testMalformedURLsNameTheKey() {
        for bad in ["mysql://u:hunter2@h/db", "postgres://h/db", "postgres://u:hunter2@h/db?sslmode=sometimes", "not a url at all"] {
            XCTAssertThrowsError(try PostgresURL(bad), bad) { error in
                XCTAssertEqual((error as? ConfigError)?.key, "cache.postgres_url", bad)
                XCTAssertFalse("\(error)".contains("hunter2"), "\(error)")
            }
        }
    }

    func testUnreachableServerFailsAtOnceNamingTheKeyNotThePassword() async throws {
        let started = ContinuousClock.now
        do {
            _ = try await PostgresStore.connect(url: "postgres://parrot:Sup3r-Secret-PW@127.0.0.1:1/parrot", poolSize: 2, logger: TestPostgres.quietLogger)
            XCTFail("connected to a closed port")
        } catch let error as ConfigError {
            XCTAssertEqual(error.key, "cache.postgres_url")
            XCTAssertTrue(error.description.contains("cannot connect to 127.0.0.1:1"), error.description)
            XCTAssertFalse(error.description.contains("Sup3r-Secret-PW"), error.description)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(6), "the start-up check is bounded")
    }

    func testWrongPasswordIsReportedAsAuthenticationFailure() async throws {
        let server = try PostgresURL(try TestPostgres.serverURL())
        guard server.password != nil else { throw XCTSkip("the test server URL has no password, so a wrong one cannot be tested") }
        var components = URLComponents(string: try TestPostgres.serverURL())!
        components.password = "Wr0ng-Pass-Word"
        do {
            let store = try await PostgresStore.connect(url: components.string!, poolSize: 2, logger: TestPostgres.quietLogger)
            try await store.close()
            throw XCTSkip("the test server accepts any password (trust authentication)")
        } catch let error as ConfigError {
            XCTAssertEqual(error.key, "cache.postgres_url")
            XCTAssertTrue(error.description.contains("authentication failed"), error.description)
            XCTAssertFalse(error.description.contains("Wr0ng-Pass-Word"), error.description)
        }
    }

    func testMissingDatabaseIsNamedInTheError() async throws {
        var components = URLComponents(string: try TestPostgres.serverURL())!
        components.path = "/parrot_no_such_database"
        do {
            _ = try await PostgresStore.connect(url: components.string!, poolSize: 2, logger: TestPostgres.quietLogger)
            XCTFail("connected to a database that does not exist")
        } catch let error as ConfigError {
            XCTAssertEqual(error.key, "cache.postgres_url")
            XCTAssertTrue(error.description.contains("does not exist"), error.description)
        }
    }

    func testReplicasStartingTogetherMigrateOnceAndKeepData() async throws {
        try await withTestDatabase { database in
            let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await PostgresStore.connect(url: database.url, poolSize: 2, logger: TestPostgres.quietLogger) }
                }
                return try await group.reduce(into: [PostgresStore]()) { $0.append($1) }
            }
            try await stores[0].put(makeEntry(1))
            for store in stores { try await store.close() }

            let reopened = try await PostgresStore.connect(url: database.url, poolSize: 2, logger: TestPostgres.quietLogger)
            let kept = try await reopened.get(key(1))
            XCTAssertNotNil(kept, "data survives reopening")
            try await reopened.close()
            try await database.execute("""
                DO $$ BEGIN
                  IF (SELECT count(*) FROM parrot_schema_migrations) <> \(PostgresStore.migrations.count)
                     OR (SELECT count(DISTINCT name) FROM parrot_schema_migrations) <> \(PostgresStore.migrations.count) THEN
                    RAISE EXCEPTION 'migrations applied more than once or missing';
                  END IF;
                END $$
                """)
        }
    }

    func testIntegrityCheckFindsBodiesWhoseLengthDisagrees() async throws {
        try await withTestDatabase { database in
            let store = try await PostgresStore.connect(url: database.url, poolSize: 2, logger: TestPostgres.quietLogger)
            do {
                try await store.put(makeEntry(1, body: [UInt8](repeating: 1, count: 1000)))
                try await store.put(makeEntry(2))
                let sound = try await store.integrityCheck()
                XCTAssertEqual(sound, "ok")
                try await database.execute("UPDATE parrot_entries SET body_bytes = body_bytes + 1 WHERE body_bytes = 1000")
                let broken = try await store.integrityCheck()
                XCTAssertNotEqual(broken, "ok")
                XCTAssertTrue(broken.contains("1 entries"), broken)
            } catch {
                try? await store.close()
                throw error
            }
            try await store.close()
        }
    }

    /// The server goes away: a call fails within its budget, the next ones fail at once instead
    /// of each waiting, and calls succeed again once the server is back.
    func testLostServerFailsFastThenRecovers() async throws {
        try await withTestDatabase { database in
            let store = try await PostgresStore.connect(url: database.url, poolSize: 2, logger: TestPostgres.quietLogger)
            do {
                try await store.put(makeEntry(1))
                try await database.cutOff()
                let started = ContinuousClock.now
                await assertStoreError(try await store.get(key(1)), kinds: [.unreachable, .timedOut])
                XCTAssertLessThan(ContinuousClock.now - started, .seconds(6), "a lost server costs a call its budget at most")
                await assertStoreError(try await store.ping(), kinds: [.unreachable])

                try await database.restore()
                let recovered = try await eventually(30) { (try? await store.get(key(1))) != nil }
                XCTAssertTrue(recovered, "calls succeed again once the server is back")
            } catch {
                try? await database.restore()
                try? await store.close()
                throw error
            }
            try await store.close()
        }
    }

    func testReachabilityFailsFastThenLetsOneProbeThrough() {
        var machine = StoreReachabilityStateMachine(retryInterval: .seconds(1))
        let t0 = ContinuousClock.now
        XCTAssertEqual(machine.callStarting(now: t0), .proceed(isProbe: false))
        machine.callFoundServerUnreachable(now: t0)
        XCTAssertEqual(machine.callStarting(now: t0 + .milliseconds(500)), .failFast)
        XCTAssertEqual(machine.callStarting(now: t0 + .seconds(1)), .proceed(isProbe: true))
        XCTAssertEqual(machine.callStarting(now: t0 + .seconds(1)), .failFast, "one probe at a time")
        machine.callFoundServerUnreachable(now: t0 + .seconds(2))
        XCTAssertEqual(machine.callStarting(now: t0 + .milliseconds(2500)), .failFast)
        XCTAssertEqual(machine.callStarting(now: t0 + .seconds(3)), .proceed(isProbe: true))
        machine.probeEndedWithoutVerdict(now: t0 + .seconds(3))
        XCTAssertEqual(machine.callStarting(now: t0 + .seconds(3)), .proceed(isProbe: true), "an undecided probe lets the next call probe")
        machine.callSucceeded()
        XCTAssertTrue(machine.isReachable)
        XCTAssertEqual(machine.callStarting(now: t0 + .seconds(3)), .proceed(isProbe: false))
        machine.probeEndedWithoutVerdict(now: t0 + .seconds(3))
        XCTAssertTrue(machine.isReachable, "a stale probe outcome does not undo a success")
    }

    private func assertStoreError(
        _ call: @autoclosure () async throws -> some Any, kinds: [PostgresStoreError.Kind],
        file: StaticString = #filePath, line: UInt = #line
    ) async {
        do {
            _ = try await call()
            XCTFail("the call succeeded against a lost server", file: file, line: line)
        } catch let error as PostgresStoreError {
            XCTAssertTrue(kinds.contains(error.kind), "\(error.kind): \(error)", file: file, line: line)
        } catch {
            XCTFail("not a PostgresStoreError: \(error)", file: file, line: line)
        }
    }
}
