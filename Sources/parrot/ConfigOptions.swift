import ArgumentParser
import Foundation
import Logging
import ParrotCore

/// `--config`, shared by every command: file → environment → flags.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Path to proxy.conf (default: ./proxy.conf when present, else built-in defaults).")
    var config: String?

    func load() throws -> ProxyConfig {
        do {
            return try ProxyConfig.load(path: config, environment: ProcessInfo.processInfo.environment) { warning in
                FileHandle.standardError.write(Data("parrot: warning: \(warning)\n".utf8))
            }
        } catch let error as ConfigError {
            throw ConfigFailure(error)
        }
    }
}

/// The URL of a running instance: `--url`, else the configured listener.
func instanceURL(_ url: String?, _ config: ProxyConfig) -> String {
    if let url { return url.hasSuffix("/") ? String(url.dropLast()) : url }
    let host = config.server.host == "0.0.0.0" ? "127.0.0.1" : config.server.host
    return "http://\(host):\(config.server.port)"
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
