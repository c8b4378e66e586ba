/// ROUGE-L F-measure with rouge-score's semantics (`rouge_scorer.RougeScorer(["rougeL"])`, default tokenizer, no
/// stemmer; rouge-score 0.1.2):
///
/// - tokens: Python `str.lower()`, then maximal runs of ASCII `[a-z0-9]` (everything else separates tokens, so
///   non-ASCII letters vanish: "café" → "caf"),
/// - LCS length `l` of the token sequences; precision `l / |prediction|`, recall `l / |reference|`,
///   F = 2PR / (P + R), 0 when either side has no tokens or there is no common token.
///
/// Bit-for-bit the same Double operations as rouge-score, so fixture values compare exactly.
public enum RougeL {
    public static func fMeasure(prediction: String, reference: String) -> Double {
        let p = tokens(prediction), r = tokens(reference)
        guard !p.isEmpty && !r.isEmpty else { return 0 }
        let lcs = lcsLength(r, p)
        let precision = Double(lcs) / Double(p.count)
        let recall = Double(lcs) / Double(r.count)
        return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }

    /// rouge-score's `DefaultTokenizer(use_stemmer=False).tokenize`.
    public static func tokens(_ text: String) -> [String] {
        var out: [String] = [], current = ""
        for c in TextNormalization.pythonLowercased(Array(text.unicodeScalars)) {
            if (c.value >= 0x61 && c.value <= 0x7A) || (c.value >= 0x30 && c.value <= 0x39) {
                current.unicodeScalars.append(c)
            } else if !current.isEmpty {
                out.append(current)
                current = ""
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// Longest common subsequence length, O(|a|·|b|) time and O(|b|) memory.
    static func lcsLength(_ a: [String], _ b: [String]) -> Int {
        var previous = [Int](repeating: 0, count: b.count + 1), row = previous
        for x in a {
            for j in 1...b.count {
                row[j] = x == b[j - 1] ? previous[j - 1] + 1 : max(row[j - 1], previous[j])
            }
            swap(&row, &previous)
        }
        return previous[b.count]
    }
}
