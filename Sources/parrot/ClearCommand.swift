import ArgumentParser
import Foundation
import Logging
import ParrotCore

struct ClearCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear",
        abstract: "Delete cached answers (all, or one namespace).",
        discussion: "Calls a running instance's DELETE /cache when one answers (every process drops its memory tier within 1 s); otherwise deletes from the store directly."
    )

    @OptionGroup var options: ConfigOptions
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Option(help: "Only this namespace (a derived id as logged, or 'default').") var namespace: String?
    @Option(help: "Base URL of the running instance (default: from config).") var url: String?

    func run() async throws {
        let config = try options.load()
        let what = namespace.map { "namespace \($0)" } ?? "the whole cache"
        if !yes {
            guard isatty(STDIN_FILENO) != 0 else {
                throw ValidationError("refusing to clear \(what) without --yes when not run from a terminal")
            }
            print("Delete \(what)? [y/N] ", terminator: "")
            guard let reply = readLine(), ["y", "yes"].contains(reply.lowercased()) else {
                print("Nothing deleted.")
                return
            }
        }
        let base = instanceURL(url, config)
        var target = base + "/cache"
        if let namespace { target += "?namespace=" + (namespace.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? namespace) }
        let token = ProcessInfo.processInfo.environment[config.server.adminTokenEnv].flatMap { $0.isEmpty ? nil : $0 }
        if let answer = try? await InstanceClient.call(.DELETE, target, token: token) {
            guard answer.status == 200 else {
                throw ValidationError("the running instance at \(base) refused: \(answer.status) \(answer.body)")
            }
            print("Cleared through \(base): \(answer.body)")
            return
        }
        let store = try await openStore(config: config.cache, logger: Logger(label: "parrot"))
        let deleted = try await store.clear(namespace: namespace)
        try await store.close()
        print("Cleared \(deleted) entries from the store (no running instance answered at \(base)).")
    }
}
