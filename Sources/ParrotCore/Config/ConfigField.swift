import Foundation

/// One settable key of a configuration struct: how to assign a TOML value to it and how to
/// read the same key from an environment variable's text.
struct ConfigField<Root> {
    let assign: (inout Root, ConfigValue, String) throws -> Void
    let parse: (String, String) throws -> ConfigValue

    static func string(_ path: WritableKeyPath<Root, String>) -> Self {
        .init(
            assign: { root, value, key in
                guard case .string(let s) = value else { throw ConfigError(key: key, "expected a string, got \(value.shown)") }
                root[keyPath: path] = s
            },
            parse: { text, _ in .string(text) }
        )
    }

    static func int(_ path: WritableKeyPath<Root, Int>, min: Int = 0, max: Int = .max) -> Self {
        .init(
            assign: { root, value, key in
                guard case .int(let i) = value else { throw ConfigError(key: key, "expected an integer, got \(value.shown)") }
                guard i >= min, i <= max else { throw ConfigError(key: key, "\(Self.range(min, max, unbounded: .max)), got \(i)") }
                root[keyPath: path] = i
            },
            parse: { text, key in
                guard let i = Int(text.trimmingCharacters(in: .whitespaces)) else { throw ConfigError(key: key, "expected an integer, got '\(text)'") }
                return .int(i)
            }
        )
    }

    static func double(_ path: WritableKeyPath<Root, Double>, min: Double = 0, max: Double = .greatestFiniteMagnitude) -> Self {
        .init(
            assign: { root, value, key in
                let d: Double
                switch value {
                case .double(let v): d = v
                case .int(let v): d = Double(v)
                default: throw ConfigError(key: key, "expected a number, got \(value.shown)")
                }
                guard d >= min, d <= max, d.isFinite else { throw ConfigError(key: key, "\(Self.range(min, max, unbounded: .greatestFiniteMagnitude)), got \(d)") }
                root[keyPath: path] = d
            },
            parse: { text, key in
                guard let d = Double(text.trimmingCharacters(in: .whitespaces)) else { throw ConfigError(key: key, "expected a number, got '\(text)'") }
                return .double(d)
            }
        )
    }

    static func bool(_ path: WritableKeyPath<Root, Bool>) -> Self {
        .init(
            assign: { root, value, key in
                guard case .bool(let b) = value else { throw ConfigError(key: key, "expected true or false, got \(value.shown)") }
                root[keyPath: path] = b
            },
            parse: { text, key in
                switch text.lowercased().trimmingCharacters(in: .whitespaces) {
                case "true", "1", "yes", "on": return .bool(true)
                case "false", "0", "no", "off": return .bool(false)
                default: throw ConfigError(key: key, "expected true or false, got '\(text)'")
                }
            }
        )
    }

    static func strings(_ path: WritableKeyPath<Root, [String]>) -> Self {
        .init(
            assign: { root, value, key in
                guard case .array(let items) = value else { throw ConfigError(key: key, "expected an array of strings, got \(value.shown)") }
                root[keyPath: path] = try items.map {
                    guard case .string(let s) = $0 else { throw ConfigError(key: key, "expected an array of strings, got \($0.shown) in it") }
                    return s
                }
            },
            parse: { text, _ in
                .array(text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
            }
        )
    }

    /// The accepted range in words: `must be between 1 and 65535`, `must be 0 or more`.
    static func range<N: Comparable>(_ min: N, _ max: N, unbounded: N) -> String {
        if max == unbounded { return "must be \(min) or more" }
        return "must be between \(min) and \(max)"
    }
}
