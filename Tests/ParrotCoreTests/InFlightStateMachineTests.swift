import NIOCore
import XCTest

@testable import ParrotCore

/// The coalescer's decisions without tasks or sockets: events in, actions out (issue #19).
final class InFlightStateMachineTests: XCTestCase {
    private typealias Machine = InFlightStateMachine
    private let ok = UpstreamHead(status: 200, headers: [("content-type", "text/event-stream")])

    private func machine(replayLimit: Int = 1 << 20, window: Int = 1 << 20) -> Machine {
        Machine(replayLimit: replayLimit, window: window)
    }

    private func attach(_ machine: inout Machine, file: StaticString = #filePath, line: UInt = #line) -> Int {
        guard case .attached(let id) = machine.attach() else {
            XCTFail("attach was refused", file: file, line: line)
            return -1
        }
        return id
    }

    private func bytes(_ count: Int) -> ByteBuffer { ByteBuffer(repeating: 1, count: count) }

    /// Reads what client `id` has queued, up to and including a terminal event; a client whose
    /// queue ran empty is then parked, as a real reader would be.
    private func drain(_ machine: inout Machine, _ id: Int) -> [InFlightAnswer.BodyEvent] {
        var events: [InFlightAnswer.BodyEvent] = []
        while case .deliver(let event, _) = machine.readerArrived(id) { events.append(event) }
        return events
    }

    private func isNone(_ action: Machine.Action) -> Bool {
        guard action.readers == .none, action.leader == .none, action.fetch == .none else { return false }
        if case .none = action.headWaiters { return true }
        return false
    }

    // MARK: attach and detach

    func testEachAttachedClientGetsItsOwnID() {
        var machine = machine()
        let ids = (0..<3).map { _ in attach(&machine) }
        XCTAssertEqual(Set(ids).count, 3)
        XCTAssertEqual(machine.attachedCount, 3)
    }

    func testDetachingTheSameIDTwiceDoesNotCancelForAClientStillAttached() {
        var machine = machine()
        let leader = attach(&machine)
        let joiner = attach(&machine)
        XCTAssertEqual(machine.detach(leader).fetch, .none, "the joiner is still attached")
        XCTAssertTrue(isNone(machine.detach(leader)), "a second detach of the same id is a no-op")
        XCTAssertEqual(machine.attachedCount, 1)
        _ = machine.chunkArrived(ByteBuffer(string: "still flowing"))
        XCTAssertEqual(drain(&machine, joiner), [.chunk(ByteBuffer(string: "still flowing"))])
    }

    /// The sequence from the issue: the head wait's cancel handler detaches the leader, then the
    /// failure branch detaches the same id again; the joiner must keep its fetch.
    func testCancelHandlerThenFailureBranchDetachingTheSameIDKeepsTheJoinersFetch() {
        var machine = machine()
        let leader = attach(&machine)
        let joiner = attach(&machine)
        guard case .wait = machine.headRequested() else { return XCTFail("no head yet") }
        XCTAssertEqual(machine.detach(leader).fetch, .none)  // the cancel handler
        let head = machine.headArrived(.success(ok))
        guard case .resume(.success) = head.headWaiters else { return XCTFail("head waiters must be resumed") }
        XCTAssertTrue(isNone(machine.detach(leader)))  // the body's `defer`
        XCTAssertEqual(machine.attachedCount, 1)
        _ = machine.chunkArrived(ByteBuffer(string: "a"))
        _ = machine.ended()
        XCTAssertEqual(drain(&machine, joiner), [.chunk(ByteBuffer(string: "a")), .finished])
    }

    func testAnUnknownIDIsANoOp() {
        var machine = machine()
        let client = attach(&machine)
        XCTAssertTrue(isNone(machine.detach(client + 41)))
        XCTAssertEqual(machine.readerArrived(client + 41), .end)
        XCTAssertEqual(machine.attachedCount, 1)
    }

    func testTheLastClientLeavingCancelsTheFetchExactlyOnceAndNobodyJoinsAfter() {
        var machine = machine()
        let first = attach(&machine)
        let second = attach(&machine)
        XCTAssertEqual(machine.detach(first).fetch, .none)
        XCTAssertEqual(machine.detach(second).fetch, .cancel)
        XCTAssertEqual(machine.detach(second).fetch, .none)
        XCTAssertEqual(machine.detach(first).fetch, .none)
        XCTAssertEqual(machine.attach(), .refused, "a cancelled fetch cannot answer a new client")
        XCTAssertTrue(isNone(machine.chunkArrived(bytes(10))))
        XCTAssertTrue(isNone(machine.failed(.upstreamUnreachable(provider: "openai", reason: "cancelled"))))
    }

    func testTheLastClientLeavingAfterTheAnswerEndedCancelsNothing() {
        var machine = machine()
        let client = attach(&machine)
        _ = machine.headArrived(.success(ok))
        _ = machine.ended()
        XCTAssertEqual(machine.detach(client).fetch, .none)
    }

    func testAFetchStartedAfterEveryClientLeftIsCancelledAtOnce() {
        var machine = machine()
        XCTAssertEqual(machine.fetchStarted(), .none)
        _ = machine.detach(attach(&machine))
        XCTAssertEqual(machine.fetchStarted(), .cancel)
    }

    func testAbandonedCallStillAnswersItsHeadWaiters() {
        var machine = machine()
        _ = machine.detach(attach(&machine))
        let error = ParrotError.upstreamUnreachable(provider: "openai", reason: "cancelled")
        guard case .resume(.failure(error)) = machine.headArrived(.failure(error)).headWaiters else {
            return XCTFail("a head waiter must never hang")
        }
        guard case .ready(.failure(error)) = machine.headRequested() else { return XCTFail("the head is kept") }
    }

    // MARK: relaying

    func testAParkedReaderTakesTheNextChunkAndTheOthersQueueIt() {
        var machine = machine()
        let parked = attach(&machine)
        let busy = attach(&machine)
        XCTAssertEqual(machine.readerArrived(parked), .wait)
        let action = machine.chunkArrived(ByteBuffer(string: "x"))
        XCTAssertEqual(action.readers, .resume([parked], with: .chunk(ByteBuffer(string: "x"))))
        XCTAssertEqual(drain(&machine, busy), [.chunk(ByteBuffer(string: "x"))])
        XCTAssertEqual(machine.readerArrived(parked), .wait, "the parked reader got its chunk directly, not queued too")
    }

    func testDetachingAParkedReaderEndsItsRelay() {
        var machine = machine()
        let client = attach(&machine)
        _ = attach(&machine)
        XCTAssertEqual(machine.readerArrived(client), .wait)
        XCTAssertEqual(machine.detach(client).readers, .resume([client], with: nil))
    }

    func testALateJoinerGetsTheReplayThenLiveChunksThenTheEnd() {
        var machine = machine()
        let first = attach(&machine)
        _ = machine.headArrived(.success(ok))
        _ = machine.chunkArrived(ByteBuffer(string: "a"))
        let late = attach(&machine)
        _ = machine.chunkArrived(ByteBuffer(string: "b"))
        _ = machine.ended()
        let expected: [InFlightAnswer.BodyEvent] = [.chunk(ByteBuffer(string: "a")), .chunk(ByteBuffer(string: "b")), .finished]
        XCTAssertEqual(drain(&machine, first), expected)
        XCTAssertEqual(drain(&machine, late), expected)
        XCTAssertEqual(machine.attachedCount, 0, "a terminal event detaches")
    }

    func testAFinishedAnswerIsStillJoinableWithItsWholeReplay() {
        var machine = machine()
        _ = attach(&machine)
        _ = machine.headArrived(.success(ok))
        _ = machine.chunkArrived(ByteBuffer(string: "all"))
        _ = machine.ended()
        let late = attach(&machine)
        XCTAssertEqual(drain(&machine, late), [.chunk(ByteBuffer(string: "all")), .finished])
    }

    func testAReplayPastItsBoundRefusesLateJoinersButAttachedClientsGetEverything() {
        var machine = machine(replayLimit: 1000)
        let client = attach(&machine)
        for _ in 0..<15 { _ = machine.chunkArrived(bytes(100)) }
        XCTAssertEqual(machine.attach(), .refused)
        _ = machine.ended()
        XCTAssertEqual(machine.attach(), .refused, "an overflowed answer cannot be replayed after it ended either")
        let events = drain(&machine, client)
        XCTAssertEqual(events.count, 16)
        XCTAssertEqual(events.last, .finished)
    }

    func testAFailureBeforeTheHeadReachesEveryHeadWaiterAndRefusesJoiners() {
        var machine = machine()
        let first = attach(&machine)
        let second = attach(&machine)
        let error = ParrotError.upstreamTimeout(provider: "openai")
        let action = machine.headArrived(.failure(error))
        guard case .resume(.failure(error)) = action.headWaiters else { return XCTFail("every waiter gets the failure") }
        guard case .ready(.failure(error)) = machine.headRequested() else { return XCTFail("and so does a later asker") }
        XCTAssertEqual(machine.attach(), .refused)
        XCTAssertEqual(machine.detach(first).fetch, .none, "nothing runs any more: nothing to cancel")
        XCTAssertEqual(machine.detach(second).fetch, .none)
    }

    func testAFailureMidStreamReachesEveryClientAfterWhatItHasQueued() {
        var machine = machine()
        let parked = attach(&machine)
        let behind = attach(&machine)
        _ = machine.headArrived(.success(ok))
        _ = machine.chunkArrived(ByteBuffer(string: "a"))
        _ = drain(&machine, parked)
        XCTAssertEqual(machine.readerArrived(parked), .wait)
        let error = ParrotError.upstreamUnreachable(provider: "openai", reason: "reset")
        XCTAssertEqual(machine.failed(error).readers, .resume([parked], with: .failed(error)))
        XCTAssertEqual(drain(&machine, behind), [.chunk(ByteBuffer(string: "a")), .failed(error)])
        XCTAssertEqual(machine.attach(), .refused)
        guard case .ready(.success) = machine.headRequested() else { return XCTFail("a client that has not read the head yet still gets it") }
    }

    // MARK: windows and pacing

    func testAFullWindowMakesTheLeaderWaitUntilTheClientReads() {
        var machine = machine(window: 1000)
        let slow = attach(&machine)
        XCTAssertEqual(machine.roomRequested(), .proceed)
        _ = machine.chunkArrived(bytes(1500))
        guard case .wait = machine.roomRequested() else { return XCTFail("1500 unread bytes > window 1000: the upstream must wait") }
        guard case .deliver(_, leader: .resume) = machine.readerArrived(slow) else { return XCTFail("reading frees room") }
        XCTAssertEqual(machine.roomRequested(), .proceed)
        XCTAssertEqual(machine.clientsCutOff, 0)
    }

    func testALaggardIsCutOffAtTheDeadlineAndTheOthersGoOn() {
        var machine = machine(window: 1000)
        let stuck = attach(&machine)
        let reader = attach(&machine)
        _ = machine.chunkArrived(bytes(1500))
        _ = drain(&machine, reader)
        guard case .wait(let ticket) = machine.roomRequested() else { return XCTFail("the stuck client holds the leader") }
        let action = machine.slowClientDeadlinePassed(ticket: ticket)
        XCTAssertEqual(action.leader, .resume)
        XCTAssertEqual(action.fetch, .none, "the reader is still attached")
        XCTAssertEqual(machine.clientsCutOff, 1)
        XCTAssertEqual(machine.readerArrived(stuck), .end, "the cut-off client's relay ends")
        XCTAssertEqual(machine.chunkArrived(ByteBuffer(string: "more")).readers, .resume([reader], with: .chunk(ByteBuffer(string: "more"))),
                       "the parked reader goes on")
    }

    func testOnlyTheClientsBehindTheirWindowAreCutOff() {
        var machine = machine(window: 10)
        let client = attach(&machine)
        let behind = attach(&machine)
        XCTAssertEqual(machine.readerArrived(client), .wait)
        _ = machine.chunkArrived(bytes(100))  // taken by the parked reader, queued for the other
        guard case .wait(let ticket) = machine.roomRequested() else { return XCTFail("the other client is behind") }
        let action = machine.slowClientDeadlinePassed(ticket: ticket)
        XCTAssertEqual(action.readers, .none, "the cut-off client was not parked")
        XCTAssertEqual(machine.attachedCount, 1)
        XCTAssertEqual(machine.readerArrived(behind), .end)
        XCTAssertEqual(machine.readerArrived(client), .wait, "the client that kept up is still attached")
    }

    func testCuttingOffTheLastClientCancelsTheFetch() {
        var machine = machine(window: 10)
        _ = attach(&machine)
        _ = machine.chunkArrived(bytes(100))
        guard case .wait(let ticket) = machine.roomRequested() else { return XCTFail("must wait") }
        let action = machine.slowClientDeadlinePassed(ticket: ticket)
        XCTAssertEqual(action.fetch, .cancel)
        XCTAssertEqual(action.leader, .resume, "the leader must not hang either")
    }

    func testADeadlineOfAWaitThatAlreadyEndedChangesNothing() {
        var machine = machine(window: 10)
        let client = attach(&machine)
        _ = machine.chunkArrived(bytes(100))
        guard case .wait(let ticket) = machine.roomRequested() else { return XCTFail("must wait") }
        _ = drain(&machine, client)
        _ = machine.chunkArrived(bytes(100))
        XCTAssertTrue(isNone(machine.slowClientDeadlinePassed(ticket: ticket)), "the leader is not waiting on that ticket")
        XCTAssertEqual(machine.clientsCutOff, 0)
        XCTAssertEqual(machine.attachedCount, 1)
    }

    func testALaggardLeavingWakesTheLeader() {
        var machine = machine(window: 10)
        let laggard = attach(&machine)
        let other = attach(&machine)
        _ = machine.chunkArrived(bytes(100))
        guard case .wait = machine.roomRequested() else { return XCTFail("must wait") }
        XCTAssertEqual(machine.detach(laggard).leader, .none, "the other client is behind too")
        XCTAssertEqual(machine.detach(other).leader, .resume)
    }
}
