import Synchronization
import XCTest

@testable import ParrotCore

/// Group commit without a store: what it batches, what it acknowledges, and when.
final class GroupCommitTests: XCTestCase {
    /// The committed batches, in order.
    private final class Ledger: Sendable {
        let batches = Mutex<[[Int]]>([])
        var committed: [Int] { batches.withLock { $0.flatMap { $0 } } }
    }

    func testConcurrentSubmitsShareTransactionsAndEachItemIsCommittedOnce() async throws {
        let ledger = Ledger()
        let commit = GroupCommit<Int> { items in
            try await Task.sleep(for: .milliseconds(20))  // a slow transaction lets the next ones queue up
            ledger.batches.withLock { $0.append(items) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for item in 0..<100 { group.addTask { try await commit.submit(item) } }
            try await group.waitForAll()
        }
        XCTAssertEqual(ledger.committed.sorted(), Array(0..<100), "every item exactly once")
        let batches = ledger.batches.withLock { $0.count }
        XCTAssertLessThan(batches, 100, "items arriving during a transaction share the next one")
        XCTAssertGreaterThan(ledger.batches.withLock { $0.map(\.count).max() ?? 0 }, 1)
    }

    func testASubmitReturnsOnlyAfterItsTransactionCommitted() async throws {
        let ledger = Ledger()
        let commit = GroupCommit<Int> { items in
            try await Task.sleep(for: .milliseconds(5))
            ledger.batches.withLock { $0.append(items) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for item in 0..<20 {
                group.addTask {
                    try await commit.submit(item)
                    XCTAssertTrue(ledger.committed.contains(item), "acknowledged before its commit: \(item)")
                }
            }
            try await group.waitForAll()
        }
    }

    func testAFailedTransactionFailsEveryItemInItAndTheNextOnesStillCommit() async throws {
        struct DiskFull: Error {}
        let failNext = Atomic<Bool>(true)
        let ledger = Ledger()
        let commit = GroupCommit<Int> { items in
            if failNext.exchange(false, ordering: .relaxed) { throw DiskFull() }
            ledger.batches.withLock { $0.append(items) }
        }
        do {
            try await commit.submit(1)
            XCTFail("the failed transaction was acknowledged")
        } catch is DiskFull {}
        try await commit.submit(2)
        XCTAssertEqual(ledger.committed, [2])
    }
}
