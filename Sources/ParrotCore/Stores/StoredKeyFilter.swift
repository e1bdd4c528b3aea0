#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Which keys the embedded store may hold, so a miss skips the store read for a key that was
/// never stored (the usual miss: a new prompt). A Bloom filter over the keys' digests (two bits
/// per key in a fixed 1 MiB bitset): no false negatives for keys stored through this process or
/// present when it started, false positives (deleted or evicted keys, and ~4 % at a million keys)
/// only cost the store read they would have cost anyway. Bits are only ever set, so the load at
/// start-up and concurrent `insert`s need no ordering; until the load is done, every key "may"
/// be stored. Only for a store this process owns: a SQLite file written by another running
/// process at the same time would have its new entries missed (served as misses, never wrong).
final class StoredKeyFilter: Sendable {
    static let bitCount = 1 << 23

    private let bits = Mutex([UInt64](repeating: 0, count: StoredKeyFilter.bitCount / 64))
    private let loaded = Atomic<Bool>(false)

    private static func positions(_ key: CacheKey) -> (Int, Int) {
        var a: UInt64 = 0
        var b: UInt64 = 0
        let digest = key.digest
        guard digest.count >= 16 else { return (0, 0) }
        for i in 0..<8 {
            a = a << 8 | UInt64(digest[i])
            b = b << 8 | UInt64(digest[8 + i])
        }
        return (Int(a % UInt64(bitCount)), Int(b % UInt64(bitCount)))
    }

    func insert(_ key: CacheKey) {
        let (x, y) = Self.positions(key)
        bits.withLock { words in
            words[x >> 6] |= 1 << UInt64(x & 63)
            words[y >> 6] |= 1 << UInt64(y & 63)
        }
    }

    /// False only when `key` was certainly never stored (since start-up, or before it).
    func mayContain(_ key: CacheKey) -> Bool {
        guard loaded.load(ordering: .acquiring) else { return true }
        let (x, y) = Self.positions(key)
        return bits.withLock { words in
            words[x >> 6] & (1 << UInt64(x & 63)) != 0 && words[y >> 6] & (1 << UInt64(y & 63)) != 0
        }
    }

    /// Every key already in the store has been inserted.
    func markLoaded() { loaded.store(true, ordering: .releasing) }
}

/// Whether this handle is the only one open on a SQLite file, in any process: every handle
/// holds a shared `flock` on a side file; a handle is alone when it can take the lock
/// exclusively (and then shares it again at once). Two syscalls, far cheaper than the read it
/// lets a miss skip.
final class SoleOpener: Sendable {
    private let fd: Int32

    init?(path: String) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_SH) == 0 else {
            close(fd)
            return nil
        }
        self.fd = fd
    }

    func isSole() -> Bool {
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        _ = flock(fd, LOCK_SH)
        return true
    }

    deinit { close(fd) }
}
