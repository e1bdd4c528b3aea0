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
    @OptionGroup var instance: InstanceOptions
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Option(help: "Only this namespace: the name clients send in X-Parrot-Namespace, a derived id as logged, or 'default'.")
    var namespace: String?

    func run() async throws {
        let config = try options.load(for: Self.self)
        let what = namespace.map { "namespace \"\($0)\"" } ?? "the whole cache"
        if !yes {
            guard isatty(STDIN_FILENO) != 0 else {
                throw UsageFailure(message: "refusing to clear \(what) without --yes when not run from a terminal", command: Self.self)
            }
            print("Delete \(what)? [y/N] ", terminator: "")
            guard let reply = readLine(), ["y", "yes"].contains(reply.lowercased()) else {
                print("Nothing deleted.")
                return
            }
        }
        let base = instance.baseURL(config)
        var target = base + "/cache"
        if let namespace { target += "?namespace=" + (namespace.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? namespace) }
        let variable = config.server.adminTokenEnv
        let token = variable.isEmpty ? nil : ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        if let answer = try? await InstanceClient.call(.DELETE, target, token: token) {
            switch answer.status {
            case 200:
                let json = try? JSONParser.parse(Array(answer.body.utf8))
                let deleted = json?["deleted"]?.intValue ?? 0
                print("Deleted \(Self.entries(deleted)) from \(what) through the running instance at \(base).\(Self.hint(deleted, json))")
                return
            case 401:
                let source = variable.isEmpty
                    ? "server.admin_token_env is not set in this configuration, so no token was sent; set it to the name of the variable that holds the instance's admin token"
                    : token == nil ? "the token is read from \(variable) (server.admin_token_env), which is not set in this shell"
                    : "the token sent was read from \(variable) (server.admin_token_env)"
                throw UsageFailure(message: "the running instance at \(base) refused (401, admin token missing or wrong): \(source)", command: Self.self)
            default:
                let message = (try? JSONParser.parse(Array(answer.body.utf8)))?["error"]?["message"]?.stringValue ?? answer.body
                throw UsageFailure(message: "the running instance at \(base) refused (\(answer.status)): \(message)", command: Self.self)
            }
        }
        let store = try await openStore(config: config.cache, logger: Logger(label: "parrot"))
        var storeNamespace = namespace
        if let name = namespace, !NamespaceDeriver.isDerivedID(name) {
            let secret: String
            if !config.cache.namespaceSecretEnv.isEmpty, let configured = ProcessInfo.processInfo.environment[config.cache.namespaceSecretEnv], !configured.isEmpty {
                secret = configured
            } else {
                secret = try await store.namespaceSecret(proposed: NamespaceDeriver.generateSecret())
            }
            storeNamespace = NamespaceDeriver(secret: secret, shareAcrossKeys: config.cache.shareAcrossKeys).namespace(forName: name)
        }
        let deleted = try await store.clear(namespace: storeNamespace)
        try await store.close()
        print("Deleted \(Self.entries(deleted)) from \(what) in the store (\(config.cache.store); no running instance answered at \(base)).")
    }

    static func entries(_ n: Int) -> String { n == 1 ? "1 cached answer" : "\(n) cached answers" }

    /// Why a named namespace may have held nothing: names are per key unless shared.
    static func hint(_ deleted: Int, _ json: JSONValue?) -> String {
        guard deleted == 0, json?["per_key_name"]?.boolValue == true else { return "" }
        return " (A name is per client key unless cache.share_across_keys = true; to clear one key's namespace, pass its derived id as logged.)"
    }
}
