import Synchronization

/// Nearest-neighbour search by cosine similarity, per scope. Vectors are normalised once on
/// insert. A search first compares 256-bit random-hyperplane signatures (SimHash: the share of
/// differing bits estimates angle/π) to shortlist candidates, then computes exact cosines on
/// the shortlist only. At cosine ≥ 0.8 the expected distance is ~52 bits (σ ≈ 6.5); the
/// shortlist admits up to `signatureSlack` bits, 5σ beyond, so a true match is practically
/// never lost, while unrelated vectors (~128 bits away) almost never reach the exact step.
public final class VectorIndex: Sendable {
    public struct Match: Sendable, Equatable {
        public var key: CacheKey
        public var similarity: Float
        public var text: String
    }

    static let signatureWords = 4
    /// Float32 rounding of normalised vectors: a cosine of exactly the threshold must count.
    static let roundingTolerance: Float = 1e-5
    static let signatureBits = 256

    /// A class, not a struct: its arrays are mutated in place through the reference. As a struct
    /// value inside the state's dictionary, each append copied the scope's whole vector array
    /// (copy-on-write saw a second reference), which made filling 100k vectors quadratic.
    /// `@unchecked Sendable`: a scope is only ever touched with the index's lock held.
    final class Scope: @unchecked Sendable {
        var keys: [CacheKey] = []
        var texts: [String] = []
        var vectors: [Float] = []
        var signatures: [UInt64] = []
        var alive: [Bool] = []
        var positions: [CacheKey: Int] = [:]
        var dimension = 0
        var dead = 0
    }

    struct State {
        var scopes: [String: Scope] = [:]
        var scopeOfKey: [CacheKey: String] = [:]
        /// Random hyperplanes per dimension, generated from a fixed seed so every replica and
        /// every restart computes the same signatures.
        var planes: [Int: [Float]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public var count: Int { state.withLock { $0.scopeOfKey.count } }

    public func insert(key: CacheKey, scope: String, vector: [Float], text: String) {
        guard let unit = Self.normalized(vector) else { return }
        state.withLock { state in
            let planes = Self.planes(for: unit.count, in: &state)
            // The same entry again (the periodic sync overlaps by a few seconds): already there.
            if state.scopeOfKey[key] == scope, state.scopes[scope]?.positions[key] != nil { return }
            Self.remove(key, from: &state)
            let s: Scope
            if let existing = state.scopes[scope] {
                s = existing
            } else {
                s = Scope()
                state.scopes[scope] = s
            }
            if s.dimension == 0 { s.dimension = unit.count }
            guard s.dimension == unit.count else { return }
            s.positions[key] = s.keys.count
            s.keys.append(key)
            s.texts.append(text)
            s.vectors.append(contentsOf: unit)
            s.signatures.append(contentsOf: Self.signature(unit, planes: planes))
            s.alive.append(true)
            state.scopeOfKey[key] = scope
        }
    }

    public func remove(_ key: CacheKey) {
        state.withLock { Self.remove(key, from: &$0) }
    }

    public func removeAll() {
        state.withLock { state in
            let planes = state.planes
            state = State()
            state.planes = planes
        }
    }

    /// The most similar live vector in `scope` with cosine ≥ `threshold`, or nil. Candidates
    /// rejected by `accept` (the near-miss guard) are skipped in favour of the next best.
    public func search(scope: String, vector: [Float], threshold: Float, accept: (String) -> Bool = { _ in true }) -> Match? {
        guard let query = Self.normalized(vector) else { return nil }
        let candidates: [Match] = state.withLock { state in
            var candidates: [Match] = []
            guard let s = state.scopes[scope], s.dimension == query.count, !s.keys.isEmpty else { return [] }
            let planes = Self.planes(for: query.count, in: &state)
            let signature = Self.signature(query, planes: planes)
            // Bits allowed to differ: the expected distance at `threshold` plus 5σ.
            let p = Double(acos(max(-1, min(1, threshold)))) / Double.pi
            let n = Double(Self.signatureBits)
            let slack = Int((n * p + 5 * (n * p * (1 - p)).squareRoot()).rounded(.up))
            s.signatures.withUnsafeBufferPointer { sigs in
                s.vectors.withUnsafeBufferPointer { vectors in
                    for i in 0..<s.keys.count where s.alive[i] {
                        let base = i * Self.signatureWords
                        var distance = 0
                        for w in 0..<Self.signatureWords { distance += (sigs[base + w] ^ signature[w]).nonzeroBitCount }
                        guard distance <= slack else { continue }
                        let similarity = Self.dot(query, vectors, offset: i * s.dimension)
                        if similarity >= threshold - Self.roundingTolerance { candidates.append(Match(key: s.keys[i], similarity: similarity, text: s.texts[i])) }
                    }
                }
            }
            return candidates
        }
        return candidates.sorted { $0.similarity > $1.similarity }.first { accept($0.text) }
    }

    // MARK: internals

    private static func remove(_ key: CacheKey, from state: inout State) {
        guard let scope = state.scopeOfKey.removeValue(forKey: key), let s = state.scopes[scope],
              let i = s.positions.removeValue(forKey: key) else { return }
        s.alive[i] = false
        s.dead += 1
        if s.positions.isEmpty {
            state.scopes[scope] = nil
        } else if s.dead > 1024, s.dead * 2 > s.keys.count {
            state.scopes[scope] = compact(s)
        }
    }

    private static func compact(_ s: Scope) -> Scope {
        let out = Scope()
        out.dimension = s.dimension
        for i in 0..<s.keys.count where s.alive[i] {
            out.positions[s.keys[i]] = out.keys.count
            out.keys.append(s.keys[i])
            out.texts.append(s.texts[i])
            out.vectors.append(contentsOf: s.vectors[(i * s.dimension)..<((i + 1) * s.dimension)])
            out.signatures.append(contentsOf: s.signatures[(i * signatureWords)..<((i + 1) * signatureWords)])
            out.alive.append(true)
        }
        return out
    }

    static func normalized(_ vector: [Float]) -> [Float]? {
        var norm: Float = 0
        for x in vector { norm += x * x }
        guard norm > 0, norm.isFinite else { return nil }
        let scale = 1 / norm.squareRoot()
        return vector.map { $0 * scale }
    }

    private static func planes(for dimension: Int, in state: inout State) -> [Float] {
        if let planes = state.planes[dimension] { return planes }
        var rng = SplitMix64(seed: 0x5EED_0F_9A77 ^ UInt64(dimension))
        let planes = (0..<(signatureBits * dimension)).map { _ in Float(rng.nextGaussian()) }
        state.planes[dimension] = planes
        return planes
    }

    private static func signature(_ unit: [Float], planes: [Float]) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: signatureWords)
        let d = unit.count
        planes.withUnsafeBufferPointer { p in
            for bit in 0..<signatureBits where dot(unit, p, offset: bit * d) >= 0 {
                words[bit >> 6] |= 1 << UInt64(bit & 63)
            }
        }
        return words
    }

    /// Eight lanes, two accumulators: the exact step's cost is this loop.
    @inline(__always)
    static func dot(_ a: [Float], _ b: UnsafeBufferPointer<Float>, offset: Int) -> Float {
        a.withUnsafeBufferPointer { a in
            let p = a.baseAddress!, q = b.baseAddress! + offset
            let n = a.count
            var acc0 = SIMD8<Float>(repeating: 0), acc1 = SIMD8<Float>(repeating: 0)
            var i = 0
            while i + 16 <= n {
                acc0 += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(q + i).loadUnaligned(as: SIMD8<Float>.self)
                acc1 += UnsafeRawPointer(p + i + 8).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(q + i + 8).loadUnaligned(as: SIMD8<Float>.self)
                i += 16
            }
            var sum = (acc0 + acc1).sum()
            while i < n {
                sum += p[i] * q[i]
                i += 1
            }
            return sum
        }
    }
}

/// A small seeded generator: the hyperplanes must be identical on every replica.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func nextUniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func nextGaussian() -> Double {
        let u1 = max(nextUniform(), 1e-12)
        let u2 = nextUniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

import Foundation
