import ArgumentParser
import Foundation
import Logging
import ParrotCore

/// `--config`, shared by every command: file → environment → flags.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Path to proxy.conf (default: ./proxy.conf when present, else built-in defaults).")
    var config: String?

    /// `command`: whose usage to show when the file cannot be read.
    func load(for command: ParsableCommand.Type) throws -> ProxyConfig {
        if let config, !FileManager.default.isReadableFile(atPath: config) {
            throw UsageFailure(message: "cannot read \(config): \(unreadableReason(config))", command: command)
        }
        do {
            return try ProxyConfig.load(path: config, environment: ProcessInfo.processInfo.environment) { warning in
                FileHandle.standardError.write(Data("parrot: warning: \(warning)\n".utf8))
            }
        } catch let error as ConfigError {
            throw ConfigFailure(error)
        }
    }
}

/// `--url` and `--port`: where the running instance is, for the commands that talk to it.
struct InstanceOptions: ParsableArguments {
    @Option(help: "The running instance, as you would paste it: http://127.0.0.1:8080, 127.0.0.1:8080 or the OPENAI_BASE_URL (…/v1). Default: server.host and server.port of the config.")
    var url: String?
    @Option(help: "The running instance's port on the configured host (a shortcut for --url).")
    var port: Int?

    /// `http://host:port` with no trailing slash and no `/v1`: `--url`, else `--port` on the
    /// configured host, else the configured listener. A wildcard listener is reached on loopback.
    func baseURL(_ config: ProxyConfig) -> String {
        if let url { return Self.normalize(url) }
        let host = config.server.host
        let reachable = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "[::1]" : host.contains(":") ? "[\(host)]" : host
        return "http://\(reachable):\(port ?? config.server.port)"
    }

    /// What users paste, as Parrot's own base URL: adds `http://` when there is no scheme, drops
    /// trailing slashes and a trailing `/v1` (the OPENAI_BASE_URL form), `/dashboard` or `/stats`.
    static func normalize(_ pasted: String) -> String {
        var url = pasted.trimmingCharacters(in: .whitespacesAndNewlines)
        if !url.contains("://") { url = "http://" + url }
        var changed = true
        while changed {
            changed = false
            while url.hasSuffix("/") {
                url.removeLast()
                changed = true
            }
            for suffix in ["/v1", "/dashboard", "/stats"] where url.hasSuffix(suffix) {
                url.removeLast(suffix.count)
                changed = true
            }
        }
        return url
    }
}

/// A failure of the command line's own making (a file that cannot be read, a refused request),
/// printed with the subcommand's usage, not the top-level one.
struct UsageFailure: Error, CustomStringConvertible {
    let message: String
    let command: ParsableCommand.Type

    var description: String {
        let name = command.configuration.commandName ?? ""
        return "\(message)\nUsage: \(ParrotCommand.usageString(for: command))\n  See 'parrot \(name) --help' for more."
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("parrot: \(message)\n".utf8))
}

var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

/// A configuration error: printed as one line naming the key, exit status 2, no usage text
/// (the command line was fine; the configuration was not).
struct ConfigFailure: Error, CustomStringConvertible {
    let error: ConfigError
    init(_ error: ConfigError) { self.error = error }
    var description: String { error.description }
}

extension ConfigFailure {
    static func exit(_ error: ConfigError) -> ExitCode {
        printError(error.description)
        return ExitCode(2)
    }
}
