import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Talks to a running Parrot's own endpoints for `stats` and `clear`.
enum InstanceClient {
    struct Answer {
        var status: Int
        var body: String
    }

    /// A client that fails at once when nothing listens (the shared one retries connecting until
    /// the deadline, so a command without a running instance would wait for nothing) and never
    /// follows redirects. Lives as long as the command.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    static func call(_ method: HTTPMethod, _ url: String, token: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        let response = try await client.execute(request, timeout: .seconds(3))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: body))
    }
}
