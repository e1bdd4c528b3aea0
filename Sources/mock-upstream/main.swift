import Dispatch
import Foundation
import ParrotMock

// `mock-upstream`: the fake OpenAI upstream as a process, for benchmarks and manual checks.
// Flags are parsed by hand to keep this target free of extra dependencies.

let usage = """
    usage: mock-upstream [--host 127.0.0.1] [--port 9999] [--latency-ms 0] [--chunks 50]
                         [--chunk-delay-ms 0] [--size 0] [--gzip] [--record]
      --size N     answer content of about N bytes (0 = a short sentence)
      --gzip       gzip JSON answers for clients that accept it
      --record     keep every request in memory (off: a long benchmark stays flat)
    Per-request controls: x-mock-status, x-mock-retry-after, x-mock-delay-ms, x-mock-chunk-delay-ms,
    x-mock-chunks, x-mock-cut-after, x-mock-close, x-mock-reset, x-mock-stall, x-mock-invalid-json,
    x-mock-size, x-mock-gzip.
    Counters: GET /_mock/stats, POST /_mock/reset.

    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n" + usage).utf8))
    exit(2)
}

struct Flags {
    var host = "127.0.0.1"
    var port = 9999
    var options = MockOptions(chunkCount: 50, recordsRequests: false)

    init(_ arguments: [String]) {
        var arguments = arguments[...]
        func number(_ flag: String) -> Int {
            guard let text = arguments.popFirst(), let value = Int(text), value >= 0 else { fail("\(flag) needs a number ≥ 0") }
            return value
        }
        while let flag = arguments.popFirst() {
            switch flag {
            case "--host":
                guard let value = arguments.popFirst() else { fail("--host needs a value") }
                host = value
            case "--port": port = number(flag)
            case "--latency-ms": options.latencyMs = number(flag)
            case "--chunks": options.chunkCount = max(1, number(flag))
            case "--chunk-delay-ms": options.chunkDelayMs = number(flag)
            case "--size":
                let size = number(flag)
                options.contentSize = size > 0 ? size : nil
            case "--gzip": options.gzip = true
            case "--record": options.recordsRequests = true
            case "-h", "--help":
                FileHandle.standardOutput.write(Data(usage.utf8))
                exit(0)
            default: fail("unknown flag \(flag)")
            }
        }
    }
}

let flags = Flags(Array(CommandLine.arguments.dropFirst()))
let (host, port) = (flags.host, flags.port)

let mock: MockUpstream
do {
    mock = try await MockUpstream.start(host: host, port: port, options: flags.options)
} catch {
    fail("mock-upstream: cannot listen on \(host):\(port): \(error)")
}
// Written unbuffered: a benchmark script waits for this line on a pipe.
FileHandle.standardOutput.write(Data("mock-upstream listening on \(mock.baseURL)\n".utf8))

/// Waits for SIGINT or SIGTERM; the dispatch sources stay referenced until then.
func waitForStopSignal() async {
    let (signals, continuation) = AsyncStream<Int32>.makeStream()
    var sources: [any DispatchSourceSignal] = []
    for number in [SIGINT, SIGTERM] {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { continuation.yield(number) }
        source.resume()
        sources.append(source)
    }
    for await _ in signals { break }
    sources.forEach { $0.cancel() }
}

await waitForStopSignal()
await mock.stop()
