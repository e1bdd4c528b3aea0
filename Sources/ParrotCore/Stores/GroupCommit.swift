import Synchronization

/// Group commit: answers stored at the same time share one transaction. Each caller still
/// returns only after the transaction holding its item committed, so nothing is acknowledged
/// that a crash could lose; under concurrent misses the store pays for one `BEGIN … COMMIT` (and
/// one WAL sync point) per batch instead of one per answer.
final class GroupCommit<Item: Sendable>: Sendable {
    private struct Waiter {
        var item: Item
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var pending: [Waiter] = []
        var committing = false
    }

    /// Batches a leader commits before handing the rest to a new task, so one caller is never
    /// held for long by other callers' writes.
    static var roundsPerLeader: Int { 4 }

    private let state = Mutex(State())
    private let commit: @Sendable ([Item]) async throws -> Void

    init(commit: @escaping @Sendable ([Item]) async throws -> Void) {
        self.commit = commit
    }

    func submit(_ item: Item) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let leads = state.withLock { state in
                state.pending.append(Waiter(item: item, continuation: continuation))
                if state.committing { return false }
                state.committing = true
                return true
            }
            if leads { Task { await self.drain() } }
        }
    }

    private func drain() async {
        for _ in 0..<Self.roundsPerLeader {
            let batch = state.withLock { state -> [Waiter] in
                let batch = state.pending
                state.pending.removeAll(keepingCapacity: true)
                if batch.isEmpty { state.committing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                try await commit(batch.map(\.item))
                for waiter in batch { waiter.continuation.resume() }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
        Task { await self.drain() }
    }
}
