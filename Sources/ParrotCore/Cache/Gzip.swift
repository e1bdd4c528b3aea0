import CompressNIO
import NIOCore

/// gzip for stored bodies: compressed once when an answer is stored, served as stored to
/// clients that accept gzip.
enum Gzip {
    static func compress(_ buffer: ByteBuffer) throws -> ByteBuffer {
        var input = buffer
        let output = try input.compress(with: .gzip())
        // The compressor allocates for the worst case (about the input's size); keep only what
        // the stored answer needs, since the memory tier holds it for a long time.
        return ByteBuffer(bytes: output.readableBytesView)
    }

    /// gzip in deflate's "stored" blocks: for bodies that do not compress, such as float
    /// vectors (a few percent smaller at best), a copy instead of a deflate (measured 30 times
    /// faster for 1,000 vectors of 1,536 floats, 9 % more bytes) — still gzip for every reader.
    static func store(_ buffer: ByteBuffer) throws -> ByteBuffer {
        var input = buffer
        let stored = ZlibConfiguration(windowSize: .window2k, compressionLevel: .noCompression, memoryLevel: .memory1k)
        let output = try input.compress(with: .gzip(configuration: stored))
        return ByteBuffer(bytes: output.readableBytesView)
    }

    /// - Parameter limit: refuses to inflate past this many bytes (corrupt or hostile data).
    static func decompress(_ buffer: ByteBuffer, limit: Int = 256 << 20) throws -> ByteBuffer {
        var input = buffer
        return try input.decompress(with: .gzip(), maxSize: limit)
    }
}
