import Foundation
import Synchronization

/// Where Parrot's log lines go: standard error, written in batches. A line per request on the
/// hot path must not cost a `write(2)` each, so lines are appended to a buffer under a short
/// lock and a background thread writes the buffer every 50 ms (or at once when it passes
/// 64 KiB, or for warnings and worse, so they are never delayed). `flush()` runs at shutdown.
public final class LogSink: Sendable {
    public static let standardError = LogSink(fileDescriptor: 2)

    private let fileDescriptor: Int32
    private let buffer = Mutex<[UInt8]>([])
    static let flushBytes = 64 << 10

    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
        let thread = Thread { [weak self] in
            while let sink = self {
                sink.flush()
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        thread.name = "parrot-log"
        thread.start()
    }

    public func write(_ line: String, urgent: Bool = false) {
        let full = buffer.withLock { buffer in
            buffer.append(contentsOf: line.utf8)
            buffer.append(0x0A)
            return buffer.count >= Self.flushBytes
        }
        if full || urgent { flush() }
    }

    public func flush() {
        let pending = buffer.withLock { buffer -> [UInt8] in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        guard !pending.isEmpty else { return }
        pending.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }
}
