import ServiceLifecycle

/// Closes the cache store on shutdown, as a lifecycle service. Services stop in reverse order,
/// so listed before `StoreJanitor` it closes the store only after the server has drained and
/// the janitor has written the last hit counts.
struct StoreClosingService: Service, CustomStringConvertible {
    let store: any CacheStore

    // ServiceLifecycle logs each service's description; keep it to the name.
    var description: String { "StoreClosingService" }

    func run() async throws {
        try? await gracefulShutdown()
        try? await store.close()
    }
}
