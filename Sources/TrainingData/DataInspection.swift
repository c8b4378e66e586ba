import Foundation
import Tokenization

/// What `whittle data inspect` shows: counts, the token-length distribution, truncation, the supervised share,
/// and examples with trained and masked tokens marked.
public struct DataInspection: Sendable {
    public var files: [String]
    public var records: Int
    public var summary: PreparationSummary
    public var lengths: [Int]
    public var maxLength: Int
    public var samples: [TokenizedExample]

    public init(files: [String], records: Int, summary: PreparationSummary, examples: [TokenizedExample], maxLength: Int, show: Int) {
        self.files = files
        self.records = records
        self.summary = summary
        lengths = examples.map(\.tokens.count).sorted()
        self.maxLength = maxLength
        samples = Array(examples.prefix(show))
    }

    /// The `p`-th percentile of example lengths (nearest rank).
    public func percentile(_ p: Double) -> Int {
        guard !lengths.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(lengths.count)).rounded(.up)) - 1
        return lengths[min(max(rank, 0), lengths.count - 1)]
    }

    /// A text report. With `color`, trained tokens are green and masked ones dim; otherwise trained runs are
    /// wrapped in ⟦ ⟧.
    public func render(tokenizer: Tokenizer, color: Bool) -> String {
        var out: [String] = []
        out.append("data: " + files.joined(separator: ", "))
        out.append("records \(records) · examples \(summary.examples) · truncated \(summary.truncated) · "
                   + "dropped (too long) \(summary.droppedTooLong) · dropped (nothing supervised) \(summary.droppedUnsupervised)")
        let share = summary.totalTokens == 0 ? 0 : Double(summary.supervisedTokens) / Double(summary.totalTokens) * 100
        out.append("tokens \(summary.totalTokens) · supervised \(summary.supervisedTokens) (\(String(format: "%.1f", share))%)")
        out.append("length in tokens: p50 \(percentile(50)) · p90 \(percentile(90)) · p99 \(percentile(99)) · "
                   + "max \(lengths.last ?? 0) · limit \(maxLength)")
        out.append(contentsOf: histogram())
        for (i, e) in samples.enumerated() {
            out.append("")
            out.append("example \(i + 1) (\(e.place)), \(e.tokens.count) tokens, \(e.supervisedCount) supervised:")
            out.append(marked(e, tokenizer: tokenizer, color: color))
        }
        if !color && !samples.isEmpty { out.append("\n(⟦ ⟧ marks trained tokens; everything else is context the loss ignores)") }
        return out.joined(separator: "\n")
    }

    func histogram(bins: Int = 8) -> [String] {
        guard let top = lengths.last, top > 0 else { return [] }
        let width = max(1, Int((Double(top) / Double(bins)).rounded(.up)))
        var counts = [Int](repeating: 0, count: bins)
        for l in lengths { counts[min(bins - 1, (l - 1) / width)] += 1 }
        let most = counts.max() ?? 1
        return counts.enumerated().map { b, c in
            let label = "\(b * width + 1)–\((b + 1) * width)".padding(toLength: 12, withPad: " ", startingAt: 0)
            return "  " + label + String(repeating: "█", count: most == 0 ? 0 : Int((Double(c) / Double(most) * 40).rounded(.up))) + " \(c)"
        }
    }

    func marked(_ e: TokenizedExample, tokenizer: Tokenizer, color: Bool) -> String {
        var text = ""
        var start = 0
        while start < e.tokens.count {
            var end = start
            while end < e.tokens.count && e.trained[end] == e.trained[start] { end += 1 }
            let piece = tokenizer.decode(e.tokens[start..<end].map(Int.init))
            if e.trained[start] {
                text += color ? "\u{1B}[32m" + piece + "\u{1B}[0m" : "⟦" + piece + "⟧"
            } else {
                text += color ? "\u{1B}[2m" + piece + "\u{1B}[0m" : piece
            }
            start = end
        }
        return text
    }
}
