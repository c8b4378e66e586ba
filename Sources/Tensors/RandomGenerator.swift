#if canImport(Glibc)
import Glibc
#endif

/// A seeded PCG64 generator (PCG-XSL-RR 128/64, the stream of NumPy's `PCG64` for the same state and
/// increment) whose whole state can be saved and restored, so a resumed run draws the same numbers as an
/// uninterrupted one. Keep one generator per purpose (init, LoRA A, dropout, shuffle, sampling).
/// Not cryptographic, and not PyTorch's stream (fixtures carry their own weights).
public struct RandomGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The generator's complete state: the 128-bit LCG state and its odd increment, as (high, low) words.
    public struct State: Codable, Sendable, Equatable {
        public var stateHigh: UInt64, stateLow: UInt64, incrementHigh: UInt64, incrementLow: UInt64
        public init(stateHigh: UInt64, stateLow: UInt64, incrementHigh: UInt64, incrementLow: UInt64) {
            self.stateHigh = stateHigh; self.stateLow = stateLow
            self.incrementHigh = incrementHigh; self.incrementLow = incrementLow
        }
    }

    private var s: UInt128
    private let inc: UInt128
    private static let multiplier: UInt128 = 0x2360_ED05_1FC6_5DA4_4385_DF64_9FCC_F645

    /// Derives state and increment from `seed` with SplitMix64 (Whittle's own seeding; NumPy's SeedSequence differs).
    public init(seed: UInt64) {
        var sm = seed
        func splitMix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let a = splitMix(), b = splitMix(), c = splitMix(), d = splitMix()
        s = UInt128(a) << 64 | UInt128(b)
        inc = UInt128(c) << 64 | UInt128(d) | 1
    }

    /// Restores a saved state; the increment must be odd (nil otherwise).
    public init?(state: State) {
        guard state.incrementLow & 1 == 1 else { return nil }
        s = UInt128(state.stateHigh) << 64 | UInt128(state.stateLow)
        inc = UInt128(state.incrementHigh) << 64 | UInt128(state.incrementLow)
    }

    public var state: State {
        State(stateHigh: UInt64(truncatingIfNeeded: s >> 64), stateLow: UInt64(truncatingIfNeeded: s),
              incrementHigh: UInt64(truncatingIfNeeded: inc >> 64), incrementLow: UInt64(truncatingIfNeeded: inc))
    }

    /// Advances the LCG, then outputs the XSL-RR permutation of the new state (NumPy's order).
    public mutating func next() -> UInt64 {
        s = s &* Self.multiplier &+ inc
        let high = UInt64(truncatingIfNeeded: s >> 64), low = UInt64(truncatingIfNeeded: s)
        let x = high ^ low
        let rot = high >> 58
        return x >> rot | x << ((64 &- rot) & 63)
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
