import Logging

/// Opens the store `cache.store` names, migrating its schema. Used by the server and by the
/// CLI commands that act on the store directly.
public func openStore(config: CacheConfig, logger: Logger) async throws -> any CacheStore {
    switch config.store {
    case "postgres":
        return try await PostgresStore.connect(url: config.postgresUrl, poolSize: config.postgresPoolSize, logger: logger)
    default:
        return try SQLiteStore(path: config.path)
    }
}
