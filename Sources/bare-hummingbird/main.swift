import Crypto
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

// `bare-hummingbird`: the framework's own ceiling for the benchmark (issue 9). A Hummingbird 2
// server whose only work per request is to read the body, hash it with SHA-256 and return a
// fixed answer: what any cache built on this framework pays before doing anything of its own.
// bench.py measures it beside nginx and Parrot so Parrot's hit rate can be split into
// "framework" and "Parrot".
//
//   bare-hummingbird --port 9998 --body-file answer.json

struct Flags {
    var host = "127.0.0.1"
    var port = 9998
    var bodyFile = ""
    var pinned = false

    init(_ arguments: [String]) {
        var arguments = arguments[...]
        while let flag = arguments.popFirst() {
            if flag == "--pinned" { pinned = true; continue }
            guard let value = arguments.popFirst() else { Self.fail("\(flag) needs a value") }
            switch flag {
            case "--host": host = value
            case "--port":
                guard let number = Int(value) else { Self.fail("--port needs a number") }
                port = number
            case "--body-file": bodyFile = value
            default: Self.fail("unknown flag \(flag)")
            }
        }
        if bodyFile.isEmpty { Self.fail("--body-file is required") }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("\(message)\nusage: bare-hummingbird [--host H] [--port P] --body-file FILE\n".utf8))
        exit(2)
    }
}

/// No router: one closure, like Parrot's own responder.
struct BareResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let answer: ByteBuffer
    let length: String

    func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        let digest = SHA256.hash(data: body.readableBytesView)
        // The digest decides nothing, but it must not be optimised away.
        guard digest.withUnsafeBytes({ $0.count }) == 32 else { throw HTTPError(.internalServerError) }
        return Response(status: .ok, headers: [.contentType: "application/json", .contentLength: length], body: .init(byteBuffer: answer))
    }
}

let flags = Flags(Array(CommandLine.arguments.dropFirst()))
guard let data = FileManager.default.contents(atPath: flags.bodyFile) else { Flags.fail("cannot read \(flags.bodyFile)") }
let answer = ByteBuffer(bytes: data)
let app = Application(
    responder: BareResponder(answer: answer, length: String(answer.readableBytes)),
    server: flags.pinned ? .pinnedHTTP1() : .http1(),
    configuration: .init(address: .hostname(flags.host, port: flags.port), serverName: nil)
)
try await app.runService()

/// Runs each connection's task on its channel's event loop instead of the global executor.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let eventLoop: any EventLoop
    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

struct PinnedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel
    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> { inner.setup(channel: channel, logger: logger) }
    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    static func pinnedHTTP1() -> HTTPServerBuilder {
        .init { responder in PinnedHTTP1Channel(inner: HTTP1Channel(responder: responder)) }
    }
}
