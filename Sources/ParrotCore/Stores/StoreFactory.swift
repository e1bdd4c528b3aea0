import Logging

/// Opens the store `cache.store` names, migrating its schema. Used by the server and by the
/// CLI commands that act on the store directly.
public func openStore(config: CacheConfig, logger: Logger) async throws -> any CacheStore {
    switch config.store {
    case "postgres":
        throw ConfigError(key: "cache.store", "the PostgreSQL store is not available in this build yet")
    default:
        return try SQLiteStore(path: config.path)
    }
}
