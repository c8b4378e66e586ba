/// An example as token ids with a per-token training flag (the loss mask), and where it came from.
///
/// `trained[i]` says whether token `i` is a target: the model, having read tokens `0..<i`, is scored on
/// predicting token `i` (Hugging Face's `labels[i] != -100`). Token 0 is never a target.
public struct TokenizedExample: Sendable, Equatable {
    public var tokens: [Int32]
    public var trained: [Bool]
    public var file: String
    public var line: Int

    public init(tokens: [Int32], trained: [Bool], file: String = "", line: Int = 0) {
        precondition(tokens.count == trained.count, "tokens (\(tokens.count)) and mask (\(trained.count)) differ in length")
        self.tokens = tokens
        self.trained = trained
        self.file = file
        self.line = line
    }

    /// Targets the loss will see: trained tokens after the first position.
    public var supervisedCount: Int { trained.dropFirst().lazy.filter { $0 }.count }
    public var place: String { line > 0 ? "\(file):\(line)" : file }
}

/// A batch the model consumes: B rows of T positions, with everything packing needs to stay contamination-free.
///
/// - `inputs[b·T + t]`: the token read at position t (padding: `padID`).
/// - `targets[b·T + t]`: the token to predict from position t, or −1 for no loss (padding, masked tokens, and the
///   last position of every document, so a packed document never predicts the next one's first token).
/// - `positions[b·T + t]`: the position id, restarting at 0 for every document (RoPE / learned positions).
/// - `segmentStarts[b·T + t]`: the first position of t's document in its row. Attention is causal and
///   block-diagonal: position t may attend to keys `segmentStarts[t]…t` only.
public struct TokenBatch: Sendable, Equatable {
    public var batchSize: Int
    public var length: Int
    public var inputs: [Int32]
    public var targets: [Int32]
    public var positions: [Int32]
    public var segmentStarts: [Int32]
    /// Σ of targets ≠ −1: the denominator of the token-weighted loss (summed over accumulation micro-batches,
    /// so batch 8 × 1 equals 1 × 8).
    public var supervisedTokens: Int
    /// Examples in the batch, by source place, for error messages and reports.
    public var sources: [String]

    public static let ignore: Int32 = -1
}

/// What to do with an example longer than the maximum length.
public enum TruncationPolicy: String, Sendable, Codable, CaseIterable {
    /// Keep the first tokens (drop the end).
    case keepStart = "keep_start"
    /// Keep the last tokens (drop the beginning; a chat keeps its final answer).
    case keepEnd = "keep_end"
    /// Do not truncate: the example is an error, or dropped and counted when the recipe allows it.
    case drop
}

/// What to do with an example that cannot train (nothing supervised after truncation, or too long under `drop`).
public enum UnusableExamplePolicy: String, Sendable, Codable {
    /// Stop with an error naming file:line (the default: fail closed).
    case error
    /// Leave it out and count it in the summary (only when the recipe says so explicitly).
    case dropAndCount = "drop_and_count"
}

/// Summary of preparing examples: what was truncated or dropped, so nothing is lost silently.
public struct PreparationSummary: Sendable, Equatable {
    public var examples = 0
    public var truncated = 0
    public var droppedTooLong = 0
    public var droppedUnsupervised = 0
    public var supervisedTokens = 0
    public var totalTokens = 0
    public init() {}
}

/// Applies the length limit and the fail-closed checks to one example.
public enum SequencePreparation {
    public static func prepare(_ examples: [TokenizedExample], maxLength: Int, truncation: TruncationPolicy,
                               unusable: UnusableExamplePolicy = .error) throws(DataError)
        -> (examples: [TokenizedExample], summary: PreparationSummary) {
        var out: [TokenizedExample] = []
        var summary = PreparationSummary()
        for e in examples {
            if let kept = try prepareOne(e, maxLength: maxLength, truncation: truncation, unusable: unusable, summary: &summary) {
                out.append(kept)
            }
        }
        return (out, summary)
    }

    /// One example through the length policy and the checks; nil when it is dropped (and counted in `summary`).
    public static func prepareOne(_ example: TokenizedExample, maxLength: Int, truncation: TruncationPolicy,
                                  unusable: UnusableExamplePolicy, summary: inout PreparationSummary) throws(DataError)
        -> TokenizedExample? {
        precondition(maxLength >= 2, "a sequence needs at least 2 positions")
        var e = example
        if e.supervisedCount == 0 {
            if unusable == .dropAndCount { summary.droppedUnsupervised += 1; return nil }
            throw DataError(.badValue, file: e.file, line: e.line,
                            "the example has no supervised tokens (nothing to learn; with a chat or completion format, "
                            + "check that the response is not empty)")
        }
        if e.tokens.count > maxLength {
            switch truncation {
            case .drop:
                if unusable == .dropAndCount { summary.droppedTooLong += 1; return nil }
                throw DataError(.badValue, file: e.file, line: e.line,
                                "the example has \(e.tokens.count) tokens, more than max_length \(maxLength), and truncation is 'drop'")
            case .keepStart:
                e.tokens.removeLast(e.tokens.count - maxLength)
                e.trained.removeLast(e.trained.count - maxLength)
            case .keepEnd:
                e.tokens.removeFirst(e.tokens.count - maxLength)
                e.trained.removeFirst(e.trained.count - maxLength)
            }
            summary.truncated += 1
            if e.supervisedCount == 0 {
                if unusable == .dropAndCount { summary.droppedUnsupervised += 1; return nil }
                throw DataError(.badValue, file: e.file, line: e.line,
                                "truncating to max_length \(maxLength) (\(truncation.rawValue)) removes every supervised token; "
                                + "raise max_length or use truncation keep_end")
            }
        }
        summary.examples += 1
        summary.supervisedTokens += e.supervisedCount
        summary.totalTokens += e.tokens.count
        return e
    }
}
