import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The one listener: `/v1/*` to the proxy engine, plus Parrot's own endpoints. A switch on the
/// path instead of a router keeps the hot path to a string comparison.
struct ParrotResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let engine: ProxyEngine
    let metrics: PrometheusExporter
    let history: StatsHistory
    let dashboard: ByteBuffer

    func respond(to request: Request, context: Context) async throws -> Response {
        switch engine.screen.screen(request.head) {
        case .pass:
            return await route(request)
        case .passCrossOrigin(let origin):
            var response = await route(request)
            RequestScreen.allowCrossOrigin(&response.headers, origin: origin)
            return response
        case .preflight(let origin):
            count(request)
            return Response(status: .noContent, headers: RequestScreen.preflightAnswer(origin: origin, request: request.headers))
        case .refuse(let error):
            count(request)
            engine.logger.debug("request refused", metadata: ["status": "\(error.status.code)", "reason": "\(error.message)"])
            return error.response
        }
    }

    /// Requests Parrot answers before routing still count in `/stats` `requests` when they are `/v1/*`.
    private func count(_ request: Request) {
        if request.uri.path.hasPrefix("/v1") { engine.stats.requests.add(1, ordering: .relaxed) }
    }

    private func route(_ request: Request) async -> Response {
        let path = request.uri.path
        if path.hasPrefix("/v1/") {
            return await engine.handle(request)
        }
        switch (request.method, path) {
        case (.get, "/healthz"), (.head, "/healthz"):
            return Self.json(.object([("status", .string("ok"))]))
        case (.get, "/readyz"):
            let storeOK = await storeReachable()
            let draining = Task.isShuttingDownGracefully
            let body: JSONValue = .object([
                ("status", .string(draining ? "draining" : "ready")),
                ("store", .string(storeOK ? "ok" : "unreachable")),
            ])
            return Self.json(body, status: draining ? .serviceUnavailable : .ok)
        case (.get, "/stats"):
            var report = await statsReport().json()
            if request.uri.queryParameters.get("history") == "1", case .object(var members) = report {
                members.append(("history", history.json()))
                report = .object(members)
            }
            return Self.json(report)
        case (.get, "/"), (.head, "/"):
            return Response(status: .found, headers: [.location: "/dashboard", .contentLength: "0"])
        case (.post, "/stats/reset"):
            if let denied = authorizeAdmin(request.headers) { return denied }
            engine.stats.reset()
            return Self.json(.object([("reset", .bool(true))]))
        case (.get, "/metrics"):
            let text = metrics.render(await statsReport())
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
        case (.get, "/dashboard"), (.get, "/dashboard/"):
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"], body: .init(byteBuffer: dashboard))
        case (.delete, "/cache"):
            if let denied = authorizeAdmin(request.headers) { return denied }
            // A derived id (as logged) or `default` as given; anything else is a name as clients
            // send it in X-Parrot-Namespace, turned into its id here.
            let given = request.uri.queryParameters.get("namespace").map { String($0) }
            let namespace = given.map { NamespaceDeriver.isDerivedID($0) ? $0 : engine.namespaces.namespace(forName: $0) }
            do {
                let deleted = try await engine.tiers.store.clear(namespace: namespace)
                engine.tiers.memory.clear(namespace: namespace)
                if namespace == nil { engine.semantic?.index.removeAll() }
                engine.logger.notice("cache cleared", metadata: ["namespace": "\(namespace ?? "*")", "deleted": "\(deleted)"])
                var body: [(String, JSONValue)] = [("deleted", .int(deleted)), ("namespace", given.map(JSONValue.string) ?? .null)]
                if let given, let namespace, given != namespace {
                    body.append(("namespace_id", .string(namespace)))
                    body.append(("per_key_name", .bool(!engine.namespaces.shareAcrossKeys)))
                }
                return Self.json(.object(body))
            } catch {
                return ParrotError.internalError("The cache store could not be cleared: \(error).").response
            }
        case (_, "/healthz"), (_, "/readyz"), (_, "/stats"), (_, "/stats/reset"), (_, "/metrics"), (_, "/cache"), (_, "/dashboard"):
            return ParrotError.methodNotAllowed.response
        default:
            if path == "/v1" { return await engine.handle(request) }
            return ParrotError.notFound(path: path).response
        }
    }

    func statsReport() async -> StatsReport {
        let summary = try? await engine.tiers.store.summary()
        return StatsReport(config: engine.config, stats: engine.stats, providers: engine.providers, summary: summary, tiers: engine.tiers, semantic: engine.semantic)
    }

    private func storeReachable() async -> Bool {
        do {
            try await engine.tiers.store.ping()
            return true
        } catch {
            return false
        }
    }

    /// Admin endpoints take `Authorization: Bearer <token>`. With a token configured it is always
    /// required; without one they are open on loopback only.
    func authorizeAdmin(_ headers: HTTPFields) -> Response? {
        let server = engine.config.server
        guard let token = engine.secrets.adminToken else {
            if ProxyConfig.isLoopback(server.host) { return nil }
            let variable = server.adminTokenEnv.isEmpty ? "server.admin_token_env" : "the variable \(server.adminTokenEnv) named by server.admin_token_env"
            return ParrotError.forbidden("Admin endpoints on a non-loopback listener need an admin token: set \(variable).").response
        }
        let presented = headers[.authorization].flatMap { $0.lowercased().hasPrefix("bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        guard Self.constantTimeEquals(presented, token) else {
            return ParrotError.unauthorized("Admin token missing or wrong.").response
        }
        return nil
    }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(SHA256.hash(data: Array(a.utf8)))
        let y = Array(SHA256.hash(data: Array(b.utf8)))
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let buffer = value.byteBuffer
        return Response(status: status, headers: [.contentType: "application/json", .contentLength: String(buffer.readableBytes)], body: .init(byteBuffer: buffer))
    }
}
