/// The mutable side of a mock, kept behind one `Mutex` in ``MockCore``.
struct MockState {
    /// Numbers every answer (`chatcmpl-<n>`, `req_<n>`); never reset, so a fresh upstream answer
    /// is always distinguishable from a replayed one.
    var sequence = 0
    var totalRequests = 0
    var pathCounts: [String: Int] = [:]
    var recorded: [MockRecordedRequest] = []
    var script: [MockBehaviour] = []
    var defaultBehaviour: MockBehaviour?
    var embeddings: [String: [Float]] = [:]

    /// Counts one arrived request and picks its scripted behaviour: the next queued one, else the
    /// default.
    mutating func begin(path: String, record: MockRecordedRequest?) -> (number: Int, behaviour: MockBehaviour?) {
        sequence += 1
        totalRequests += 1
        pathCounts[path, default: 0] += 1
        if let record { recorded.append(record) }
        let behaviour = script.isEmpty ? defaultBehaviour : script.removeFirst()
        return (sequence, behaviour)
    }

    mutating func resetCounters() {
        totalRequests = 0
        pathCounts = [:]
        recorded = []
    }
}
