import Crypto
import Foundation
import Synchronization

/// Turns a caller's credential into a namespace id with HMAC-SHA-256, so two API keys never
/// share answers by default and the credential itself is never stored or logged.
/// Every replica with the same secret derives the same ids.
public struct NamespaceDeriver: Sendable {
    private let secret: [UInt8]
    public let shareAcrossKeys: Bool
    /// Recent derivations: an HMAC per request was a sixth of a cache hit's CPU, and a proxy
    /// sees the same few credentials over and over. Bounded; starts over when full.
    private let memo = Memo()

    final class Memo: Sendable {
        static let capacity = 4096
        let ids = Mutex<[[UInt8]: String]>([:])
    }

    public static let defaultNamespace = "default"

    public init(secret: String, shareAcrossKeys: Bool) {
        self.secret = Array(secret.utf8)
        self.shareAcrossKeys = shareAcrossKeys
    }

    /// - Parameters:
    ///   - credential: the bytes of the credential that authenticated the caller (see
    ///     ``ClientCredential``), compared and hashed as they are: two credentials that differ
    ///     in any byte, even canonically equivalent Unicode, never share a namespace.
    ///   - name: the `X-Parrot-Namespace` header, if any.
    public func namespace(credential: [UInt8]?, name: String?) -> String {
        let name = name.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        var input: [UInt8]
        switch (credential, name) {
        case (nil, nil): return Self.defaultNamespace
        case (let credential?, nil): input = Array("key".utf8) + [0] + credential
        case (let credential, let name?):
            if shareAcrossKeys || credential == nil {
                input = Array("name".utf8) + [0] + name
            } else {
                input = Array("key".utf8) + [0] + credential! + [0] + Array("name".utf8) + [0] + name
            }
        }
        return derive(input)
    }

    /// Convenience for callers holding the credential as text (tests, the CLI, benchmarks).
    public func namespace(credential: String?, name: String?) -> String {
        namespace(credential: credential.map { Array($0.utf8) }, name: name)
    }

    /// The id of the namespace a name (`X-Parrot-Namespace: team-a`) selects for callers without
    /// a credential, and for every caller when `share_across_keys` is on. Without sharing, a
    /// caller with a key gets an id of its own for the same name.
    public func namespace(forName name: String) -> String {
        namespace(credential: nil as [UInt8]?, name: name)
    }

    /// Whether `text` is an id as derived (and logged), or `default`, rather than a name.
    public static func isDerivedID(_ text: String) -> Bool {
        text == defaultNamespace || (text.utf8.count == 32 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    }

    private func derive(_ input: [UInt8]) -> String {
        if let id = memo.ids.withLock({ $0[input] }) { return id }
        let id = compute(input)
        memo.ids.withLock { ids in
            if ids.count >= Memo.capacity { ids.removeAll(keepingCapacity: true) }
            ids[input] = id
        }
        return id
    }

    private func compute(_ input: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: secret))
        return CacheKey.hex(Array(mac).prefix(16))
    }

    /// A fresh random secret for stores that have none yet.
    public static func generateSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return CacheKey.hex((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}
