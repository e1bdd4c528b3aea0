/// A configuration problem, reported at start-up with the key it concerns so the user knows
/// exactly which line of `proxy.conf` (or which `PARROT_*` variable) to fix.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let key: String
    public let message: String

    public init(key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "invalid config: \(key): \(message)" }
}
