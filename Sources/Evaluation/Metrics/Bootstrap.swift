import Tensors

/// Paired percentile bootstrap over examples: how sure can we be that a model's mean differs from the base's on the
/// same examples?
///
/// Each resample draws n example indices with replacement, the *same* indices for both models (the pairing removes
/// the between-example variance both models share), and computes the statistic on them. The interval is the
/// (1 − c)/2 and (1 + c)/2 quantiles of the resampled statistics, NumPy's default `np.quantile(method="linear")`.
///
/// Indices are drawn exactly as NumPy's `Generator(PCG64).integers(0, n, size=n)` draws them, once per resample, from
/// one `Tensors.RandomGenerator(seed:)` (NumPy's PCG64 stream for the same state; Whittle's seeding, not NumPy's
/// SeedSequence): 32-bit halves of each 64-bit output (low half first, the high half kept for the next draw) mapped
/// to [0, n) by Lemire's multiply-and-reject. Sums run left to right over the drawn indices in Double. So the
/// generator in Tests/Reference reproduces every interval to the last bit.
///
/// Requirements (caller's duty, checked by `precondition`): equal lengths, `resamples ≥ 1`, `0 < confidence < 1`,
/// fewer than 2³² examples. With no examples every number is 0 and nothing is significant.
public enum Bootstrap {
    public struct Interval: Sendable, Equatable {
        /// The statistic on the data as given: mean(model) − mean(base) (loss: difference of token-weighted means).
        public var difference: Double
        /// The percentile interval of the resampled statistic.
        public var low: Double
        public var high: Double
        public var confidence: Double
        public var resamples: Int
        /// The interval excludes 0 (`low > 0 || high < 0`).
        public var significant: Bool
        public init(difference: Double, low: Double, high: Double, confidence: Double, resamples: Int, significant: Bool) {
            self.difference = difference
            self.low = low
            self.high = high
            self.confidence = confidence
            self.resamples = resamples
            self.significant = significant
        }
    }

    /// Per-example values aligned (same examples). Statistic: mean(model) − mean(base) over the resampled examples.
    public static func pairedDifference(base: [Double], model: [Double], resamples: Int = 2000, confidence: Double = 0.95,
                                        seed: UInt64 = 0) -> Interval {
        precondition(base.count == model.count, "paired bootstrap needs aligned values: \(base.count) base, \(model.count) model")
        let n = base.count
        func statistic(_ indices: [Int]) -> Double {
            var b = 0.0, m = 0.0
            for i in indices { b += base[i]; m += model[i] }
            return m / Double(n) - b / Double(n)
        }
        return interval(count: n, resamples: resamples, confidence: confidence, seed: seed, statistic: statistic)
    }

    /// Token-weighted variant for loss: per-example (lossSum, tokens) pairs; the statistic on each resample is
    /// Σ modelLossSum / Σ modelTokens − Σ baseLossSum / Σ baseTokens over the resampled examples (a side with no
    /// tokens in a resample counts as loss 0, as `ExampleScore.meanLoss` does).
    public static func pairedLossDifference(base: [(lossSum: Double, tokens: Int)], model: [(lossSum: Double, tokens: Int)],
                                            resamples: Int = 2000, confidence: Double = 0.95, seed: UInt64 = 0) -> Interval {
        precondition(base.count == model.count, "paired bootstrap needs aligned values: \(base.count) base, \(model.count) model")
        func statistic(_ indices: [Int]) -> Double {
            var bl = 0.0, ml = 0.0, bt = 0, mt = 0
            for i in indices {
                bl += base[i].lossSum; bt += base[i].tokens
                ml += model[i].lossSum; mt += model[i].tokens
            }
            return (mt == 0 ? 0 : ml / Double(mt)) - (bt == 0 ? 0 : bl / Double(bt))
        }
        return interval(count: base.count, resamples: resamples, confidence: confidence, seed: seed, statistic: statistic)
    }

    // MARK: - Machinery

    static func interval(count n: Int, resamples: Int, confidence: Double, seed: UInt64,
                         statistic: ([Int]) -> Double) -> Interval {
        precondition(resamples >= 1, "bootstrap needs at least one resample, got \(resamples)")
        precondition(confidence > 0 && confidence < 1, "confidence must lie in (0, 1), got \(confidence)")
        precondition(n < 1 << 32, "bootstrap draws 32-bit indices; \(n) examples are too many")
        guard n > 0 else {
            return Interval(difference: 0, low: 0, high: 0, confidence: confidence, resamples: resamples, significant: false)
        }
        let difference = statistic(Array(0..<n))
        var draws = IndexDraws(seed: seed)
        var stats = [Double](repeating: 0, count: resamples)
        var indices = [Int](repeating: 0, count: n)
        for r in 0..<resamples {
            for k in 0..<n { indices[k] = draws.next(below: n) }
            stats[r] = statistic(indices)
        }
        stats.sort()
        let alpha = (1 - confidence) / 2
        let low = quantile(sorted: stats, alpha), high = quantile(sorted: stats, 1 - alpha)
        return Interval(difference: difference, low: low, high: high, confidence: confidence, resamples: resamples,
                        significant: low > 0 || high < 0)
    }

    /// NumPy's `np.quantile(a, q, method="linear")` on sorted values, with its exact arithmetic: virtual index
    /// (n − 1)·q, and `_lerp`'s two-sided form (b − (b − a)(1 − t) when t ≥ 0.5).
    static func quantile(sorted a: [Double], _ q: Double) -> Double {
        let n = a.count
        let v = Double(n - 1) * q
        if v >= Double(n - 1) { return a[n - 1] }
        if v < 0 { return a[0] }
        let lo = Int(v.rounded(.down))
        let t = v - Double(lo)
        let x = a[lo], y = a[lo + 1]
        let d = y - x
        return t >= 0.5 ? y - d * (1 - t) : x + d * t
    }

    /// NumPy's `Generator.integers(0, n)` for n ≤ 2³² on PCG64 (`random_bounded_uint64_fill` → 32-bit path):
    /// `buffered_bounded_lemire_uint32` over `pcg64_next32`, whose spare high half survives between calls.
    struct IndexDraws {
        var rng: RandomGenerator
        var spare: UInt32? = nil

        init(seed: UInt64) { rng = RandomGenerator(seed: seed) }

        mutating func next32() -> UInt32 {
            if let s = spare { spare = nil; return s }
            let v = rng.next()
            spare = UInt32(truncatingIfNeeded: v >> 32)
            return UInt32(truncatingIfNeeded: v)
        }

        /// Uniform in [0, n); n == 1 draws nothing (NumPy's rng == 0 shortcut).
        mutating func next(below n: Int) -> Int {
            if n == 1 { return 0 }
            let range = UInt64(n)
            var m = UInt64(next32()) * range
            var leftover = UInt32(truncatingIfNeeded: m)
            if UInt64(leftover) < range {
                let threshold = UInt32((UInt64(1) << 32 - range) % range)
                while leftover < threshold {
                    m = UInt64(next32()) * range
                    leftover = UInt32(truncatingIfNeeded: m)
                }
            }
            return Int(m >> 32)
        }
    }
}
