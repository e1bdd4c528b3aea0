import NIOCore

/// Every decision about one in-flight upstream answer and the clients coalesced on it, as a pure
/// value in the shape of AsyncHTTPClient's connection-pool state machine: events named for what
/// happened go in, an action to perform comes out, and ``InFlightAnswer`` (the shell) performs it
/// outside its lock. No clock, no tasks, no continuations: the shell owns those, keyed by the
/// client ids this machine hands out.
///
/// What the machine guarantees:
/// - Detaching is idempotent per id; an id that is not attached (never was, already detached,
///   cut off, or done) changes nothing. The fetch is cancelled exactly once, when the last
///   attached client leaves while the upstream still runs; nobody can join it afterwards.
/// - Each client holds at most `window` relayed-but-unread bytes before the leader is told to
///   wait; a client still behind it when the slow-client deadline passes is cut off.
/// - Late joiners receive the chunks relayed so far from a replay kept up to `replayLimit`
///   bytes; past it the answer can no longer be joined (it could not be stored either).
struct InFlightStateMachine {
    typealias BodyEvent = InFlightAnswer.BodyEvent
    typealias Head = Result<UpstreamHead, ParrotError>

    /// The chunks relayed so far, for late joiners, or the fact that they outgrew their bound.
    private enum Replay {
        case kept([ByteBuffer], bytes: Int)
        case overflowed
    }

    private enum State {
        /// Clients attached, the provider has not answered yet.
        case awaitingHead
        /// The head is out (nil only when a body is published without one); chunks are relayed.
        case streaming(head: UpstreamHead?, Replay)
        /// The upstream answer ended complete; clients drain their queues.
        case finished(head: UpstreamHead?, Replay)
        /// The call failed before or during the body; nobody may join.
        case failed(ParrotError, head: UpstreamHead?)
        /// Every client left while the upstream ran: the fetch was cancelled; nobody may join.
        case abandoned(head: Head?)
    }

    /// One attached client: what was relayed to it and not yet read, and whether its reader is
    /// parked in the shell waiting for the next event.
    private struct Client {
        var queue = CircularBuffer<BodyEvent>()
        var queuedBytes = 0
        var readerWaiting = false

        mutating func enqueue(_ chunks: [ByteBuffer]) {
            for chunk in chunks {
                queue.append(.chunk(chunk))
                queuedBytes += chunk.readableBytes
            }
        }
    }

    /// The leader asking to read more from the upstream.
    private enum Pacing {
        case reading
        /// Parked until every client is within its window; `ticket` names this wait so a
        /// slow-client deadline of an earlier wait changes nothing.
        case waitingForRoom(ticket: Int)
    }

    // MARK: actions

    /// What the shell does after an event, outside its lock. A struct of independent parts, as
    /// AsyncHTTPClient's pool action (request part + connection part): one event can end a
    /// reader, wake the leader and cancel the fetch at once.
    struct Action {
        enum Readers: Equatable {
            case none
            /// Resume these parked readers with `event` (nil: their relay ends early).
            case resume([Int], with: BodyEvent?)
        }
        enum HeadWaiters {
            case none
            case resume(Head)
        }
        enum Leader: Equatable {
            case none
            /// Resume the leader parked in `waitForRoom`.
            case resume
        }
        enum Fetch: Equatable {
            case none
            case cancel
        }

        var readers = Readers.none
        var headWaiters = HeadWaiters.none
        var leader = Leader.none
        var fetch = Fetch.none

        static let none = Action()
    }

    enum AttachAction: Equatable {
        case attached(id: Int)
        /// Failed, abandoned, or its replay outgrew its bound: lead or join another call.
        case refused
    }

    enum ReadAction: Equatable {
        /// The next event, taken from the client's queue; `leader` says whether that freed room
        /// for a leader that was waiting for it.
        case deliver(BodyEvent, leader: Action.Leader)
        /// Nothing queued: park the reader until an action resumes it.
        case wait
        /// The client is not attached (detached, cut off, or past its terminal event).
        case end
    }

    enum HeadAction {
        case ready(Head)
        case wait
    }

    enum RoomAction: Equatable {
        case proceed
        /// Park the leader; call ``slowClientDeadlinePassed(ticket:)`` with `ticket` when the
        /// slow-client timeout has passed.
        case wait(ticket: Int)
    }

    // MARK: state

    let replayLimit: Int
    let window: Int
    private var state = State.awaitingHead
    private var clients: [Int: Client] = [:]
    private var lastID = 0
    private var pacing = Pacing.reading
    private var lastTicket = 0
    private(set) var clientsCutOff = 0

    init(replayLimit: Int, window: Int) {
        self.replayLimit = replayLimit
        self.window = window
    }

    var attachedCount: Int { clients.count }

    // MARK: events

    /// A client asks to join. It receives every chunk relayed before (the replay), then the live
    /// ones, however late it starts reading.
    mutating func attach() -> AttachAction {
        var client = Client()
        switch state {
        case .awaitingHead:
            break
        case .streaming(_, .kept(let replay, _)):
            client.enqueue(replay)
        case .finished(_, .kept(let replay, _)):
            client.enqueue(replay)
            client.queue.append(.finished)
        case .streaming(_, .overflowed), .finished(_, .overflowed), .failed, .abandoned:
            return .refused
        }
        lastID += 1
        clients[lastID] = client
        return .attached(id: lastID)
    }

    /// The fetch task was started. All clients may have left before it was: then it is
    /// cancelled at once (it still runs to its end, where the shell's caller cleans up).
    func fetchStarted() -> Action.Fetch {
        if case .abandoned = state { return .cancel }
        return .none
    }

    /// A client leaves (its connection closed, its task was cancelled, or its relay is done).
    mutating func detach(_ id: Int) -> Action {
        guard let client = clients.removeValue(forKey: id) else { return .none }
        var action = Action()
        if client.readerWaiting { action.readers = .resume([id], with: nil) }
        action.leader = takeLeaderIfRoom()
        action.fetch = abandonIfNobodyLeft()
        return action
    }

    /// A client's reader wants its next event.
    mutating func readerArrived(_ id: Int) -> ReadAction {
        guard var client = clients[id] else { return .end }
        guard let event = client.queue.popFirst() else {
            client.readerWaiting = true
            clients[id] = client
            return .wait
        }
        if case .chunk(let chunk) = event { client.queuedBytes -= chunk.readableBytes }
        // A terminal event detaches the client.
        clients[id] = event.isTerminal ? nil : client
        return .deliver(event, leader: takeLeaderIfRoom())
    }

    /// A client asks for the provider's head.
    func headRequested() -> HeadAction {
        switch state {
        case .awaitingHead, .abandoned(head: nil), .streaming(head: nil, _), .finished(head: nil, _):
            return .wait
        case .streaming(let head?, _), .finished(let head?, _), .failed(_, let head?):
            return .ready(.success(head))
        case .failed(let error, head: nil):
            return .ready(.failure(error))
        case .abandoned(let head?):
            return .ready(head)
        }
    }

    /// The provider answered (or the call failed before it did).
    mutating func headArrived(_ head: Head) -> Action {
        switch state {
        case .awaitingHead:
            switch head {
            case .success(let success): state = .streaming(head: success, .kept([], bytes: 0))
            case .failure(let error): state = .failed(error, head: nil)
            }
        case .abandoned(head: nil):
            state = .abandoned(head: head)
        case .streaming, .finished, .failed, .abandoned:
            break  // a second head changes nothing
        }
        var action = Action()
        action.headWaiters = .resume(head)
        return action
    }

    /// A chunk of the body came from the upstream: parked readers take it, the others queue it,
    /// and it is kept for late joiners while the replay is within its bound.
    mutating func chunkArrived(_ chunk: ByteBuffer) -> Action {
        let head: UpstreamHead?
        var replay: Replay
        switch state {
        case .awaitingHead:
            (head, replay) = (nil, .kept([], bytes: 0))
        case .streaming(let streamingHead, let streamingReplay):
            (head, replay) = (streamingHead, streamingReplay)
        case .finished, .failed, .abandoned:
            return .none
        }
        if case .kept(var chunks, let bytes) = replay {
            if bytes + chunk.readableBytes > replayLimit {
                replay = .overflowed
            } else {
                chunks.append(chunk)
                replay = .kept(chunks, bytes: bytes + chunk.readableBytes)
            }
        }
        state = .streaming(head: head, replay)
        var parked: [Int] = []
        for id in clients.keys {
            if clients[id]!.readerWaiting {
                clients[id]!.readerWaiting = false
                parked.append(id)
            } else {
                clients[id]!.enqueue([chunk])
            }
        }
        var action = Action()
        if !parked.isEmpty { action.readers = .resume(parked.sorted(), with: .chunk(chunk)) }
        return action
    }

    /// The upstream answer ended complete.
    mutating func ended() -> Action {
        switch state {
        case .awaitingHead:
            state = .finished(head: nil, .kept([], bytes: 0))
        case .streaming(let head, let replay):
            state = .finished(head: head, replay)
        case .finished, .failed, .abandoned:
            return .none
        }
        return endEveryClient(with: .finished)
    }

    /// The upstream call failed during the body: every client receives the failure after what
    /// it already has queued; the replay is dropped and nobody may join.
    mutating func failed(_ error: ParrotError) -> Action {
        switch state {
        case .awaitingHead:
            state = .failed(error, head: nil)
        case .streaming(let head, _):
            state = .failed(error, head: head)
        case .finished, .failed, .abandoned:
            return .none
        }
        return endEveryClient(with: .failed(error))
    }

    /// The leader is about to read more from the upstream.
    mutating func roomRequested() -> RoomAction {
        guard hasLaggard else { return .proceed }
        lastTicket += 1
        pacing = .waitingForRoom(ticket: lastTicket)
        return .wait(ticket: lastTicket)
    }

    /// The slow-client timeout of the leader's wait `ticket` passed: the clients still behind
    /// their window are cut off (their relay ends, their queue is freed) and the leader goes on
    /// for the others; with none left the fetch is cancelled. A ticket of a wait that already
    /// ended changes nothing.
    mutating func slowClientDeadlinePassed(ticket: Int) -> Action {
        guard case .waitingForRoom(ticket) = pacing else { return .none }
        var ended: [Int] = []
        for (id, client) in clients where client.queuedBytes > window {
            clients[id] = nil
            clientsCutOff += 1
            if client.readerWaiting { ended.append(id) }
        }
        var action = Action()
        if !ended.isEmpty { action.readers = .resume(ended.sorted(), with: nil) }
        action.leader = takeLeaderIfRoom()
        action.fetch = abandonIfNobodyLeft()
        return action
    }

    // MARK: decisions

    private var hasLaggard: Bool {
        clients.values.contains { $0.queuedBytes > window }
    }

    private mutating func takeLeaderIfRoom() -> Action.Leader {
        guard case .waitingForRoom = pacing, !hasLaggard else { return .none }
        pacing = .reading
        return .resume
    }

    private mutating func abandonIfNobodyLeft() -> Action.Fetch {
        guard clients.isEmpty else { return .none }
        switch state {
        case .awaitingHead:
            state = .abandoned(head: nil)
        case .streaming(let head, _):
            state = .abandoned(head: head.map { .success($0) })
        case .finished, .failed, .abandoned:
            return .none
        }
        return .cancel
    }

    /// Hands `event` to every parked reader (which detaches it) and queues it for the others.
    private mutating func endEveryClient(with event: BodyEvent) -> Action {
        var parked: [Int] = []
        for id in Array(clients.keys) {
            if clients[id]!.readerWaiting {
                clients[id] = nil
                parked.append(id)
            } else {
                clients[id]!.queue.append(event)
            }
        }
        var action = Action()
        if !parked.isEmpty { action.readers = .resume(parked.sorted(), with: event) }
        return action
    }
}
