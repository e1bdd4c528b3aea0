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

    static func call(_ method: HTTPMethod, _ url: String, token: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(3))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: body))
    }
}
