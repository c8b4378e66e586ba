#if canImport(Glibc)
import Glibc
#endif

/// A seeded xoshiro256** generator whose whole state can be saved and restored, so a resumed run draws the
/// same numbers as an uninterrupted one. Keep one generator per purpose (init, LoRA A, dropout, shuffle,
/// sampling). Not cryptographic; not PyTorch's stream (fixtures carry their own weights).
public struct RandomGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The generator's complete state: four 64-bit words, never all zero.
    public struct State: Codable, Sendable, Equatable {
        public var words: [UInt64]
        public init(words: [UInt64]) { self.words = words }
    }

    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Seeds the state with SplitMix64 from `seed` (as xoshiro's authors recommend).
    public init(seed: UInt64) {
        var sm = seed
        func splitMix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// Restores a saved state. Fails on a state that is not four words or is all zero.
    public init?(state: State) {
        guard state.words.count == 4, state.words.contains(where: { $0 != 0 }) else { return nil }
        s0 = state.words[0]; s1 = state.words[1]; s2 = state.words[2]; s3 = state.words[3]
    }

    public var state: State { State(words: [s0, s1, s2, s3]) }

    @inlinable
    public mutating func next() -> UInt64 { nextWord() }

    @usableFromInline
    mutating func nextWord() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * uniform() }

    /// Standard normal by Box–Muller (one value per two uniforms, no cached spare, so the state says it all).
    public mutating func normal(mean: Double = 0, std: Double = 1) -> Double {
        let u1 = 1 - uniform()          // (0, 1]
        let u2 = uniform()
        return mean + std * (-2 * Glibc.log(u1)).squareRoot() * Glibc.cos(2 * Double.pi * u2)
    }

    // MARK: - Fills

    /// Fills `t` with uniform values in [low, high).
    public mutating func fillUniform(_ t: inout Tensor, low: Double, high: Double) {
        t.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(uniform(low, high)) } }
    }

    /// Fills `t` with normal values.
    public mutating func fillNormal(_ t: inout Tensor, mean: Double = 0, std: Double = 1) {
        t.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Float(normal(mean: mean, std: std)) } }
    }

    /// PyTorch's `kaiming_uniform_(w, a)` for a weight with `fanIn` inputs (leaky-ReLU gain): uniform in
    /// ±√(6 / ((1 + a²)·fanIn)). PEFT initialises LoRA A with `a = √5`, giving ±1/√fanIn.
    public mutating func fillKaimingUniform(_ t: inout Tensor, fanIn: Int, a: Double = 5.0.squareRoot()) {
        precondition(fanIn > 0, "Kaiming init needs a positive fan-in, got \(fanIn)")
        let bound = Self.kaimingUniformBound(fanIn: fanIn, a: a)
        fillUniform(&t, low: -bound, high: bound)
    }

    /// The bound of `fillKaimingUniform`: `gain·√(3/fanIn)` with `gain = √(2/(1 + a²))`.
    public static func kaimingUniformBound(fanIn: Int, a: Double) -> Double {
        (2 / (1 + a * a)).squareRoot() * (3 / Double(fanIn)).squareRoot()
    }
}
