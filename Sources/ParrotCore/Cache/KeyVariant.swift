import HTTPTypes

/// The parts of a request outside its body that reach the provider and can change the answer
/// or who pays for it: the query string (`?api-version=…`) and the `OpenAI-Beta`,
/// `OpenAI-Organization` and `OpenAI-Project` headers. They go into the cache key (and the key
/// memo) so an answer is never served to a request that would have been answered differently.
/// Headers Parrot drops before forwarding (organization and project when it injects its own
/// key) are not part of it: only what the provider sees counts.
enum KeyVariant {
    static let beta = HTTPField.Name("OpenAI-Beta")!
    static let organization = HTTPField.Name("OpenAI-Organization")!
    static let project = HTTPField.Name("OpenAI-Project")!

    /// "" for the usual request (no query, none of the headers): the fast path stays cheap and
    /// existing keys stay as they were.
    static func of(query: String?, headers: HTTPFields, keyInjected: Bool) -> String {
        var parts = ""
        if let query, !query.isEmpty { parts += "?" + query }
        for field in headers {
            let name = field.name
            guard name == beta || (!keyInjected && (name == organization || name == project)) else { continue }
            parts += "\n" + name.canonicalName + ":" + field.value
        }
        return parts
    }
}
