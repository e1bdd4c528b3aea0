import NIOCore
import Synchronization

/// One upstream answer being fetched, shared by every client that asked for the same key while
/// it runs. A client that joins late first receives the chunks already relayed, then the live
/// ones. The fetch is cancelled only when the last attached client has gone.
public final class InFlightAnswer: Sendable {
    public enum BodyEvent: Sendable {
        case chunk(ByteBuffer)
        case finished
        case failed(ParrotError)
    }

    enum Completion {
        case running
        case finished
        case failed(ParrotError)
    }

    struct State {
        var head: Result<UpstreamHead, ParrotError>?
        var headWaiters: [CheckedContinuation<Result<UpstreamHead, ParrotError>, Never>] = []
        var chunks: [ByteBuffer] = []
        var bufferedBytes = 0
        /// False once the replay buffer overflowed: late clients can no longer join.
        var joinable = true
        var completion = Completion.running
        var subscribers: [Int: AsyncStream<BodyEvent>.Continuation] = [:]
        /// Each attached client's body, created when it attaches (not when it starts reading):
        /// chunks published in between must reach it even after the replay buffer is gone.
        var streams: [Int: AsyncStream<BodyEvent>] = [:]
        var attached = 0
        var nextID = 0
        var task: Task<Void, Never>?
        var upstreamElapsed: Duration?
    }

    private let state = Mutex(State())
    let replayLimit: Int

    init(replayLimit: Int) {
        self.replayLimit = replayLimit
    }

    /// Runs the fetch; `work` publishes through this object.
    func start(_ work: @escaping @Sendable (InFlightAnswer) async -> Void) {
        let task = Task { await work(self) }
        state.withLock { $0.task = task }
    }

    /// Attaches a client; returns nil when the answer can no longer be joined. From here on the
    /// client's body receives every chunk (the ones relayed before, replayed, then live ones),
    /// however late it starts reading: subscribing only when the response body began to be
    /// written lost the chunks published in between once an answer outgrew the replay buffer,
    /// and the client got a stream with its middle missing.
    func attach() -> Int? {
        state.withLock { state in
            guard state.joinable else { return nil }
            if case .failed = state.completion { return nil }
            state.attached += 1
            state.nextID += 1
            let id = state.nextID
            let (stream, continuation) = AsyncStream<BodyEvent>.makeStream()
            for chunk in state.chunks { continuation.yield(.chunk(chunk)) }
            switch state.completion {
            case .running: state.subscribers[id] = continuation
            case .finished: continuation.yield(.finished); continuation.finish()
            case .failed(let error): continuation.yield(.failed(error)); continuation.finish()
            }
            state.streams[id] = stream
            return id
        }
    }

    /// Detaches a client; cancels the fetch if it was the last one and the answer is still running.
    func detach(_ id: Int) {
        let task: Task<Void, Never>? = state.withLock { state in
            state.subscribers.removeValue(forKey: id)?.finish()
            state.streams[id] = nil
            state.attached -= 1
            if state.attached <= 0, case .running = state.completion { return state.task }
            return nil
        }
        task?.cancel()
    }

    func head() async -> Result<UpstreamHead, ParrotError> {
        await withCheckedContinuation { continuation in
            let ready: Result<UpstreamHead, ParrotError>? = state.withLock { state in
                if let head = state.head { return head }
                state.headWaiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The body for client `id` (once): every chunk since it attached, then the end. A client
    /// already detached gets an empty stream, which its relay reports as ended early.
    func body(for id: Int) -> AsyncStream<BodyEvent> {
        state.withLock { $0.streams.removeValue(forKey: id) } ?? AsyncStream { $0.finish() }
    }

    func publishHead(_ head: Result<UpstreamHead, ParrotError>) {
        let waiters = state.withLock { state in
            state.head = head
            if case .failure(let error) = head { state.completion = .failed(error) }
            defer { state.headWaiters = [] }
            return state.headWaiters
        }
        for waiter in waiters { waiter.resume(returning: head) }
    }

    func publish(_ chunk: ByteBuffer) {
        state.withLock { state in
            if state.joinable {
                state.bufferedBytes += chunk.readableBytes
                if state.bufferedBytes > replayLimit {
                    state.joinable = false
                    state.chunks = []
                } else {
                    state.chunks.append(chunk)
                }
            }
            for continuation in state.subscribers.values { continuation.yield(.chunk(chunk)) }
        }
    }

    func finish(_ error: ParrotError? = nil) {
        state.withLock { state in
            state.completion = error.map { .failed($0) } ?? .finished
            for continuation in state.subscribers.values {
                continuation.yield(error.map { .failed($0) } ?? .finished)
                continuation.finish()
            }
            state.subscribers = [:]
        }
    }

    /// How long the upstream call took, head to last byte; set before `finish`.
    var upstreamElapsed: Duration? {
        get { state.withLock { $0.upstreamElapsed } }
        set { state.withLock { $0.upstreamElapsed = newValue } }
    }
}

/// One upstream call per key in flight (nginx `proxy_cache_lock`).
public final class Coalescer: Sendable {
    private let inFlight = Mutex<[CacheKey: InFlightAnswer]>([:])

    public init() {}

    /// Joins the answer in flight for `key`, or registers a new one made by `make` and tells the
    /// caller it leads (and must start it).
    func join(_ key: CacheKey, make: () -> InFlightAnswer) -> (answer: InFlightAnswer, id: Int, leader: Bool) {
        inFlight.withLock { table in
            if let existing = table[key], let id = existing.attach() {
                return (existing, id, false)
            }
            let answer = make()
            table[key] = answer
            return (answer, answer.attach()!, true)
        }
    }

    func remove(_ key: CacheKey, _ answer: InFlightAnswer) {
        inFlight.withLock { table in
            if table[key] === answer { table[key] = nil }
        }
    }

    public var count: Int { inFlight.withLock { $0.count } }
}
