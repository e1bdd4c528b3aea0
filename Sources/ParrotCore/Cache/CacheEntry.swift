import NIOCore

/// One stored answer. `body` is the gzip-compressed upstream body exactly as it arrived
/// (after transfer decoding), so a replay in the stored mode is byte-identical.
public struct CacheEntry: Sendable {
    public enum Mode: String, Sendable, Hashable {
        case json
        case sse

        var other: Mode { self == .json ? .sse : .json }
    }

    public var key: CacheKey
    public var namespace: String
    public var endpoint: String
    public var provider: String
    public var model: String
    public var mode: Mode
    public var status: Int
    public var contentType: String
    public var body: ByteBuffer
    public var rawBytes: Int
    public var createdAt: Double
    /// nil: never expires.
    public var expiresAt: Double?
    public var lastHitAt: Double
    public var hitCount: Int
    public var promptTokens: Int
    public var completionTokens: Int
    /// The request's embedding, scope and text, when the semantic tier indexed it.
    public var semantic: SemanticRecord?

    public init(
        key: CacheKey, namespace: String, endpoint: String, provider: String, model: String, mode: Mode,
        status: Int, contentType: String, body: ByteBuffer, rawBytes: Int, createdAt: Double, expiresAt: Double?,
        lastHitAt: Double? = nil, hitCount: Int = 0, promptTokens: Int = 0, completionTokens: Int = 0,
        semantic: SemanticRecord? = nil
    ) {
        self.key = key
        self.namespace = namespace
        self.endpoint = endpoint
        self.provider = provider
        self.model = model
        self.mode = mode
        self.status = status
        self.contentType = contentType
        self.body = body
        self.rawBytes = rawBytes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastHitAt = lastHitAt ?? createdAt
        self.hitCount = hitCount
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.semantic = semantic
    }

    public func isFresh(at now: Double) -> Bool {
        guard let expiresAt else { return true }
        return now < expiresAt
    }

    /// Whether the entry may still answer as STALE (the provider failing): until `window`
    /// seconds (`cache.stale_if_error_seconds`) past its expiry.
    public func isWithinStaleWindow(at now: Double, window: Int) -> Bool {
        now <= (expiresAt ?? .infinity) + Double(window)
    }

    public func age(at now: Double) -> Int { max(0, Int(now - createdAt)) }
}

/// A cache entry as the memory tier holds it: with its body already inflated, so a hit for a
/// client that does not accept gzip costs no decompression either.
public struct CachedAnswer: Sendable {
    public var entry: CacheEntry
    public var identityBody: ByteBuffer

    public init(entry: CacheEntry, identityBody: ByteBuffer) {
        self.entry = entry
        self.identityBody = identityBody
    }

    public init(entry: CacheEntry) throws {
        self.entry = entry
        self.identityBody = try Gzip.decompress(entry.body)
    }

    /// What keeping this answer in the memory tier costs, as the heap sees it: both bodies'
    /// allocated capacities (not just the bytes used), the strings and the semantic record the
    /// entry holds, and a fixed part for the rest (``fixedMemoryCost``).
    var memoryCost: Int {
        var cost = Self.fixedMemoryCost + entry.body.capacity + identityBody.capacity
        cost += Self.heapCost(entry.namespace) + Self.heapCost(entry.endpoint) + Self.heapCost(entry.provider)
        cost += Self.heapCost(entry.model) + Self.heapCost(entry.contentType)
        if let semantic = entry.semantic {
            cost += 48 + semantic.vector.count * MemoryLayout<Float>.stride + Self.heapCost(semantic.scope) + Self.heapCost(semantic.text)
        }
        return cost
    }

    /// What an entry costs besides its bodies and strings: the tier's node (this struct, its
    /// links and key) and index slot, the two body storage objects, the key's digest array, and
    /// malloc's per-allocation header and rounding on each of them.
    /// (Bodies are ByteBuffers, whose storage NIO always allocates in powers of two: an 8.4 KB
    /// answer takes 16 KiB, which `capacity` counts.) Measured in `MemoryTierFootprintTests`.
    static let fixedMemoryCost = MemoryLayout<CachedAnswer>.stride + 64 /* node links, key, index slot */
        + 2 * 64 /* ByteBuffer storage objects */ + 80 /* digest array */ + 12 * 16 /* malloc headers, array and index growth */

    /// A string's heap allocation: small ASCII strings (up to 15 UTF-8 bytes) live inline.
    static func heapCost(_ s: String) -> Int {
        let count = s.utf8.count
        return count <= 15 ? 0 : 32 + (count + 16) & ~15
    }
}

/// What the semantic tier keeps beside an entry so its index can be rebuilt on start and shared
/// through the store.
public struct SemanticRecord: Sendable, Equatable {
    /// Hex digest of everything but the conversation text (endpoint, provider, model, namespace,
    /// every other parameter): a semantic hit needs the same scope.
    public var scope: String
    public var vector: [Float]
    public var text: String

    public init(scope: String, vector: [Float], text: String) {
        self.scope = scope
        self.vector = vector
        self.text = text
    }

    /// Little-endian float32s, for BLOB/bytea columns.
    public var vectorBytes: [UInt8] {
        vector.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) }
    }

    public static func vector(from bytes: [UInt8]) -> [Float] {
        guard bytes.count % 4 == 0 else { return [] }
        return bytes.withUnsafeBytes { raw in
            (0..<(bytes.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
    }
}

/// One indexed entry as the store returns it for (re)building the semantic index.
public struct SemanticIndexRow: Sendable {
    public var key: CacheKey
    public var record: SemanticRecord
    public var createdAt: Double

    public init(key: CacheKey, record: SemanticRecord, createdAt: Double) {
        self.key = key
        self.record = record
        self.createdAt = createdAt
    }
}
