import Synchronization

/// The first of two outcomes — a body's result or its deadline's error — without waiting for
/// the loser. A task group cannot do this: leaving it awaits every child, so a body that does
/// not react to cancellation (a PostgreSQL pool lease, or a pool whose `run()` stopped serving
/// leases) held its caller, and a Parrot request, for ever: that was the intermittent hang of
/// the test suite (`testLostServerFailsFastThenRecovers`, all threads idle).
/// The loser is cancelled and left to end on its own; callers make sure that whatever it does
/// afterwards is harmless (`LeaseWatch`).
final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// - Parameters:
    ///   - body: the work.
    ///   - deadline: returns nil when the body has already finished (its result decides), or
    ///     throws the deadline's error.
    static func run(
        _ body: @escaping @Sendable () async throws -> T,
        deadline: @escaping @Sendable () async throws -> T?
    ) async throws -> T {
        let race = DeadlineRace<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard race.begin(continuation) else { return }  // cancelled before it began
                let work = Task {
                    do { race.finish(.success(try await body())) } catch { race.finish(.failure(error)) }
                }
                let timer = Task {
                    do {
                        if let value = try await deadline() { race.finish(.success(value)) }
                    } catch {
                        race.finish(.failure(error))
                    }
                }
                race.adopt([work, timer])
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }

    /// False when the race was decided (cancelled) before it began: the continuation is
    /// resumed at once then.
    private func begin(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let decided = state.withLock { state -> Result<T, any Error>? in
            if state.outcome == nil { state.continuation = continuation }
            return state.outcome
        }
        guard let decided else { return true }
        continuation.resume(with: decided)
        return false
    }

    private func adopt(_ tasks: [Task<Void, Never>]) {
        let finished = state.withLock { state in
            state.tasks = tasks
            return state.outcome != nil
        }
        if finished { tasks.forEach { $0.cancel() } }
    }

    /// The first call wins; later ones are ignored.
    private func finish(_ outcome: Result<T, any Error>) {
        let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = outcome
            defer {
                state.continuation = nil
                state.tasks = []
            }
            return (state.continuation, state.tasks)
        }
        guard let continuation else { return }
        tasks.forEach { $0.cancel() }
        continuation.resume(with: outcome)
    }
}

/// Runs `body`, throwing `onTimeout()` if it has not finished after `duration`; the body is
/// cancelled then, and not waited for.
func withDeadline<T: Sendable>(
    _ duration: Duration,
    onTimeout: @escaping @Sendable () -> any Error,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await DeadlineRace.run(body, deadline: {
        try await Task.sleep(for: duration)
        throw onTimeout()
    })
}
