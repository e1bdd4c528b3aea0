/// Where each key of a `ProxyConfig` got its value: the file, an environment variable or a flag.
/// Error messages and the start-up summary read it; nothing else does.
public struct ConfigOrigins: Sendable {
    /// The configuration file that was read, as given (nil: none, built-in defaults).
    public var file: String?
    private var byKey: [String: String] = [:]

    public init(file: String? = nil) {
        self.file = file
    }

    /// Records that `key` (`server.port`) was set by `source` (`PARROT_SERVER_PORT`, `--port`);
    /// nil: by the file.
    public mutating func record(_ key: String, from source: String? = nil) {
        byKey[key] = source.map { "from \($0)" } ?? "in \(file ?? "proxy.conf")"
    }

    /// Whether `key` or a key under it (`providers` → `providers.local.base_url`) was set
    /// anywhere other than by the built-in defaults.
    public func isSet(_ key: String) -> Bool {
        byKey[key] != nil || byKey.keys.contains { $0.hasPrefix(key + ".") }
    }

    /// `in proxy.conf`, `from PARROT_SERVER_PORT`, `from --port` or `default` for `key`, or for
    /// the closest key above it that was set (`providers.local` for `providers.local.models`).
    public func describe(_ key: String) -> String {
        var candidate = key
        while true {
            if let source = byKey[candidate] { return source }
            guard let dot = candidate.lastIndex(of: ".") else { return "default" }
            candidate = String(candidate[..<dot])
        }
    }
}

/// Provenance is not configuration: two configurations with the same values are equal whatever
/// set them.
extension ConfigOrigins: Equatable {
    public static func == (lhs: ConfigOrigins, rhs: ConfigOrigins) -> Bool { true }
}
