import Dispatch
import Foundation
import ParrotMock

/// `mock-upstream`: the fake OpenAI upstream as a process, for benchmarks and manual checks.
/// Flags are parsed by hand to keep this target free of extra dependencies.

let usage = """
    usage: mock-upstream [--host 127.0.0.1] [--port 9999] [--latency-ms 0] [--chunks 50]
                         [--chunk-delay-ms 0] [--size 0] [--gzip] [--record]
      --size N     answer content of about N bytes (0 = a short sentence)
      --gzip       gzip JSON answers for clients that accept it
      --record     keep every request in memory (off: a long benchmark stays flat)
    Per-request controls: x-mock-status, x-mock-retry-after, x-mock-delay-ms, x-mock-chunk-delay-ms,
    x-mock-chunks, x-mock-cut-after, x-mock-close, x-mock-reset, x-mock-stall, x-mock-invalid-json,
    x-mock-size, x-mock-gzip.

    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n" + usage).utf8))
    exit(2)
}

var host = "127.0.0.1"
var port = 9999
var options = MockOptions(chunkCount: 50, recordsRequests: false)

var arguments = CommandLine.arguments.dropFirst()
func intValue(_ flag: String) -> Int {
    guard let text = arguments.popFirst(), let value = Int(text), value >= 0 else { fail("\(flag) needs a number ≥ 0") }
    return value
}
while let flag = arguments.popFirst() {
    switch flag {
    case "--host":
        guard let value = arguments.popFirst() else { fail("--host needs a value") }
        host = value
    case "--port": port = intValue(flag)
    case "--latency-ms": options.latencyMs = intValue(flag)
    case "--chunks": options.chunkCount = max(1, intValue(flag))
    case "--chunk-delay-ms": options.chunkDelayMs = intValue(flag)
    case "--size":
        let size = intValue(flag)
        options.contentSize = size > 0 ? size : nil
    case "--gzip": options.gzip = true
    case "--record": options.recordsRequests = true
    case "-h", "--help":
        FileHandle.standardOutput.write(Data(usage.utf8))
        exit(0)
    default: fail("unknown flag \(flag)")
    }
}

let mock: MockUpstream
do {
    mock = try await MockUpstream.start(host: host, port: port, options: options)
} catch {
    fail("mock-upstream: cannot listen on \(host):\(port): \(error)")
}
// Written unbuffered: a benchmark script waits for this line on a pipe.
FileHandle.standardOutput.write(Data("mock-upstream listening on \(mock.baseURL)\n".utf8))

let stopSignals = AsyncStream<Int32> { continuation in
    for number in [SIGINT, SIGTERM] {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { continuation.yield(number) }
        source.resume()
        nonisolated(unsafe) let retained = source
        continuation.onTermination = { _ in retained.cancel() }
    }
}
for await _ in stopSignals { break }
await mock.stop()
