import NIOCore
import Synchronization

/// One upstream answer being fetched, shared by every client that asked for the same key (and
/// mode) while it runs. A client that joins late first receives the chunks already relayed, then
/// the live ones. The fetch is cancelled only when no attached client is left.
///
/// Memory is bounded however clients and the upstream behave: each client has a window of
/// relayed-but-unread bytes (`window`); the leader reads the upstream only while every attached
/// client is within it (`waitForRoom`), and a client that stays behind it for
/// `slowClientTimeout` is cut off so the others go on. The replay buffer for late joiners is
/// bounded by `replayLimit`; past it the answer can no longer be joined.
public final class InFlightAnswer: Sendable {
    public enum BodyEvent: Sendable {
        case chunk(ByteBuffer)
        case finished
        case failed(ParrotError)

        var isTerminal: Bool {
            if case .chunk = self { return false }
            return true
        }
    }

    enum Completion {
        case running
        case finished
        case failed(ParrotError)
    }

    /// One attached client: what was relayed to it and not yet read, and its reader when it waits.
    struct Client {
        var queue = CircularBuffer<BodyEvent>()
        var queuedBytes = 0
        var reader: CheckedContinuation<BodyEvent?, Never>?
    }

    struct State {
        var head: Result<UpstreamHead, ParrotError>?
        var headWaiters: [CheckedContinuation<Result<UpstreamHead, ParrotError>, Never>] = []
        var replay: [ByteBuffer] = []
        var replayBytes = 0
        /// False once the replay buffer overflowed: late clients can no longer join.
        var joinable = true
        var completion = Completion.running
        var clients: [Int: Client] = [:]
        var nextID = 0
        var task: Task<Void, Never>?
        /// The leader, waiting for every client to be back within its window.
        var roomWaiter: CheckedContinuation<Void, Never>?
        var upstreamElapsed: Duration?
        var clientsCutOff = 0
    }

    private let state = Mutex(State())
    let replayLimit: Int
    let window: Int
    let slowClientTimeout: Duration
    /// The mode the leader asked the provider for; joiners of the other mode convert.
    let mode: CacheEntry.Mode

    init(mode: CacheEntry.Mode, replayLimit: Int, window: Int = 1 << 20, slowClientTimeout: Duration = .seconds(10)) {
        self.mode = mode
        self.replayLimit = replayLimit
        self.window = window
        self.slowClientTimeout = slowClientTimeout
    }

    /// Runs the fetch; `work` publishes through this object.
    func start(_ work: @escaping @Sendable (InFlightAnswer) async -> Void) {
        let task = Task { await work(self) }
        state.withLock { $0.task = task }
    }

    /// Attaches a client; returns nil when the answer can no longer be joined. From here on the
    /// client receives every chunk (the ones relayed before, replayed, then live ones), however
    /// late it starts reading.
    func attach() -> Int? {
        state.withLock { state in
            guard state.joinable else { return nil }
            if case .failed = state.completion { return nil }
            state.nextID += 1
            let id = state.nextID
            var client = Client()
            for chunk in state.replay {
                client.queue.append(.chunk(chunk))
                client.queuedBytes += chunk.readableBytes
            }
            if case .finished = state.completion { client.queue.append(.finished) }
            state.clients[id] = client
            return id
        }
    }

    /// Detaches a client. Idempotent: an id that is not attached (never was, already detached,
    /// already cut off or done) changes nothing. Cancels the fetch when no client is left and the
    /// answer is still running.
    func detach(_ id: Int) {
        let (task, reader, room): (Task<Void, Never>?, CheckedContinuation<BodyEvent?, Never>?, CheckedContinuation<Void, Never>?) =
            state.withLock { state in
                guard let client = state.clients.removeValue(forKey: id) else { return (nil, nil, nil) }
                var task: Task<Void, Never>?
                if state.clients.isEmpty, case .running = state.completion { task = state.task }
                return (task, client.reader, Self.takeRoomWaiter(&state, window: window))
            }
        reader?.resume(returning: nil)
        room?.resume()
        task?.cancel()
    }

    var attachedCount: Int { state.withLock { $0.clients.count } }
    var clientsCutOff: Int { state.withLock { $0.clientsCutOff } }

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

    /// The next event for client `id`; nil once it is detached or cut off (its relay then ends
    /// early and closes the connection). A terminal event detaches the client.
    func next(_ id: Int) async -> BodyEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<BodyEvent?, Never>) in
                let (event, room): (BodyEvent??, CheckedContinuation<Void, Never>?) = state.withLock { state in
                    guard var client = state.clients[id] else { return (.some(nil), nil) }
                    guard let event = client.queue.popFirst() else {
                        client.reader = continuation
                        state.clients[id] = client
                        return (nil, nil)
                    }
                    if case .chunk(let chunk) = event { client.queuedBytes -= chunk.readableBytes }
                    state.clients[id] = event.isTerminal ? nil : client
                    return (.some(event), Self.takeRoomWaiter(&state, window: window))
                }
                room?.resume()
                if let event { continuation.resume(returning: event) }
            }
        } onCancel: {
            detach(id)
        }
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
        var readers: [CheckedContinuation<BodyEvent?, Never>] = []
        state.withLock { state in
            if state.joinable {
                state.replayBytes += chunk.readableBytes
                if state.replayBytes > replayLimit {
                    state.joinable = false
                    state.replay = []
                } else {
                    state.replay.append(chunk)
                }
            }
            for id in state.clients.keys {
                if let reader = state.clients[id]!.reader {
                    state.clients[id]!.reader = nil
                    readers.append(reader)
                } else {
                    state.clients[id]!.queue.append(.chunk(chunk))
                    state.clients[id]!.queuedBytes += chunk.readableBytes
                }
            }
        }
        for reader in readers { reader.resume(returning: .chunk(chunk)) }
    }

    func finish(_ error: ParrotError? = nil) {
        let event: BodyEvent = error.map { .failed($0) } ?? .finished
        let readers: [CheckedContinuation<BodyEvent?, Never>] = state.withLock { state in
            state.completion = error.map { .failed($0) } ?? .finished
            if error != nil { state.replay = [] }
            var readers: [CheckedContinuation<BodyEvent?, Never>] = []
            for id in Array(state.clients.keys) {
                if let reader = state.clients[id]!.reader {
                    readers.append(reader)
                    state.clients[id] = nil
                } else {
                    state.clients[id]!.queue.append(event)
                }
            }
            return readers
        }
        for reader in readers { reader.resume(returning: event) }
    }

    /// Returns when every attached client is within its window: the leader calls it before each
    /// read from the upstream, so the upstream is read no faster than the slowest client takes
    /// it, up to the window. A client still behind after `slowClientTimeout` is cut off.
    func waitForRoom() async {
        guard state.withLock({ Self.hasLaggard($0, window: window) }) else { return }
        let timer = Task { [self] in
            try? await Task.sleep(for: slowClientTimeout)
            if !Task.isCancelled { cutOffLaggards() }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                guard Self.hasLaggard(state, window: window) else { return true }
                state.roomWaiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        timer.cancel()
    }

    /// Cuts off the clients still behind their window: their relay ends early (the connection
    /// is closed, so the client knows the answer was cut), their queue is freed, and the leader
    /// goes on for the others; with none left the fetch is cancelled.
    func cutOffLaggards() {
        let (readers, room, task): ([CheckedContinuation<BodyEvent?, Never>], CheckedContinuation<Void, Never>?, Task<Void, Never>?) =
            state.withLock { state in
                var readers: [CheckedContinuation<BodyEvent?, Never>] = []
                for (id, client) in state.clients where client.queuedBytes > window {
                    state.clients[id] = nil
                    state.clientsCutOff += 1
                    if let reader = client.reader { readers.append(reader) }
                }
                var task: Task<Void, Never>?
                if state.clients.isEmpty, case .running = state.completion { task = state.task }
                return (readers, Self.takeRoomWaiter(&state, window: window), task)
            }
        for reader in readers { reader.resume(returning: nil) }
        room?.resume()
        task?.cancel()
    }

    private static func hasLaggard(_ state: State, window: Int) -> Bool {
        state.clients.values.contains { $0.queuedBytes > window }
    }

    private static func takeRoomWaiter(_ state: inout State, window: Int) -> CheckedContinuation<Void, Never>? {
        guard state.roomWaiter != nil, !hasLaggard(state, window: window) else { return nil }
        defer { state.roomWaiter = nil }
        return state.roomWaiter
    }

    /// How long the upstream call took, head to last byte; set before `finish`.
    var upstreamElapsed: Duration? {
        get { state.withLock { $0.upstreamElapsed } }
        set { state.withLock { $0.upstreamElapsed = newValue } }
    }
}
