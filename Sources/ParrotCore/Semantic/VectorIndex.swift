import CParrotKernels
import Synchronization

/// Nearest-neighbour search by cosine similarity, per scope. Vectors are normalised once on
/// insert. A search first compares 1024-bit random-hyperplane signatures (SimHash: the share of
/// differing bits estimates angle/π) to shortlist candidates, then computes exact cosines on
/// the shortlist only.
///
/// Prompts of one application resemble each other (embeddings at cosine 0.5–0.7), and plain
/// signatures cannot tell them from a match at 0.8: nearly the whole scope would reach the
/// exact step. So each scope fixes a centre (the mean direction of its first vectors) and signs
/// the *residuals* (vector minus its component along the centre), where unrelated prompts are
/// far apart again. Nothing is lost by that: for a query with centre component `a` and a stored
/// vector with component `b`, cosine ≥ T implies a residual cosine of at least
/// ρ = (T − ab) / √((1 − a²)(1 − b²)); the shortlist admits the distance expected at ρ plus
/// `shortlistSigmas` σ (the distance is binomial), so a true match is practically never lost, and
/// a vector whose ρ exceeds 1 cannot match at all and is skipped without a look.
public final class VectorIndex: Sendable {
    public struct Match: Sendable, Equatable {
        public var key: CacheKey
        public var similarity: Float
        public var text: String
    }

    static let signatureWords = 16
    static let signatureBits = 1024
    /// Standard deviations of signature distance the shortlist admits beyond the distance
    /// expected at the threshold. At 3.5σ a true match lying exactly at the threshold is skipped
    /// with probability ≈ 2·10⁻⁴ (far less the further above it lies): a plain miss, never a
    /// wrong answer. 5σ made searches of one-topic scopes at 100k several times slower
    /// (p99 16 ms instead of 3) for that difference.
    static let shortlistSigmas = 3.5
    /// Float32 rounding of normalised vectors: a cosine of exactly the threshold must count.
    static let roundingTolerance: Float = 1e-5
    /// Vectors a scope collects before it fixes its centre.
    static let centreSample = 256
    /// Bins over a vector's centre component b ∈ [−1, 1]; each search computes one admitted
    /// distance per bin (the loose end of the bin), not one per vector.
    static let binCount = 2048

    /// A class, not a struct: its arrays are mutated in place through the reference. As a struct
    /// value inside the state's dictionary, each append copied the scope's whole vector array
    /// (copy-on-write saw a second reference), which made filling 100k vectors quadratic.
    /// `@unchecked Sendable`: a scope is only ever touched with the index's lock held.
    final class Scope: @unchecked Sendable {
        var keys: [CacheKey] = []
        var texts: [String] = []
        var vectors: [Float] = []
        var signatures: [UInt64] = []
        /// The bin of each vector's component along `centre`.
        var bins: [UInt16] = []
        var alive: [Bool] = []
        var positions: [CacheKey: Int] = [:]
        var dimension = 0
        var dead = 0
        /// Unit mean direction of the scope's first `centreSample` vectors; nil before.
        var centre: [Float]?
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
            let (_, bin, signature) = Self.sign(unit, centre: s.centre, planes: planes)
            s.bins.append(bin)
            s.signatures.append(contentsOf: signature)
            s.alive.append(true)
            state.scopeOfKey[key] = scope
            if s.centre == nil, s.keys.count >= Self.centreSample { Self.fixCentre(of: s, planes: planes) }
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
            let (a, _, signature) = Self.sign(query, centre: s.centre, planes: planes)
            let admitted = Self.admittedDistances(threshold: threshold - Self.roundingTolerance, queryComponent: a)
            let kept = [UInt32](unsafeUninitializedCapacity: s.keys.count) { out, initialized in
                initialized = s.signatures.withUnsafeBufferPointer { sigs in
                    s.bins.withUnsafeBufferPointer { bins in
                        s.alive.withUnsafeBufferPointer { alive in
                            admitted.withUnsafeBufferPointer { admitted in
                                signature.withUnsafeBufferPointer { query in
                                    parrot_shortlist(sigs.baseAddress, s.keys.count, Int32(Self.signatureWords), query.baseAddress,
                                                     bins.baseAddress, alive.baseAddress, admitted.baseAddress, out.baseAddress)
                                }
                            }
                        }
                    }
                }
            }
            s.vectors.withUnsafeBufferPointer { vectors in
                for i in kept.lazy.map(Int.init) {
                    let similarity = Self.dot(query, vectors, offset: i * s.dimension)
                    if similarity >= threshold - Self.roundingTolerance { candidates.append(Match(key: s.keys[i], similarity: similarity, text: s.texts[i])) }
                }
            }
            return candidates
        }
        return candidates.sorted { $0.similarity > $1.similarity }.first { accept($0.text) }
    }

    // MARK: internals

    /// For each bin of b, the signature distance a stored vector may have and still be checked
    /// exactly: −1 when no vector of the bin can reach `threshold` (ρ > 1), `signatureBits`
    /// when the signature says nothing (a residual too short to sign reliably).
    static func admittedDistances(threshold t: Float, queryComponent a: Float) -> [Int32] {
        let n = Double(signatureBits), T = Double(t), a = Double(a)
        let qa = 1 - a * a
        func rho(_ b: Double) -> Double {
            let d = qa * (1 - b * b)
            return d <= 1e-9 ? -.infinity : (T - a * b) / d.squareRoot()
        }
        var table = [Int32](repeating: Int32(signatureBits), count: binCount)
        for k in 0..<binCount {
            let b0 = -1 + 2 * Double(k) / Double(binCount), b1 = -1 + 2 * Double(k + 1) / Double(binCount)
            // Near ±1 the residual is tiny and its signature numerically meaningless.
            if qa < 1e-4 || b0 < -0.995 || b1 > 0.995 { continue }
            var r = min(rho(b0), rho(b1))
            // ρ(b) has its only minimum at b = a/T (for T > 0).
            if T > 0, a / T > b0, a / T < b1 { r = min(r, rho(a / T)) }
            if r > 1.001 {
                table[k] = -1
            } else if r > -1 {
                let p = acos(min(1, r)) / Double.pi
                table[k] = Int32(min(signatureBits, Int((n * p + shortlistSigmas * (n * p * (1 - p)).squareRoot()).rounded(.up)) + 1))
            }
        }
        return table
    }

    static func bin(of b: Float) -> UInt16 {
        UInt16(max(0, min(binCount - 1, Int((b + 1) * Float(binCount / 2)))))
    }

    /// The vector's component along the centre, its bin, and the signature of the residual.
    private static func sign(_ unit: [Float], centre: [Float]?, planes: [Float]) -> (component: Float, bin: UInt16, signature: [UInt64]) {
        guard let centre else { return (0, bin(of: 0), signature(unit, planes: planes)) }
        let b = dot(unit, centre)
        let residual = zip(unit, centre).map { $0 - b * $1 }
        return (b, bin(of: b), signature(residual, planes: planes))
    }

    /// Fixes the scope's centre from the vectors it has and re-signs them.
    private static func fixCentre(of s: Scope, planes: [Float]) {
        var mean = [Float](repeating: 0, count: s.dimension)
        for i in 0..<s.keys.count where s.alive[i] {
            for j in 0..<s.dimension { mean[j] += s.vectors[i * s.dimension + j] }
        }
        guard let centre = normalized(mean) else { return }
        s.centre = centre
        for i in 0..<s.keys.count {
            let unit = Array(s.vectors[(i * s.dimension)..<((i + 1) * s.dimension)])
            let (_, bin, signature) = sign(unit, centre: centre, planes: planes)
            s.bins[i] = bin
            for w in 0..<signatureWords { s.signatures[i * signatureWords + w] = signature[w] }
        }
    }

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
        out.centre = s.centre
        for i in 0..<s.keys.count where s.alive[i] {
            out.positions[s.keys[i]] = out.keys.count
            out.keys.append(s.keys[i])
            out.texts.append(s.texts[i])
            out.vectors.append(contentsOf: s.vectors[(i * s.dimension)..<((i + 1) * s.dimension)])
            out.signatures.append(contentsOf: s.signatures[(i * signatureWords)..<((i + 1) * signatureWords)])
            out.bins.append(s.bins[i])
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

    static func dot(_ a: [Float], _ b: [Float]) -> Float {
        b.withUnsafeBufferPointer { dot(a, $0, offset: 0) }
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
