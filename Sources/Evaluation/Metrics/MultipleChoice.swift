/// Choosing an answer option from the log-likelihoods the caller scored for each option's continuation.
public enum MultipleChoice {
    /// Index of the option with the highest log-likelihood.
    ///
    /// - `perToken == false`: raw Σ log p over the option's tokens, lm-evaluation-harness's `acc`.
    /// - `perToken == true`: Σ log p ÷ the option's token count, so long options are not penalised for length.
    ///   This is *not* lm-eval's `acc_norm`, which divides by the continuation's length in bytes; per-token
    ///   normalisation depends on the tokenizer, byte normalisation does not.
    ///
    /// Ties go to the lowest index; NaN values are never picked (all NaN → 0). An option with no tokens cannot be
    /// normalised and keeps its raw value. Requires one token count per option and at least one option.
    public static func pick(logLikelihoods: [Double], tokenCounts: [Int], perToken: Bool) -> Int {
        precondition(!logLikelihoods.isEmpty, "multiple choice needs at least one option")
        precondition(logLikelihoods.count == tokenCounts.count,
                     "\(logLikelihoods.count) log-likelihoods but \(tokenCounts.count) token counts")
        var best = 0, bestValue = -Double.infinity, found = false
        for (i, ll) in logLikelihoods.enumerated() {
            let v = perToken && tokenCounts[i] > 0 ? ll / Double(tokenCounts[i]) : ll
            if v.isNaN { continue }
            if !found || v > bestValue { best = i; bestValue = v; found = true }
        }
        return best
    }
}
