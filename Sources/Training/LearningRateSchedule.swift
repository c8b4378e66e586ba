#if canImport(Glibc)
import Glibc
#endif

/// Learning-rate schedules, as Hugging Face transformers' `get_*_schedule_with_warmup` (the multiplier of the
/// peak rate at optimizer step `step`, counted from 0 for the first update).
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case constant, linear, cosine
    }

    public var kind: Kind
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    /// Cosine only: the floor as a fraction of the peak (transformers' `min_lr_rate`; 0 = decay to zero).
    public var minimumRatio: Double

    public init(kind: Kind, peak: Double, warmupSteps: Int = 0, totalSteps: Int, minimumRatio: Double = 0) {
        self.kind = kind
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minimumRatio = minimumRatio
    }

    /// The learning rate for the update numbered `step` (0-based).
    public func learningRate(at step: Int) -> Double { peak * multiplier(at: step) }

    public func multiplier(at step: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        switch kind {
        case .constant:
            return 1
        case .linear:
            return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            let c = 0.5 * (1 + cos(Double.pi * 2 * 0.5 * progress))
            if minimumRatio == 0 { return max(0, c) }
            return max(0, c * (1 - minimumRatio) + minimumRatio)
        }
    }
}
