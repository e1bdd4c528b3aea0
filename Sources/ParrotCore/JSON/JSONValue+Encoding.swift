import NIOCore

extension JSONValue {
    /// Compact JSON. With `sortedKeys` the output is the canonical form used for cache keys:
    /// keys sorted by their UTF-8 bytes, no whitespace, numbers already canonical from parsing.
    public func encode(into out: inout some JSONByteSink, sortedKeys: Bool = false) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): Self.encodeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.encode(into: &out, sortedKeys: sortedKeys)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let ordered = sortedKeys ? members.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) } : members
            for (i, member) in ordered.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.encodeString(member.0, into: &out)
                out.append(UInt8(ascii: ":"))
                member.1.encode(into: &out, sortedKeys: sortedKeys)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    public func encoded(sortedKeys: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        encode(into: &out, sortedKeys: sortedKeys)
        return out
    }

    public var jsonString: String { String(decoding: encoded(), as: UTF8.self) }

    public var byteBuffer: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(256)
        encode(into: &buffer)
        return buffer
    }

    static func encodeString(_ s: String, into out: inout some JSONByteSink) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them in one go.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: s.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Where the encoder writes: an array for keys and tests, a `ByteBuffer` for bodies, which then
/// go to the client and the cache without another copy.
public protocol JSONByteSink {
    mutating func append(_ byte: UInt8)
    mutating func append(contentsOf bytes: some Sequence<UInt8>)
}

extension Array: JSONByteSink where Element == UInt8 {}

extension ByteBuffer: JSONByteSink {
    public mutating func append(_ byte: UInt8) { writeInteger(byte) }
    public mutating func append(contentsOf bytes: some Sequence<UInt8>) { writeBytes(bytes) }
}
