import CompressNIO
import NIOCore

/// gzip for stored bodies: compressed once when an answer is stored, served as stored to
/// clients that accept gzip.
enum Gzip {
    static func compress(_ buffer: ByteBuffer) throws -> ByteBuffer {
        var input = buffer
        return try input.compress(with: .gzip())
    }

    /// - Parameter limit: refuses to inflate past this many bytes (corrupt or hostile data).
    static func decompress(_ buffer: ByteBuffer, limit: Int = 256 << 20) throws -> ByteBuffer {
        var input = buffer
        return try input.decompress(with: .gzip(), maxSize: limit)
    }
}
