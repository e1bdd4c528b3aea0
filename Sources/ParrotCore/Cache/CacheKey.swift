import Crypto

/// SHA-256 over the canonical encoding of everything that can change an answer.
/// Two requests that differ only in key order, spacing, number spelling or in fields listed
/// in `ignoredFields` get the same key; any other difference gives another key.
public struct CacheKey: Sendable, Hashable, CustomStringConvertible {
    public let digest: [UInt8]

    /// Body fields that never change the answer, per endpoint, so never split the cache.
    /// `stream` is ignored because a stored stream and a stored JSON answer convert into each
    /// other; for endpoints that cannot convert, the mode is added to the key explicitly instead.
    /// `store` stays in the chat key (a `store: true` completion is retrievable by id later,
    /// one answered from a `store: false` entry is not), and `/v1/responses` ignores nothing
    /// but `stream`: its answer echoes `store`, `metadata`, `user` and the rest, and `store`,
    /// `previous_response_id`, `conversation` and `background` change what the provider keeps.
    public static func ignoredFields(for endpoint: Endpoint) -> Set<String> {
        switch endpoint {
        case .chatCompletions: ["user", "metadata", "stream", "safety_identifier", "prompt_cache_key"]
        case .completions: ["user", "stream"]
        case .embeddings: ["user"]
        case .responses: ["stream"]
        }
    }

    public init(digest: [UInt8]) {
        self.digest = digest
    }

    /// - Parameters:
    ///   - streamed: the request's `stream` flag; enters the key only for endpoints whose
    ///     stored answers cannot be converted between modes.
    ///   - variant: what else reaches the provider and can change the answer or who pays for
    ///     it: the query string and the `OpenAI-Beta` / `-Organization` / `-Project` headers
    ///     (see ``KeyVariant``); empty for the usual request, which keeps its key unchanged.
    public init(endpoint: Endpoint, provider: String, model: String, namespace: String, body: JSONValue, streamed: Bool,
                variant: String = "") {
        var canonical = Self.scope(endpoint: endpoint.rawValue, provider: provider, model: model, namespace: namespace,
                                   mode: endpoint.convertsBetweenModes ? "any" : (streamed ? "sse" : "json"), variant: variant,
                                   capacity: 512)
        body.removing(Self.ignoredFields(for: endpoint)).encode(into: &canonical, sortedKeys: true)
        self.digest = Array(SHA256.hash(data: canonical))
    }

    /// The first line of every key's canonical form: where the request went and for whom
    /// (sorted-key JSON, then a newline); the body's canonical form follows it.
    static func scope(endpoint: String, provider: String, model: String, namespace: String, mode: String?, variant: String,
                      capacity: Int) -> [UInt8] {
        var canonical: [UInt8] = []
        canonical.reserveCapacity(capacity)
        var members: [(String, JSONValue)] = [
            ("endpoint", .string(endpoint)), ("provider", .string(provider)), ("model", .string(model)),
            ("namespace", .string(namespace)),
        ]
        if let mode { members.append(("mode", .string(mode))) }
        if !variant.isEmpty { members.append(("variant", .string(variant))) }
        JSONValue.object(members).encode(into: &canonical, sortedKeys: true)
        canonical.append(0x0A)
        return canonical
    }

    /// Where an answer that cannot stand for both modes is stored "beside" the entry of a key
    /// that converts between modes: a chat stream without `usage` answers streamed repeats
    /// from here, while a plain request misses it and stores its JSON answer under `self`.
    public var besideForStreams: CacheKey {
        var bytes = digest
        bytes.append(contentsOf: Array("beside:sse".utf8))
        return CacheKey(digest: Array(SHA256.hash(data: bytes)))
    }

    public var hex: String { Self.hex(digest) }

    /// The short prefix shown in `X-Parrot-Key` and logs.
    public var prefix: String { Self.hex(digest.prefix(8)) }

    public var description: String { hex }

    public init?(hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var iterator = hex.utf8.makeIterator()
        while let hi = iterator.next(), let lo = iterator.next() {
            guard let h = Self.nibble(hi), let l = Self.nibble(lo) else { return nil }
            bytes.append(h << 4 | l)
        }
        self.digest = bytes
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Runs for every answer (`X-Parrot-Key`), so it writes straight into the string's storage.
    static func hex(_ bytes: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var i = 0
            for b in bytes {
                out[i] = hexDigit(b >> 4)
                out[i + 1] = hexDigit(b & 0xF)
                i += 2
            }
            return i
        }
    }

    @inline(__always)
    private static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? v + UInt8(ascii: "0") : v - 10 + UInt8(ascii: "a") }
}
