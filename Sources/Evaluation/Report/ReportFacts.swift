import Foundation

/// Numbers the report shows that are not stored in report.json but derived from it (per-example loss deltas,
/// their histogram, the order of headline sentences), in one place so report.md and report.html agree and a
/// reader can recompute each from the json.
enum ReportFacts {
    // MARK: - Comparisons

    /// Comparisons in reading order: by model, loss first, then metrics in `metricNames` order, then any other.
    static func orderedComparisons(_ r: EvaluationReport) -> [EvaluationReport.Comparison] {
        func rank(_ metric: String) -> Int {
            if metric == "loss" { return -1 }
            return r.metricNames.firstIndex(of: metric) ?? r.metricNames.count
        }
        return r.comparisons.enumerated().sorted { a, b in
            (a.element.model, rank(a.element.metric), a.offset) < (b.element.model, rank(b.element.metric), b.offset)
        }.map(\.element)
    }

    static func comparison(_ r: EvaluationReport, model: Int, metric: String) -> EvaluationReport.Comparison? {
        r.comparisons.first { $0.model == model && $0.metric == metric }
    }

    /// A model's display name, or "model N" when the index is out of range (a hand-edited file).
    static func modelName(_ r: EvaluationReport, _ m: Int) -> String {
        r.models.indices.contains(m) ? r.models[m].name : "model \(m)"
    }

    // MARK: - Per-example loss deltas

    /// One example's mean loss per supervised token under model `m` minus the baseline's (nats/token), or nil
    /// when either model scored no supervised tokens there (or the scores are missing).
    static func lossDelta(_ e: EvaluationReport.ExampleResult, model m: Int) -> Double? {
        guard e.scores.count > max(m, 0), m > 0, e.scores[0].tokens > 0, e.scores[m].tokens > 0 else { return nil }
        return e.scores[m].meanLoss - e.scores[0].meanLoss
    }

    /// The deltas of every example with a finite delta for model `m`, in data order, and how many were left out.
    static func lossDeltas(_ r: EvaluationReport, model m: Int) -> (values: [Double], leftOut: Int) {
        var values: [Double] = []
        for e in r.examples {
            if let d = lossDelta(e, model: m), d.isFinite { values.append(d) }
        }
        return (values, r.examples.count - values.count)
    }

    struct DeltaSummary {
        var count: Int
        var improved: Int
        var worsened: Int
        var median: Double
    }

    static func deltaSummary(_ values: [Double]) -> DeltaSummary? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let n = sorted.count
        let median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        return DeltaSummary(count: n, improved: values.filter { $0 < 0 }.count, worsened: values.filter { $0 > 0 }.count,
                            median: median)
    }

    // MARK: - Histogram

    /// Bins `[edges[i], edges[i+1])` (the last one closed), with 0 always on an edge so "better" and "worse" never
    /// share a bin. `counts` sums to the number of values.
    struct Histogram: Equatable {
        var edges: [Double]
        var counts: [Int]
        var width: Double { edges.count > 1 ? edges[1] - edges[0] : 0 }
    }

    /// A histogram of `values` over `lo...hi` (widened to include 0 and every value) with a "nice" bin width
    /// (1, 2, 2.5 or 5 × 10^k) giving about `sqrt(n)` bins, at least 8 and at most 24.
    static func histogram(_ values: [Double], lo: Double? = nil, hi: Double? = nil) -> Histogram {
        var low = min(lo ?? 0, values.min() ?? 0, 0)
        var high = max(hi ?? 0, values.max() ?? 0, 0)
        if high - low <= 0 { low = -0.05; high = 0.05 }
        let target = Double(min(24, max(8, Int(Double(values.count).squareRoot().rounded()))))
        // Rounded down, so there are at least `target` bins.
        let width = niceStep((high - low) / target, roundingDown: true)
        let first = (low / width).rounded(.down)
        var last = (high / width).rounded(.up)
        if last <= first { last = first + 1 }
        let bins = Int(last - first)
        // Edges rounded to 12 significant digits (0.3, not 0.30000000000000004); each value then goes to the bin
        // whose shown edges hold it, whatever the division rounded to.
        let edges = (0...bins).map { k -> Double in
            let e = (first + Double(k)) * width
            return e == 0 ? 0 : Double(String(format: "%.12g", e)) ?? e
        }
        var counts = [Int](repeating: 0, count: bins)
        for v in values {
            var i = min(max(Int(((v / width) - first).rounded(.down)), 0), bins - 1)
            while i > 0 && v < edges[i] { i -= 1 }
            while i < bins - 1 && v >= edges[i + 1] { i += 1 }
            counts[i] += 1
        }
        return Histogram(edges: edges, counts: counts)
    }

    /// The smallest of 1, 2, 2.5, 5 × 10^k not below `raw` (or the largest not above it).
    static func niceStep(_ raw: Double, roundingDown: Bool = false) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let p = pow(10, (log10(raw)).rounded(.down))
        if roundingDown {
            for m in [10.0, 5, 2.5, 2, 1] where m * p <= raw * (1 + 1e-12) { return m * p }
            return p
        }
        for m in [1.0, 2, 2.5, 5, 10] where m * p >= raw * (1 - 1e-12) { return m * p }
        return 10 * p
    }

    /// About `count` evenly spaced round values covering `lo...hi`: (first tick, step, ticks).
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> (lo: Double, hi: Double, step: Double, values: [Double]) {
        var a = lo, b = hi
        if !(b > a) { a -= 0.5 * max(abs(a), 1); b += 0.5 * max(abs(b), 1) }
        let step = niceStep((b - a) / Double(max(1, count)))
        let start = (a / step).rounded(.down) * step
        let end = (b / step).rounded(.up) * step
        var values: [Double] = []
        var k = 0
        while true {
            let v = start + Double(k) * step
            if v > end + step * 1e-9 { break }
            values.append(abs(v) < step * 1e-9 ? 0 : v)
            k += 1
        }
        return (start, end, step, values)
    }
}
