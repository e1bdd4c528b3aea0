import Foundation
import NIOCore

/// `parrot export` / `parrot import`: one JSON object per line per entry, carrying the stored
/// gzip body in base64 so an entry round-trips bit for bit. Namespaces travel as derived ids,
/// never the secret: an import hits only where the secret is the same.
public enum CacheTransfer {
    public static func line(for entry: CacheEntry) -> String {
        JSONValue.object([
            ("key", .string(entry.key.hex)),
            ("namespace", .string(entry.namespace)),
            ("endpoint", .string(entry.endpoint)),
            ("provider", .string(entry.provider)),
            ("model", .string(entry.model)),
            ("mode", .string(entry.mode.rawValue)),
            ("status", .int(entry.status)),
            ("content_type", .string(entry.contentType)),
            ("body_gzip_base64", .string(Data(entry.body.readableBytesView).base64EncodedString())),
            ("raw_bytes", .int(entry.rawBytes)),
            ("created_at", .number("\(entry.createdAt)")),
            ("expires_at", entry.expiresAt.map { .number("\($0)") } ?? .null),
            ("last_hit_at", .number("\(entry.lastHitAt)")),
            ("hit_count", .int(entry.hitCount)),
            ("prompt_tokens", .int(entry.promptTokens)),
            ("completion_tokens", .int(entry.completionTokens)),
            ("semantic_scope", entry.semantic.map { .string($0.scope) } ?? .null),
            ("semantic_text", entry.semantic.map { .string($0.text) } ?? .null),
            ("embedding_base64", entry.semantic.map { .string(Data($0.vectorBytes).base64EncodedString()) } ?? .null),
        ]).jsonString
    }

    public struct LineError: Error, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    public static func entry(from text: Substring, line: Int) throws -> CacheEntry {
        guard let json = try? JSONParser.parse(Array(text.utf8)) else { throw LineError(line: line, reason: "not JSON") }
        func string(_ name: String) throws -> String {
            guard let v = json[name]?.stringValue else { throw LineError(line: line, reason: "missing \(name)") }
            return v
        }
        func double(_ name: String) throws -> Double {
            guard let v = json[name]?.doubleValue else { throw LineError(line: line, reason: "missing \(name)") }
            return v
        }
        guard let key = CacheKey(hex: try string("key")) else { throw LineError(line: line, reason: "bad key") }
        guard let body = Data(base64Encoded: try string("body_gzip_base64")) else { throw LineError(line: line, reason: "bad body") }
        guard let mode = CacheEntry.Mode(rawValue: try string("mode")) else { throw LineError(line: line, reason: "bad mode") }
        return CacheEntry(
            key: key, namespace: try string("namespace"), endpoint: try string("endpoint"), provider: try string("provider"),
            model: try string("model"), mode: mode, status: json["status"]?.intValue ?? 200, contentType: try string("content_type"),
            body: ByteBuffer(bytes: body), rawBytes: json["raw_bytes"]?.intValue ?? 0, createdAt: try double("created_at"),
            expiresAt: json["expires_at"]?.doubleValue, lastHitAt: json["last_hit_at"]?.doubleValue,
            hitCount: json["hit_count"]?.intValue ?? 0, promptTokens: json["prompt_tokens"]?.intValue ?? 0,
            completionTokens: json["completion_tokens"]?.intValue ?? 0,
            semantic: semanticRecord(json)
        )
    }

    static func semanticRecord(_ json: JSONValue) -> SemanticRecord? {
        guard let scope = json["semantic_scope"]?.stringValue, let text = json["semantic_text"]?.stringValue,
              let encoded = json["embedding_base64"]?.stringValue, let bytes = Data(base64Encoded: encoded)
        else { return nil }
        return SemanticRecord(scope: scope, vector: SemanticRecord.vector(from: Array(bytes)), text: text)
    }

    /// Writes every entry; `progress` gets the running count.
    public static func export(from store: any CacheStore, write: (String) throws -> Void, progress: (Int) -> Void = { _ in }) async throws -> Int {
        var after: CacheKey? = nil
        var count = 0
        while true {
            let page = try await store.entries(after: after, limit: 500)
            guard let last = page.last else { break }
            for entry in page { try write(line(for: entry) + "\n") }
            count += page.count
            progress(count)
            after = last.key
        }
        return count
    }

    /// Reads JSON lines and imports them in batches.
    public static func `import`(into store: any CacheStore, lines: some Sequence<Substring>, progress: (Int) -> Void = { _ in }) async throws -> Int {
        var batch: [CacheEntry] = []
        var count = 0
        for (i, text) in lines.enumerated() where !text.trimmingCharacters(in: .whitespaces).isEmpty {
            batch.append(try entry(from: text, line: i + 1))
            if batch.count == 500 {
                try await store.importEntries(batch)
                count += batch.count
                batch = []
                progress(count)
            }
        }
        if !batch.isEmpty || count == 0 {
            try await store.importEntries(batch)
            count += batch.count
            progress(count)
        }
        return count
    }
}
