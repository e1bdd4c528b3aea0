import TOMLKit

/// A configuration value as read from TOML or from an environment variable, before it is
/// checked against the type of the key it is assigned to.
enum ConfigValue: Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([ConfigValue])
    case table([String: ConfigValue])

    init(toml value: any TOMLValueConvertible, key: String) throws {
        switch value.type {
        case .string: self = .string(value.string ?? "")
        case .int: self = .int(value.int ?? 0)
        case .double: self = .double(value.double ?? 0)
        case .bool: self = .bool(value.bool ?? false)
        case .array:
            let array = value.array ?? TOMLArray()
            self = .array(try array.map { try ConfigValue(toml: $0, key: key) })
        case .table:
            var result: [String: ConfigValue] = [:]
            for (name, child) in value.table ?? TOMLTable() {
                result[name] = try ConfigValue(toml: child, key: key.isEmpty ? name : "\(key).\(name)")
            }
            self = .table(result)
        case .date, .time, .dateTime:
            throw ConfigError(key: key, "dates and times are not accepted here")
        }
    }

    var typeName: String {
        switch self {
        case .string: "a string"
        case .int: "an integer"
        case .double: "a number"
        case .bool: "a boolean"
        case .array: "an array"
        case .table: "a table"
        }
    }

    /// The value as a user wrote it, with its type: `"eighty" (a string)`, `70000 (an integer)`.
    var shown: String {
        switch self {
        case .string(let s): "\"\(s)\" (a string)"
        case .int(let i): "\(i) (an integer)"
        case .double(let d): "\(d) (a number)"
        case .bool(let b): "\(b) (a boolean)"
        case .array, .table: typeName
        }
    }
}
