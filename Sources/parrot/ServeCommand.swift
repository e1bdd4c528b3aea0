import ArgumentParser
import Foundation
import Logging
import ParrotCore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the proxy.",
        discussion: "Listens on server.host:server.port (127.0.0.1:8080 by default) until SIGINT or SIGTERM; in-flight requests get server.shutdown_grace_s to finish, then the rest are closed."
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "Listen on this host (overrides server.host).") var host: String?
    @Option(help: "Listen on this port (overrides server.port; 0 picks a free one).") var port: Int?

    func run() async throws {
        do {
            try await serve()
        } catch let failure as ConfigFailure {
            throw ConfigFailure.exit(failure.error)
        } catch let error as ConfigError {
            throw ConfigFailure.exit(error)
        }
    }

    func serve() async throws {
        #if canImport(Glibc)
        // glibc gives each thread that allocates its own arena; with NIO, the Swift concurrency
        // pool and SQLite's threads that fragments freed answers across many arenas and RSS
        // grows far past the configured cache bounds. Two arenas match two cores.
        if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil { _ = glibcMallopt(glibcArenaMax, 2) }
        #endif
        var config = try options.load(for: Self.self)
        if let host {
            config.server.host = host
            config.origins.record("server.host", from: "--host")
        }
        if let port {
            config.server.port = port
            config.origins.record("server.port", from: "--port")
        }
        let environment = ProcessInfo.processInfo.environment
        try config.validate()
        let secrets = try config.resolveSecrets(environment: environment)
        let level = Logger.Level(rawValue: config.log.level) ?? .info
        let json = config.log.format == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : TextLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "parrot")
        logger.logLevel = level
        let app = try await buildApplication(config: config, secrets: secrets, logger: logger)
        defer { LogSink.standardError.flush() }
        do {
            try await app.run()
        } catch {
            guard let sentence = ListenFailure.describe(error, server: config.server) else { throw error }
            LogSink.standardError.flush()
            printError(sentence)
            throw ExitCode(1)
        }
    }
}

#if canImport(Glibc)
/// `mallopt(3)` from <malloc.h>, which the Glibc module does not export.
@_silgen_name("mallopt")
func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
/// `M_ARENA_MAX` in <malloc.h>.
let glibcArenaMax: Int32 = -8
#endif
