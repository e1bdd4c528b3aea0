import Foundation
import Logging
@testable import ParrotCore
import PostgresNIO
import XCTest

/// The PostgreSQL server tests run against: `PARROT_TEST_POSTGRES_URL`, which `./test.sh` sets
/// from `scripts/postgres-test-cluster.sh start`. Never mocked. Without it a test fails in CI
/// (`CI` set) and is skipped, loudly, elsewhere.
enum TestPostgres {
    static let variable = "PARROT_TEST_POSTGRES_URL"
    static let quietLogger = Logger(label: "parrot-test-postgres") { _ in SwiftLogNoOpLogHandler() }

    static func serverURL() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        guard let text = environment[variable], !text.isEmpty else {
            let message = "PostgreSQL not available: set \(variable) (./test.sh starts a throwaway cluster)"
            if environment["CI"] != nil {
                XCTFail("!!! \(message). In CI the PostgreSQL tests must run, not be skipped.")
                throw TestError(message)
            }
            throw XCTSkip(message)
        }
        return text
    }
}

/// A database of its own for one test (`parrot_test_<random>`), created on the test server and
/// dropped afterwards, plus the admin moves tests need (cutting the database off and back on).
final class TestDatabase: Sendable {
    let name: String
    /// The server's URL pointing at this database, password included: what Parrot is given.
    let url: String
    let server: PostgresURL

    private init(name: String, url: String, server: PostgresURL) {
        self.name = name
        self.url = url
        self.server = server
    }

    static func create() async throws -> TestDatabase {
        let serverText = try TestPostgres.serverURL()
        let server = try PostgresURL(serverText)
        let name = "parrot_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        guard var components = URLComponents(string: serverText) else { throw TestError("\(TestPostgres.variable) is not a URL") }
        components.path = "/" + name
        guard let url = components.string else { throw TestError("cannot build the test database URL") }
        let database = TestDatabase(name: name, url: url, server: server)
        try await database.admin("CREATE DATABASE \(name)")
        return database
    }

    func drop() async {
        do {
            try await admin("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        } catch {
            XCTFail("could not drop test database \(name): \(error)")
        }
    }

    /// Simulates the server going away for this database: no new connections, and every open
    /// one terminated.
    func cutOff() async throws {
        try await admin("ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
        try await admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)' AND pid <> pg_backend_pid()")
    }

    func restore() async throws {
        try await admin("ALTER DATABASE \(name) ALLOW_CONNECTIONS true")
    }

    /// Runs one statement in this test database (not through Parrot).
    func execute(_ sql: String) async throws {
        try await withConnection(database: name) { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestPostgres.quietLogger)
        }
    }

    /// Runs one statement of trusted, generated SQL in the server's own database (identifiers
    /// such as database names cannot be bound).
    private func admin(_ sql: String) async throws {
        try await withConnection(database: server.database) { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestPostgres.quietLogger)
        }
    }

    private func withConnection(database: String?, _ body: (PostgresConnection) async throws -> Void) async throws {
        let configuration = PostgresConnection.Configuration(
            host: server.host, port: server.port, username: server.username, password: server.password,
            database: database, tls: try server.tlsModes().connection
        )
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: TestPostgres.quietLogger)
        do {
            try await body(connection)
        } catch {
            try? await connection.close()
            throw PostgresStore.storeError(error)
        }
        try await connection.close()
    }
}

/// Runs `body` with a fresh database and always drops it (re-allowing connections first is not
/// needed: `DROP … WITH (FORCE)` takes it either way).
func withTestDatabase(_ body: (TestDatabase) async throws -> Void) async throws {
    let database = try await TestDatabase.create()
    do {
        try await body(database)
    } catch {
        await database.drop()
        throw error
    }
    await database.drop()
}
