import Foundation

/// One plain sentence per comparison: the sentence a reader takes away.
///
/// Metric sentences (values are points = fraction × 100):
/// - significantly better (interval above 0): "The adapter beats the base on exact match by 41 points (95% CI 36 to 46)."
/// - significantly worse (interval below 0): "The adapter is worse than the base on ROUGE-L by 3.2 points (95% CI 1.1
///   to 5.0)." (difference and interval as magnitudes)
/// - otherwise: "No significant difference between the adapter and the base on valid JSON (+1.0 points, 95% CI −0.5
///   to 2.5)." (signed, model − base)
///
/// Loss sentences (nats/token; lower is better):
/// - "The adapter lowers the loss from 2.41 to 0.87 nats/token (−1.54, 95% CI −1.60 to −1.48)."
/// - "The adapter raises the loss from 2.41 to 2.55 nats/token (+0.14, 95% CI 0.09 to 0.19)."
/// - "No significant difference in loss between the adapter and the base (2.41 vs 2.43 nats/token, +0.02, 95% CI
///   −0.01 to 0.05)."
///
/// Rounding: one precision per sentence, from the largest magnitude m among the difference and the interval's ends.
/// Points: whole numbers when m ≥ 10, one decimal when 1 ≤ m < 10, two below 1 (whole numbers when everything is 0).
/// Loss: two decimals, three when m < 0.01 (so a 0.004 nats/token change is not shown as 0.00). When the interval is
/// significant and its end nearest zero would print as 0, decimals are added (up to 2 for points, 4 for loss): "by
/// 1.0 points (95% CI 0.2 to 12.0)", not "(95% CI 0 to 12)". Negative numbers use the minus sign "−"; a value that
/// rounds to zero is shown unsigned. "point" is singular only for a whole 1.
///
/// Names: a model name that is, or starts with, a generic word (base, adapter, merged, model, lora, fine-tune,
/// finetuned…, followed by "-", "_", " " or nothing) takes "the" ("the adapter-r8"; "merged" alone reads "the merged
/// model"); any other name stands alone
/// ("my-sql-lora beats the base …"), with the sentence's first letter capitalised.
///
/// The metric sentence states the difference only (the report's table shows both means beside it), so `baseMean`
/// and `modelMean` do not appear in it today; the loss sentence shows both losses.
public enum Verdict {
    public static func sentence(metric: TaskMetric, modelName: String, baseName: String, baseMean: Double, modelMean: Double,
                                interval: Bootstrap.Interval) -> String {
        let model = phrase(modelName), base = phrase(baseName)
        let d = interval.difference * 100, lo = interval.low * 100, hi = interval.high * 100
        let m = max(abs(d), abs(lo), abs(hi))
        let decimals = refined(m >= 10 ? 0 : m >= 1 ? 1 : m > 0 ? 2 : 0, interval.significant, nearest: min(abs(lo), abs(hi)), max: 2)
        let ci = confidenceLabel(interval.confidence)
        func f(_ x: Double) -> String { format(x, decimals: decimals) }
        let points = decimals == 0 && abs(d.rounded()) == 1 ? "point" : "points"
        if interval.significant && interval.low > 0 {
            return capitalized("\(model) beats \(base) on \(metric.displayName) by \(f(abs(d))) \(points) (\(ci) \(f(lo)) to \(f(hi))).")
        }
        if interval.significant && interval.high < 0 {
            return capitalized("\(model) is worse than \(base) on \(metric.displayName) by \(f(abs(d))) \(points) (\(ci) \(f(-hi)) to \(f(-lo))).")
        }
        return "No significant difference between \(model) and \(base) on \(metric.displayName) (\(signed(f(d))) \(points), \(ci) \(f(lo)) to \(f(hi)))."
    }

    public static func lossSentence(modelName: String, baseName: String, baseLoss: Double, modelLoss: Double,
                                    interval: Bootstrap.Interval) -> String {
        let model = phrase(modelName), base = phrase(baseName)
        let d = interval.difference, lo = interval.low, hi = interval.high
        let m = max(abs(d), abs(lo), abs(hi))
        let decimals = refined(m > 0 && m < 0.01 ? 3 : 2, interval.significant, nearest: min(abs(lo), abs(hi)), max: 4)
        let ci = confidenceLabel(interval.confidence)
        func f(_ x: Double) -> String { format(x, decimals: decimals) }
        let tail = "\(signed(f(d))), \(ci) \(f(lo)) to \(f(hi))"
        if interval.significant && interval.high < 0 {
            return capitalized("\(model) lowers the loss from \(f(baseLoss)) to \(f(modelLoss)) nats/token (\(tail)).")
        }
        if interval.significant && interval.low > 0 {
            return capitalized("\(model) raises the loss from \(f(baseLoss)) to \(f(modelLoss)) nats/token (\(tail)).")
        }
        return "No significant difference in loss between \(model) and \(base) (\(f(baseLoss)) vs \(f(modelLoss)) nats/token, \(tail))."
    }

    // MARK: - Pieces

    /// More decimals (up to `max`) while a significant interval's end nearest zero would print as 0, so a sentence
    /// never says "significant" next to an interval that appears to touch zero.
    static func refined(_ decimals: Int, _ significant: Bool, nearest: Double, max: Int) -> Int {
        var d = decimals
        while significant && d < max && format(nearest, decimals: d).allSatisfy({ $0 == "0" || $0 == "." }) { d += 1 }
        return d
    }

    static let genericNames: Set<String> = ["base", "adapter", "merged", "model", "lora", "qlora", "fine-tune", "finetune",
                                            "fine-tuned", "finetuned", "tuned", "baseline"]

    /// "adapter" → "the adapter", "adapter-r8" → "the adapter-r8", "merged" → "the merged model", "my-sql" → "my-sql".
    static func phrase(_ name: String) -> String {
        let lower = name.lowercased()
        if lower == "merged" { return "the merged model" }
        for g in genericNames where lower.hasPrefix(g) {
            let rest = lower.dropFirst(g.count)
            if rest.isEmpty || rest.first == "-" || rest.first == "_" || rest.first == " " { return "the \(name)" }
        }
        return name
    }

    static func capitalized(_ s: String) -> String {
        guard let first = s.first else { return s }
        return first.uppercased() + s.dropFirst()
    }

    /// "95% CI", "99.5% CI".
    static func confidenceLabel(_ c: Double) -> String {
        let percent = (c * 100 * 1000).rounded() / 1000
        return String(format: "%g%% CI", percent)
    }

    /// Fixed decimals, "−" for negatives, no sign on a value that rounds to zero.
    static func format(_ x: Double, decimals: Int) -> String {
        var s = String(format: "%.\(decimals)f", x)
        if s.hasPrefix("-") {
            if s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) { s.removeFirst() } else { s = "\u{2212}" + s.dropFirst() }
        }
        return s
    }

    /// Adds "+" to a positive formatted number ("1.0" → "+1.0"); zero and negatives unchanged.
    static func signed(_ s: String) -> String {
        s.hasPrefix("\u{2212}") || s.allSatisfy({ $0 == "0" || $0 == "." }) ? s : "+" + s
    }
}
