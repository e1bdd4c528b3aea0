import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A connection a test holds open across its awaits (a client that never reads, a probe that
/// waits for the drain); used from one thread at a time, inside ``onThread(_:)``.
final class HeldConnection: @unchecked Sendable {
    let connection: RawHTTPConnection
    init(_ connection: RawHTTPConnection) { self.connection = connection }
}

/// A blocking HTTP/1.1 client on a plain POSIX socket, for tests that must send bytes no HTTP
/// library would (broken framing, partial requests, floods of headers) and see exactly how
/// Parrot ends each exchange: with a response, by closing the connection, or not at all.
///
/// Blocking calls must not run on Swift's cooperative pool (Parrot under test may need those
/// threads): use it inside ``onThread(_:)``, from one thread at a time.
final class RawHTTPConnection {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
        }
        var closesConnection: Bool { header("connection")?.lowercased().contains("close") ?? false }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    enum Outcome {
        case response(Response)
        /// The peer closed (or reset) the connection before a whole response arrived.
        case closed(partialBytes: Int)
        /// Nothing conclusive before the deadline.
        case timedOut
    }

    private(set) var fd: Int32
    private var buffer: [UInt8] = []
    private(set) var peerClosed = false

    init(port: Int, host: String = "127.0.0.1") throws {
        fd = try openTCPSocket()
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        // A send never blocks a test forever, even when Parrot stops reading.
        var sendTimeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopbackAddress(port: port, host: host)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            close()
            throw TestError("connect to \(host):\(port) failed: errno \(error)")
        }
    }

    deinit { close() }

    func close() {
        guard fd >= 0 else { return }
        closeSocket(fd)
        fd = -1
    }

    /// Writes every byte; false when the peer has gone (reset, closed, or stopped reading).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard fd >= 0 else { return false }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                #if canImport(Glibc)
                Glibc.send(fd, raw.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                #else
                Darwin.send(fd, raw.baseAddress! + offset, bytes.count - offset, 0)
                #endif
            }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads more bytes into the buffer; false on close, reset or deadline.
    private func fill(until deadline: ContinuousClock.Instant) -> Bool {
        guard fd >= 0, !peerClosed else { return false }
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return false }
            let ms = Int32(min(Double(Int32.max), max(1, remaining / .milliseconds(1))))
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, ms)
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { return false }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                peerClosed = true
                return false
            }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
    }

    /// Reads one response. `bodyless` for answers to HEAD.
    func readResponse(deadline: ContinuousClock.Instant, bodyless: Bool = false) -> Outcome {
        var headEnd: Int?
        while headEnd == nil {
            headEnd = Self.find([13, 10, 13, 10], in: buffer)
            if headEnd == nil, !fill(until: deadline) { return peerClosed ? .closed(partialBytes: buffer.count) : .timedOut }
        }
        let headBytes = Array(buffer[0..<headEnd!])
        let lines = String(decoding: headBytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return .closed(partialBytes: buffer.count) }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = Response(status: status, headers: headers, body: [])
        var cursor = headEnd! + 4
        if bodyless || status == 204 || status == 304 || (100..<200).contains(status) {
            buffer.removeFirst(cursor)
            return .response(response)
        }
        if let length = response.header("content-length").flatMap({ Int($0) }) {
            while buffer.count < cursor + length {
                if !fill(until: deadline) { return peerClosed ? .closed(partialBytes: buffer.count) : .timedOut }
            }
            response.body = Array(buffer[cursor..<cursor + length])
            buffer.removeFirst(cursor + length)
            return .response(response)
        }
        if response.header("transfer-encoding")?.lowercased().contains("chunked") ?? false {
            var body: [UInt8] = []
            while true {
                var lineEnd = Self.find([13, 10], in: buffer, from: cursor)
                while lineEnd == nil {
                    if !fill(until: deadline) { return peerClosed ? .closed(partialBytes: buffer.count) : .timedOut }
                    lineEnd = Self.find([13, 10], in: buffer, from: cursor)
                }
                let sizeText = String(decoding: buffer[cursor..<lineEnd!], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    return .closed(partialBytes: buffer.count)
                }
                cursor = lineEnd! + 2
                if size == 0 {
                    // Trailers (none expected) end with an empty line.
                    var trailerEnd = Self.find([13, 10], in: buffer, from: cursor)
                    while trailerEnd == nil {
                        if !fill(until: deadline) { return peerClosed ? .closed(partialBytes: buffer.count) : .timedOut }
                        trailerEnd = Self.find([13, 10], in: buffer, from: cursor)
                    }
                    buffer.removeFirst(trailerEnd! + 2)
                    response.body = body
                    return .response(response)
                }
                while buffer.count < cursor + size + 2 {
                    if !fill(until: deadline) { return peerClosed ? .closed(partialBytes: buffer.count) : .timedOut }
                }
                body.append(contentsOf: buffer[cursor..<cursor + size])
                cursor += size + 2
            }
        }
        // Neither length nor chunked: the body runs to the close.
        while fill(until: deadline) {}
        guard peerClosed else { return .timedOut }
        response.body = Array(buffer[cursor...])
        buffer = []
        return .response(response)
    }

    /// Reads and throws away whatever arrives until `deadline` or the close, keeping nothing
    /// (for endless answers); returns how many bytes arrived.
    func discard(until deadline: ContinuousClock.Instant) -> Int {
        var total = buffer.count
        buffer = []
        while fill(until: deadline) {
            total += buffer.count
            buffer = []
        }
        return total
    }

    /// Everything the peer sends until it closes the connection or `deadline` passes, raw
    /// (chunked framing included); `closed` tells which.
    func readToClose(deadline: ContinuousClock.Instant) -> (bytes: [UInt8], closed: Bool) {
        while fill(until: deadline) {}
        defer { buffer = [] }
        return (buffer, peerClosed)
    }

    /// True when the peer closes the connection before `deadline`; bytes that arrive meanwhile
    /// are discarded.
    func waitForClose(deadline: ContinuousClock.Instant) -> Bool {
        while !peerClosed {
            buffer = []
            if !fill(until: deadline), !peerClosed { return false }
        }
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0] {
                var match = true
                for j in 1..<needle.count where haystack[i + j] != needle[j] {
                    match = false
                    break
                }
                if match { return i }
            }
            i += 1
        }
        return nil
    }
}

/// Runs blocking work on its own thread, off Swift's cooperative pool, and awaits its result.
func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try work() })
        }
        thread.start()
    }
}

/// A TCP port that was free a moment ago: bound to port 0, read back, closed. For child
/// processes that must be told their port up front.
func freeLocalPort() throws -> Int {
    let fd = try openTCPSocket()
    defer { closeSocket(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestError("bind() failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

private func openTCPSocket() throws -> Int32 {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw TestError("socket() failed: errno \(errno)") }
    return fd
}

private func closeSocket(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}

private func loopbackAddress(port: Int, host: String = "127.0.0.1") -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr(host)
    return address
}
