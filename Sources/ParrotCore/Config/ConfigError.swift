/// A configuration problem, reported at start-up with the key it concerns and where its value
/// came from, so the user knows exactly which line of `proxy.conf`, which `PARROT_*` variable
/// or which flag to fix.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let key: String
    public let message: String
    /// Where the key's value came from: `in proxy.conf`, `from PARROT_SERVER_PORT`, `from --port`,
    /// `default`. nil when unknown (a key checked outside loading).
    public var source: String?

    public init(key: String, source: String? = nil, _ message: String) {
        self.key = key
        self.source = source
        self.message = message
    }

    public var description: String { "invalid config: \(key)\(source.map { " (\($0))" } ?? ""): \(message)" }
}
