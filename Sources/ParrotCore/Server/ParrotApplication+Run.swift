import Logging
import ServiceLifecycle
import UnixSignals

extension ParrotApplication {
    /// Runs Parrot until one of `signals` arrives, then drains: the listener stops accepting,
    /// `/readyz` answers 503, in-flight requests and streams get `server.shutdown_grace_s` to
    /// finish, and whatever is still open after that is closed. Returns normally in both cases,
    /// so the process exits 0 after a drain, as a supervisor expects of SIGTERM.
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let logger = engine.logger
        let grace = engine.config.server.shutdownGraceS
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: application),
                .init(service: DrainNotice(graceSeconds: grace, logger: logger)),
            ],
            gracefulShutdownSignals: signals,
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(grace)
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch is CancellationError {
            // The grace period ran out and the rest was closed: a drain, not a failure.
        }
        logger.info("stopped")
    }
}

/// Logs when the drain starts and how long it may take: the line an operator looks for after
/// sending SIGTERM.
struct DrainNotice: Service {
    let graceSeconds: Int
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        guard !Task.isCancelled else { return }
        logger.info("draining: not accepting new connections; /readyz answers 503; in-flight requests and streams get up to \(graceSeconds) s (server.shutdown_grace_s)")
    }
}
