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
///
/// Every decision is ``InFlightStateMachine``'s; this shell holds it under a lock with the
/// continuations of parked clients and the fetch task, and performs the machine's actions after
/// releasing the lock.
public final class InFlightAnswer: Sendable {
    public enum BodyEvent: Sendable, Equatable {
        case chunk(ByteBuffer)
        case finished
        case failed(ParrotError)

        var isTerminal: Bool {
            if case .chunk = self { return false }
            return true
        }
    }

    private struct Shell {
        var machine: InFlightStateMachine
        /// Parked readers by client id; the machine marks the same ids as waiting.
        var readers: [Int: CheckedContinuation<BodyEvent?, Never>] = [:]
        var headWaiters: [CheckedContinuation<InFlightStateMachine.Head, Never>] = []
        /// The leader, parked until every client is back within its window.
        var roomWaiter: CheckedContinuation<Void, Never>?
        var task: Task<Void, Never>?
        var upstreamElapsed: Duration?

        /// Takes the continuations an action resumes, so they are resumed after the lock.
        mutating func take(_ action: InFlightStateMachine.Action) -> Resumptions {
            var resumptions = Resumptions(action: action)
            if case .resume(let ids, _) = action.readers { resumptions.readers = ids.compactMap { readers.removeValue(forKey: $0) } }
            if case .resume = action.headWaiters { (resumptions.headWaiters, headWaiters) = (headWaiters, []) }
            if case .resume = action.leader { (resumptions.leader, roomWaiter) = (roomWaiter, nil) }
            if case .cancel = action.fetch { resumptions.task = task }
            return resumptions
        }
    }

    /// An action with the continuations and task it applies to, performed outside the lock.
    private struct Resumptions {
        let action: InFlightStateMachine.Action
        var readers: [CheckedContinuation<BodyEvent?, Never>] = []
        var headWaiters: [CheckedContinuation<InFlightStateMachine.Head, Never>] = []
        var leader: CheckedContinuation<Void, Never>?
        var task: Task<Void, Never>?

        func perform() {
            if case .resume(_, let event) = action.readers { for reader in readers { reader.resume(returning: event) } }
            if case .resume(let head) = action.headWaiters { for waiter in headWaiters { waiter.resume(returning: head) } }
            leader?.resume()
            task?.cancel()
        }
    }

    private let shell: Mutex<Shell>
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
        shell = Mutex(Shell(machine: InFlightStateMachine(replayLimit: replayLimit, window: window)))
    }

    /// Runs the machine under the lock, then performs what it decided.
    private func run(_ event: (inout InFlightStateMachine) -> InFlightStateMachine.Action) {
        shell.withLock { shell in shell.take(event(&shell.machine)) }.perform()
    }

    /// Runs the fetch; `work` publishes through this object. Cancelled at once when every client
    /// left before it started.
    func start(_ work: @escaping @Sendable (InFlightAnswer) async -> Void) {
        let task = Task { await work(self) }
        let fetch = shell.withLock { shell in
            shell.task = task
            return shell.machine.fetchStarted()
        }
        if case .cancel = fetch { task.cancel() }
    }

    /// Attaches a client; returns nil when the answer can no longer be joined. From here on the
    /// client receives every chunk (the ones relayed before, replayed, then live ones), however
    /// late it starts reading.
    func attach() -> Int? {
        switch shell.withLock({ $0.machine.attach() }) {
        case .attached(let id): return id
        case .refused: return nil
        }
    }

    /// Detaches a client. Idempotent: an id that is not attached (never was, already detached,
    /// already cut off or done) changes nothing. Cancels the fetch when no client is left and the
    /// answer is still running.
    func detach(_ id: Int) {
        run { $0.detach(id) }
    }

    var attachedCount: Int { shell.withLock { $0.machine.attachedCount } }
    var clientsCutOff: Int { shell.withLock { $0.machine.clientsCutOff } }

    func head() async -> Result<UpstreamHead, ParrotError> {
        await withCheckedContinuation { continuation in
            let ready: InFlightStateMachine.Head? = shell.withLock { shell in
                switch shell.machine.headRequested() {
                case .ready(let head):
                    return head
                case .wait:
                    shell.headWaiters.append(continuation)
                    return nil
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The next event for client `id`; nil once it is detached or cut off (its relay then ends
    /// early and closes the connection). A terminal event detaches the client.
    func next(_ id: Int) async -> BodyEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<BodyEvent?, Never>) in
                let (read, leader): (InFlightStateMachine.ReadAction, CheckedContinuation<Void, Never>?) = shell.withLock { shell in
                    let read = shell.machine.readerArrived(id)
                    switch read {
                    case .deliver(_, leader: .resume):
                        defer { shell.roomWaiter = nil }
                        return (read, shell.roomWaiter)
                    case .deliver(_, leader: .none), .end:
                        return (read, nil)
                    case .wait:
                        shell.readers[id] = continuation
                        return (read, nil)
                    }
                }
                leader?.resume()
                switch read {
                case .deliver(let event, _): continuation.resume(returning: event)
                case .end: continuation.resume(returning: nil)
                case .wait: break
                }
            }
        } onCancel: {
            detach(id)
        }
    }

    func publishHead(_ head: Result<UpstreamHead, ParrotError>) {
        run { $0.headArrived(head) }
    }

    func publish(_ chunk: ByteBuffer) {
        run { $0.chunkArrived(chunk) }
    }

    func finish(_ error: ParrotError? = nil) {
        run { machine in
            if let error { return machine.failed(error) }
            return machine.ended()
        }
    }

    /// Returns when every attached client is within its window: the leader calls it before each
    /// read from the upstream, so the upstream is read no faster than the slowest client takes
    /// it, up to the window. A client still behind after `slowClientTimeout` is cut off.
    func waitForRoom() async {
        var timer: Task<Void, Never>?
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let room = shell.withLock { shell in
                let room = shell.machine.roomRequested()
                if case .wait = room { shell.roomWaiter = continuation }
                return room
            }
            switch room {
            case .proceed:
                continuation.resume()
            case .wait(let ticket):
                timer = Task { [self, slowClientTimeout] in
                    guard (try? await Task.sleep(for: slowClientTimeout)) != nil else { return }
                    run { $0.slowClientDeadlinePassed(ticket: ticket) }
                }
            }
        }
        timer?.cancel()
    }

    /// How long the upstream call took, head to last byte; set before `finish`.
    var upstreamElapsed: Duration? {
        get { shell.withLock { $0.upstreamElapsed } }
        set { shell.withLock { $0.upstreamElapsed = newValue } }
    }
}
