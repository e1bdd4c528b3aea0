/// One request as the mock received it, so a test can check exactly what the proxy forwarded.
public struct MockRecordedRequest: Sendable {
    public let method: String
    /// Path including the query string, as sent on the request line.
    public let path: String
    /// Header fields in arrival order, names lowercased.
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public init(method: String, path: String, headers: [(name: String, value: String)], body: [UInt8]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// The first value of a header (case-insensitive name), or nil.
    public func header(_ name: String) -> String? {
        let name = name.lowercased()
        return headers.first { $0.name == name }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
