import Crypto

extension CacheKey {
    /// The key of sample `index` of this key's sample set. Sample 0 is the key itself, so a
    /// key's first answer is the same entry with or without sample sets.
    public func sample(_ index: Int) -> CacheKey {
        guard index > 0 else { return self }
        var bytes = digest
        bytes.append(contentsOf: Array("sample:\(index)".utf8))
        return CacheKey(digest: Array(SHA256.hash(data: bytes)))
    }
}
