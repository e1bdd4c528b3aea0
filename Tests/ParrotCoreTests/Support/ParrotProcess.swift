import AsyncHTTPClient
import Foundation
import NIOCore
import ParrotCore
import ParrotMock
import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real `parrot serve` as a child process (`.build/debug/parrot`, built by
/// `swift build --build-tests`, or `PARROT_TEST_BINARY`), for what only a separate process can show: `kill -9`,
/// its own memory and file descriptors, a crash that does not take the test runner with it.
/// Configured through `PARROT_*` variables, run in its own directory so no `proxy.conf` of the
/// checkout is picked up; its output goes to `parrot.log` in that directory.
final class ParrotProcess: @unchecked Sendable {
    static let binary = ProcessInfo.processInfo.environment["PARROT_TEST_BINARY"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/debug/parrot").path

    let process: Process
    let port: Int
    let directory: String
    let logPath: String

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    private init(process: Process, port: Int, directory: String, logPath: String) {
        self.process = process
        self.port = port
        self.directory = directory
        self.logPath = logPath
    }

    /// The environment for a Parrot in front of `mock` with its store in `directory`.
    static func environment(mock baseURL: String, directory: String, extra: [String: String] = [:]) -> [String: String] {
        var environment = [
            "PARROT_PROVIDERS_OPENAI_BASE_URL": baseURL,
            "PARROT_PROVIDERS_OPENAI_API_KEY_ENV": "",
            "PARROT_CACHE_PATH": directory + "/cache.sqlite",
            "PARROT_LOG_LEVEL": "warning",
        ]
        environment.merge(extra) { $1 }
        return environment
    }

    /// Spawns `parrot serve` on a free port without waiting for it to listen.
    static func launch(directory: String, environment: [String: String]) throws -> ParrotProcess {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestError("\(binary) is missing: build with `swift build --build-tests` first")
        }
        let port = try freeLocalPort()
        let logPath = directory + "/parrot.log"
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        defer { try? log.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--port", String(port)]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PARROT_") && !$0.key.hasPrefix("OPENAI_") }
        env.merge(environment) { $1 }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return ParrotProcess(process: process, port: port, directory: directory, logPath: logPath)
    }

    /// Starts `parrot serve` on a free port and waits until `/healthz` answers. A port taken
    /// in the meantime (other tests run beside this one) is retried on another.
    static func start(directory: String, environment: [String: String], healthTimeout: Double = 30) async throws -> ParrotProcess {
        var lastError: (any Error)?
        for _ in 0..<3 {
            let child = try launch(directory: directory, environment: environment)
            do {
                try await child.waitUntilHealthy(timeout: healthTimeout)
                return child
            } catch {
                lastError = error
                child.kill()
                _ = await child.waitForExit(timeout: 10)
            }
        }
        throw lastError ?? TestError("parrot did not start")
    }

    /// Polls `/healthz` until it answers 200; fails at once when the process exits.
    func waitUntilHealthy(timeout: Double) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw TestError("parrot exited with \(process.terminationStatus) before answering /healthz:\n\(logTail())")
            }
            var request = HTTPClientRequest(url: baseURL + "/healthz")
            request.method = .GET
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status == .ok {
                _ = try? await response.body.collect(upTo: 1 << 16)
                return
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestError("parrot did not answer /healthz within \(timeout) s:\n\(logTail())")
    }

    /// `kill -9`: no shutdown code runs, in-flight writes stop wherever they are.
    func kill() {
        signal(SIGKILL)
    }

    /// SIGTERM, the graceful way.
    func terminate() {
        signal(SIGTERM)
    }

    private func signal(_ number: Int32) {
        guard process.isRunning else { return }
        #if canImport(Glibc)
        _ = Glibc.kill(pid, number)
        #else
        _ = Darwin.kill(pid, number)
        #endif
    }

    /// Waits (polling) until the process has exited; false when it is still running at the deadline.
    func waitForExit(timeout: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !process.isRunning
    }

    /// Stops it whatever happens: SIGTERM, then SIGKILL if it lingers.
    func stop() async {
        terminate()
        if await !waitForExit(timeout: 10) {
            kill()
            _ = await waitForExit(timeout: 10)
        }
    }

    /// Resident set size from `/proc/<pid>/status` (VmRSS).
    var residentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }

    /// Open file descriptors: the entries of `/proc/<pid>/fd`.
    var openFileDescriptors: Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// Open descriptors by what they point at (`socket`, `anon_inode:[eventfd]`, a file's name).
    var fileDescriptorKinds: [String: Int] {
        let directory = "/proc/\(pid)/fd"
        var kinds: [String: Int] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + name) else { continue }
            let kind = target.hasPrefix("socket:") ? "socket" : target.hasPrefix("/") ? (target as NSString).lastPathComponent : target
            kinds[kind, default: 0] += 1
        }
        return kinds
    }

    var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    func logTail(_ lines: Int = 30) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// A deterministic generator (SplitMix64): the same seed replays the same faults, requests and
/// kill moments. `PARROT_TEST_SEED` overrides a test's default seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    static func seed(default value: UInt64) -> UInt64 {
        ProcessInfo.processInfo.environment["PARROT_TEST_SEED"].flatMap { UInt64($0) } ?? value
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Whether the long variants run (`PARROT_LONG_TESTS=1`): more kills, more fuzz, the soak.
var longTestsEnabled: Bool { ProcessInfo.processInfo.environment["PARROT_LONG_TESTS"] == "1" }

func makeTemporaryDirectory(_ prefix: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Runs `body` with a real `parrot` process in front of a fresh mock upstream (both on free
/// ports, the store in a temporary directory) and stops both whether it passes or fails.
func withParrotProcess(
    _ name: String,
    mockOptions: MockOptions = .init(),
    environment extra: [String: String],
    _ body: (ParrotProcess, MockUpstream) async throws -> Void
) async throws {
    let mock = try await MockUpstream.start(options: mockOptions)
    let directory = try makeTemporaryDirectory(name)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let parrot: ParrotProcess
    do {
        parrot = try await ParrotProcess.start(
            directory: directory, environment: ParrotProcess.environment(mock: mock.baseURL, directory: directory, extra: extra))
    } catch {
        await mock.stop()
        throw error
    }
    do {
        try await body(parrot, mock)
    } catch {
        await parrot.stop()
        await mock.stop()
        throw error
    }
    await parrot.stop()
    await mock.stop()
}
