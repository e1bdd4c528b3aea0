import NIOCore
import Synchronization

/// Counts accepted TCP connections (the proxy's keep-alive tests compare it with the request
/// count) and keeps the open ones so ``MockUpstream/stop()`` can close them, stalled ones
/// included, without waiting for their clients.
final class MockConnections: Sendable {
    private struct State {
        var opened = 0
        var open: [ObjectIdentifier: any Channel] = [:]
        var stopped = false
    }

    private let state = Mutex(State())

    var opened: Int { state.withLock { $0.opened } }

    func resetCount() {
        state.withLock { $0.opened = 0 }
    }

    /// Registers a freshly accepted channel; returns false when the mock is already stopping.
    func accept(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let accepted = state.withLock { state in
            state.opened += 1
            guard !state.stopped else { return false }
            state.open[id] = channel
            return true
        }
        guard accepted else { return false }
        channel.closeFuture.whenComplete { _ in
            self.state.withLock { _ = $0.open.removeValue(forKey: id) }
        }
        return true
    }

    /// Stops accepting and closes every open connection.
    func closeAll() async {
        let channels = state.withLock { state in
            state.stopped = true
            return Array(state.open.values)
        }
        for channel in channels {
            try? await channel.close()
        }
    }
}
