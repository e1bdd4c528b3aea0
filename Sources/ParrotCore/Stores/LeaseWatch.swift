import NIOCore
import PostgresNIO
import Synchronization

/// Who holds the connection of one call: the call, or (past its deadline) nobody.
final class LeaseWatch: Sendable {
    private enum State {
        case waiting
        case leased(PostgresConnection)
        case finished
        case abandoned
    }

    private let state = Mutex(State.waiting)

    /// The call got its connection; false when the deadline passed first.
    func leased(_ connection: PostgresConnection) -> Bool {
        state.withLock { state in
            guard case .waiting = state else { return false }
            state = .leased(connection)
            return true
        }
    }

    /// Called before the connection goes back to the pool, so it is never closed afterwards.
    func finished() {
        state.withLock { $0 = .finished }
    }

    /// At the lease deadline: true if the call already has its connection (or is done); else
    /// the call is abandoned and will not start.
    func stillLeasing() -> Bool {
        state.withLock { state in
            switch state {
            case .waiting:
                state = .abandoned
                return false
            case .leased, .finished, .abandoned:
                return true
            }
        }
    }

    /// At the total deadline: closes the connection of a call still running; false when the
    /// call has already finished.
    func abandon() -> Bool {
        state.withLock { state in
            switch state {
            case .leased(let connection):
                _ = connection.close() as EventLoopFuture<Void>
                state = .abandoned
                return true
            case .waiting, .abandoned:
                state = .abandoned
                return true
            case .finished:
                return false
            }
        }
    }
}
