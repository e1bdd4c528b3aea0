extension ProxyConfig {
    /// The price for a model: exact name, else the longest priced name that prefixes it
    /// (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`). nil: unpriced.
    func price(for model: String) -> ModelPrice? {
        if let exact = pricing[model] { return exact }
        return pricing.keys.filter { model.hasPrefix($0) }.max { $0.count < $1.count }.flatMap { pricing[$0] }
    }
}
