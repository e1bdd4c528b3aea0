extension String {
    /// Appends `value` as a JSON string literal. Answers are built as text by hand because a
    /// benchmark pushes thousands of them a second through the mock.
    mutating func appendJSONString(_ value: String) {
        append("\"")
        let needsEscaping = value.utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
        guard needsEscaping else {
            append(value)
            append("\"")
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": append("\\\"")
            case "\\": append("\\\\")
            case "\n": append("\\n")
            case "\r": append("\\r")
            case "\t": append("\\t")
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                append("\\u")
                append(String(repeating: "0", count: 4 - hex.count))
                append(hex)
            default:
                unicodeScalars.append(scalar)
            }
        }
        append("\"")
    }

    /// `value` as a JSON string literal.
    static func jsonString(_ value: String) -> String {
        var text = ""
        text.reserveCapacity(value.utf8.count + 2)
        text.appendJSONString(value)
        return text
    }
}
