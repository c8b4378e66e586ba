import Foundation
import Testing
@testable import Evaluation
import TestSupport

/// Task metrics against references no one here wrote: the official SQuAD v1.1 functions, rouge-score, lm-eval's
/// GSM8K regexes, Python's `json.loads` and `re.search` (fixtures by Tests/Reference/gen_metrics.py).
@Suite struct MetricsTests {
    static func spec(_ text: String) -> MetricSpec { try! MetricSpec(parsing: text) }   // test inputs, known-good

    @Test func textMetricsMatchSQuADAndRougeScore() throws {
        let f = try loadFixture("metrics/text.json")
        let cases = f["cases"].array
        #expect(cases.count > 250)
        let em = Self.spec("exact_match"), f1 = Self.spec("token_f1"), contains = Self.spec("contains"), rouge = Self.spec("rouge_l")
        for (i, c) in cases.enumerated() {
            let p = c["prediction"].string, r = c["reference"].string
            let what = "case \(i) prediction \(p.debugDescription) reference \(r.debugDescription)"
            // Code point by code point (Swift's String == would accept canonically equivalent text).
            #expect(Array(TextNormalization.squad(p).unicodeScalars) == Array(c["normalized_prediction"].string.unicodeScalars),
                    "\(what): normalised prediction \(TextNormalization.squad(p).debugDescription)")
            #expect(Array(TextNormalization.squad(r).unicodeScalars) == Array(c["normalized_reference"].string.unicodeScalars),
                    "\(what): normalised reference \(TextNormalization.squad(r).debugDescription)")
            #expect(RougeL.tokens(p) == c["rouge_tokens_prediction"].array.map(\.string), "\(what): rouge-score tokens")
            // Exact Double equality: the same operations in the same order as the Python functions.
            #expect(try em.score(prediction: p, reference: r) == c["exact_match"].double, "\(what): exact match")
            #expect(try f1.score(prediction: p, reference: r) == c["token_f1"].double, "\(what): token F1")
            #expect(try contains.score(prediction: p, reference: r) == c["contains"].double, "\(what): contains")
            #expect(try rouge.score(prediction: p, reference: r) == c["rouge_l"].double, "\(what): ROUGE-L")
        }
    }

    @Test func numericAnswersFollowLmEvalGSM8K() throws {
        let f = try loadFixture("metrics/numbers.json")
        for c in f["cases"].array {
            let text = c["text"].string
            var want: String? = c["answer"].string
            if case .null = c["answer"] { want = nil }
            #expect(NumberExtraction.answer(in: text) == want, "answer in \(text.debugDescription)")
        }
        let numeric = Self.spec("numeric")
        #expect(try numeric.score(prediction: "So she has 12.0 apples.", reference: "3 * 4 = 12\n#### 12") == 1)
        #expect(try numeric.score(prediction: "The total is $1,200", reference: "#### 1200") == 1)
        #expect(try numeric.score(prediction: "#### 13", reference: "#### 12") == 0)
        #expect(try numeric.score(prediction: "no idea", reference: "#### 12") == 0)
        #expect(try numeric.score(prediction: "-0.50", reference: "-.5") == 1)
        #expect(throws: MetricError.referenceWithoutNumber("twelve")) { try numeric.score(prediction: "12", reference: "twelve") }
    }

    @Test func jsonValidityMatchesPythonStrict() throws {
        let f = try loadFixture("metrics/json.json")
        let json = Self.spec("json_valid")
        var pythonLenient = 0
        for c in f["cases"].array {
            let text = c["text"].string
            guard case .bool(let valid) = c["valid"], case .bool(let lenient) = c["python_default"] else {
                Issue.record("fixture case without booleans: \(text.debugDescription)")
                continue
            }
            #expect(try json.score(prediction: text, reference: "") == (valid ? 1 : 0), "json_valid of \(text.debugDescription)")
            if lenient && !valid { pythonLenient += 1 }
        }
        // The cases where Python's default (NaN / Infinity allowed) and RFC 8259 disagree are in the fixture.
        #expect(pythonLenient >= 4)
    }

    @Test func jsonFieldsMatchesPythonReference() throws {
        let f = try loadFixture("metrics/json_fields.json")
        let spec = Self.spec("json_fields")
        var partial = 0
        for c in f["cases"].array {
            let p = c["prediction"].string, r = c["reference"].string, expected = c["score"].double
            #expect(try spec.score(prediction: p, reference: r) == expected, "json_fields of \(p.debugDescription) vs \(r.debugDescription)")
            if expected > 0 && expected < 1 { partial += 1 }
        }
        #expect(partial >= 5, "the fixture has partial-credit cases")
        #expect(throws: MetricError.referenceNotJSONObject("[1]")) { try spec.score(prediction: "{}", reference: "[1]") }
        #expect(throws: MetricError.referenceNotJSONObject("not json")) { try spec.score(prediction: "{}", reference: "not json") }
    }

    /// Python's json raises RecursionError near a thousand levels; the validator keeps an explicit stack instead, so a
    /// model that emits 100 000 brackets costs a linear scan, not a crash.
    @Test func deepNestingIsSafe() {
        let depth = 100_000
        #expect(StrictJSON.isValid(String(repeating: "[", count: depth) + String(repeating: "]", count: depth)))
        #expect(!StrictJSON.isValid(String(repeating: "[", count: depth) + String(repeating: "]", count: depth - 1)))
        #expect(StrictJSON.isValid(String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)))
        #expect(!StrictJSON.isValid(String(repeating: "[{", count: 1000) + String(repeating: "]}", count: 1000)))
    }

    @Test func regexSearchMatchesPython() throws {
        let f = try loadFixture("metrics/regex.json")
        for c in f["cases"].array {
            guard case .bool(let match) = c["match"] else { continue }
            let spec = try MetricSpec(metric: .regex, pattern: c["pattern"].string)
            #expect(try spec.score(prediction: c["text"].string, reference: "ignored") == (match ? 1 : 0),
                    "re.search(\(c["pattern"].string.debugDescription), \(c["text"].string.debugDescription))")
        }
    }

    // MARK: - Names and errors

    @Test func metricNamesAndProperties() throws {
        #expect(TaskMetric.allCases.map(\.rawValue) == ["exact_match", "numeric", "regex", "contains", "multiple_choice",
                                                        "json_valid", "json_fields", "token_f1", "rouge_l"])
        #expect(TaskMetric.allCases.map(\.displayName) == ["exact match", "numeric answer", "regex match", "contains",
                                                           "multiple choice", "valid JSON", "JSON fields", "token F1", "ROUGE-L"])
        #expect(TaskMetric.allCases.filter { !$0.needsGeneration } == [.multipleChoice])
        let regex = try MetricSpec(parsing: "regex=^SELECT .*$")
        #expect(regex.metric == .regex && regex.pattern == "^SELECT .*$" && regex.name == "regex" && regex.text == "regex=^SELECT .*$")
        // The pattern is everything after the first "=", verbatim.
        #expect(try MetricSpec(parsing: "regex=a=b ").pattern == "a=b ")
        #expect(try MetricSpec(parsing: "token_f1") == MetricSpec(metric: .tokenF1))
    }

    @Test func parsingErrorsSayWhatAndSuggest() throws {
        func error(_ text: String) -> MetricError? {
            do { _ = try MetricSpec(parsing: text); return nil } catch { return error }
        }
        #expect(error("exact-match") == .unknownMetric("exact-match", suggestion: "exact_match"))
        #expect(error("ExactMatch") == .unknownMetric("ExactMatch", suggestion: "exact_match"))
        #expect(error("rouge") == .unknownMetric("rouge", suggestion: "rouge_l"))
        #expect(error("json") == .unknownMetric("json", suggestion: "json_valid"))
        #expect(error("f1") == .unknownMetric("f1", suggestion: "token_f1"))
        #expect(error("Regex") == .unknownMetric("Regex", suggestion: "regex"))
        #expect(error("bleu") == .unknownMetric("bleu", suggestion: nil))
        let message = error("exact-match")!.description
        #expect(message.contains("'exact-match'") && message.contains("did you mean 'exact_match'?") && message.contains("rouge_l"), "\(message)")
        #expect(error("regex") == .missingPattern)
        #expect(error("regex=") == .missingPattern)
        #expect(error("regex").map { "\($0)" }?.contains("regex=PATTERN") == true)
        #expect(error("exact_match=x") == .unexpectedPattern(metric: "exact_match", pattern: "x"))
        #expect(error("regex=(unclosed") == .badPattern("(unclosed"))
        #expect(error("regex=(unclosed")!.description.hasPrefix("regex pattern '(unclosed' does not compile"))
        for bad in ["[a-", "*a", "a{2,1}", "(?<name"] {
            #expect(error("regex=\(bad)") != nil, "pattern \(bad) must not compile")
        }
        #expect(throws: MetricError.notTextMetric("multiple_choice")) {
            try MetricSpec(metric: .multipleChoice).score(prediction: "A", reference: "A")
        }
    }

    @Test func listsRefuseDuplicates() throws {
        #expect(try MetricSpec.parseAll(["exact_match", "regex=x{2,3}", "rouge_l"]).map(\.name) == ["exact_match", "regex", "rouge_l"])
        #expect(throws: MetricError.duplicateMetric("regex")) { try MetricSpec.parseAll(["regex=a", "exact_match", "regex=b"]) }
        #expect(throws: MetricError.unknownMetric("f1", suggestion: "token_f1")) { try MetricSpec.parseAll(["exact_match", "f1"]) }
    }

    @Test func specsEncodeAsTheirCommandLineText() throws {
        let specs = [Self.spec("exact_match"), Self.spec("regex=^\\d+$")]
        let data = try JSONEncoder().encode(specs)
        #expect(String(decoding: data, as: UTF8.self) == #"["exact_match","regex=^\\d+$"]"#)
        #expect(try JSONDecoder().decode([MetricSpec].self, from: data) == specs)
        do {
            _ = try JSONDecoder().decode([MetricSpec].self, from: Data(#"["exact_match","f1"]"#.utf8))
            Issue.record("an unknown metric must not decode")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription.contains("unknown metric 'f1'"), "\(context.debugDescription)")
        }
    }

    // MARK: - Multiple choice

    @Test func multipleChoicePicksTheLikeliestOption() {
        let ll = [-12.0, -9.0, -10.0], counts = [6, 2, 10]
        #expect(MultipleChoice.pick(logLikelihoods: ll, tokenCounts: counts, perToken: false) == 1)
        #expect(MultipleChoice.pick(logLikelihoods: ll, tokenCounts: counts, perToken: true) == 2)   // −1 per token
        #expect(MultipleChoice.pick(logLikelihoods: [-3, -1, -1], tokenCounts: [1, 1, 1], perToken: false) == 1)  // tie → lowest
        #expect(MultipleChoice.pick(logLikelihoods: [.nan, -5, -4], tokenCounts: [1, 1, 1], perToken: false) == 2)
        #expect(MultipleChoice.pick(logLikelihoods: [.nan, .nan], tokenCounts: [1, 1], perToken: true) == 0)
        #expect(MultipleChoice.pick(logLikelihoods: [-4, -3], tokenCounts: [0, 1], perToken: true) == 1)
    }
}

/// The paired bootstrap against a NumPy implementation (same PCG64 stream, `integers`, `np.quantile`), then properties.
@Suite struct MetricsBootstrapTests {
    func expectInterval(_ got: Bootstrap.Interval, _ c: JSON, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .bool(let significant) = c["significant"] else { Issue.record("\(what): fixture lacks significant"); return }
        // Exact: same indices, same left-to-right sums, same quantile arithmetic.
        #expect(got.difference == c["difference"].double, "\(what): difference \(got.difference) vs \(c["difference"].double)",
                sourceLocation: sourceLocation)
        #expect(got.low == c["low"].double, "\(what): low \(got.low) vs NumPy \(c["low"].double)", sourceLocation: sourceLocation)
        #expect(got.high == c["high"].double, "\(what): high \(got.high) vs NumPy \(c["high"].double)", sourceLocation: sourceLocation)
        #expect(got.significant == significant && got.resamples == c["resamples"].int && got.confidence == c["confidence"].double,
                "\(what)", sourceLocation: sourceLocation)
    }

    func expectIndices(_ c: JSON, count n: Int, _ what: String) {
        var draws = Bootstrap.IndexDraws(seed: seed(c))
        for (r, want) in c["first_indices"].array.enumerated() {
            let got = (0..<n).map { _ in draws.next(below: n) }
            #expect(got == want.array.map(\.int), "\(what): indices of resample \(r)")
        }
    }

    /// The fixture's seeds stay below 2⁵³, so they survive JSON's Doubles.
    func seed(_ c: JSON) -> UInt64 { UInt64(c["seed"].double) }

    @Test func meanDifferenceMatchesNumPy() throws {
        let f = try loadFixture("metrics/bootstrap.json")
        #expect(f["mean"].array.count == 7)
        for c in f["mean"].array {
            let name = c["name"].string, base = c["base"].doubles, model = c["model"].doubles
            expectIndices(c, count: base.count, name)
            let got = Bootstrap.pairedDifference(base: base, model: model, resamples: c["resamples"].int,
                                                 confidence: c["confidence"].double, seed: seed(c))
            expectInterval(got, c, name)
        }
    }

    @Test func lossDifferenceMatchesNumPy() throws {
        let f = try loadFixture("metrics/bootstrap.json")
        #expect(f["loss"].array.count == 2)
        for c in f["loss"].array {
            let name = c["name"].string
            let base = c["base"].array.map { (lossSum: $0["loss_sum"].double, tokens: $0["tokens"].int) }
            let model = c["model"].array.map { (lossSum: $0["loss_sum"].double, tokens: $0["tokens"].int) }
            expectIndices(c, count: base.count, name)
            let got = Bootstrap.pairedLossDifference(base: base, model: model, resamples: c["resamples"].int,
                                                     confidence: c["confidence"].double, seed: seed(c))
            expectInterval(got, c, name)
        }
    }

    @Test func identicalModelsAreNotSignificant() {
        let values = (0..<40).map { Double($0 % 7) / 7 }
        let i = Bootstrap.pairedDifference(base: values, model: values)
        #expect(i == Bootstrap.Interval(difference: 0, low: 0, high: 0, confidence: 0.95, resamples: 2000, significant: false))
        let losses = (0..<15).map { (lossSum: Double($0) * 1.3, tokens: $0 + 1) }
        let l = Bootstrap.pairedLossDifference(base: losses, model: losses, resamples: 100)
        #expect(l.difference == 0 && l.low == 0 && l.high == 0 && !l.significant)
        let empty = Bootstrap.pairedDifference(base: [], model: [])
        #expect(empty.difference == 0 && empty.low == 0 && empty.high == 0 && !empty.significant)
    }

    @Test func aConstantShiftIsExact() {
        // Dyadic values: every sum is exact, so every resample's statistic is exactly the shift.
        let base = (0..<64).map { Double(($0 * 37) % 64) / 64 }
        let model = base.map { $0 + 0.25 }
        let i = Bootstrap.pairedDifference(base: base, model: model, resamples: 500, seed: 9)
        #expect(i.difference == 0.25 && i.low == 0.25 && i.high == 0.25 && i.significant)
        let worse = Bootstrap.pairedDifference(base: model, model: base, resamples: 500, seed: 9)
        #expect(worse.difference == -0.25 && worse.low == -0.25 && worse.high == -0.25 && worse.significant)
    }

    @Test func seededAndDeterministic() {
        let base = (0..<30).map { Double($0 % 2) }, model = (0..<30).map { Double(($0 / 3) % 2) }
        let a = Bootstrap.pairedDifference(base: base, model: model, seed: 5)
        #expect(a == Bootstrap.pairedDifference(base: base, model: model, seed: 5))
        #expect(a != Bootstrap.pairedDifference(base: base, model: model, seed: 6))
        #expect(a.low <= a.high)
    }

    /// Coverage on a known case: per-example differences d = model − base are 0.1 + U(−0.5, 0.5) (SD ≈ 0.29), so
    /// the true mean difference is 0.1; a 90% interval should contain it in about 90% of 400 simulated evaluations
    /// (the percentile bootstrap runs slightly under nominal at n = 60; ±3.5 binomial SDs allowed).
    @Test func coversTheTrueDifference() {
        let trials = 400, n = 60
        var covered = 0, significant = 0
        for t in 0..<trials {
            let base = randomArray(n, seed: UInt64(2 * t)).map { (Double($0) + 1) / 2 }
            let noise = randomArray(n, seed: UInt64(2 * t + 1), scale: 0.5).map(Double.init)
            let model = zip(base, noise).map { $0 + 0.1 + $1 }
            let i = Bootstrap.pairedDifference(base: base, model: model, resamples: 1000, confidence: 0.9, seed: UInt64(t))
            if i.low <= 0.1 && 0.1 <= i.high { covered += 1 }
            if i.significant { significant += 1 }
        }
        let coverage = Double(covered) / Double(trials)
        #expect(coverage >= 0.84 && coverage <= 0.96, "coverage \(coverage) of nominal 0.90")
        // Power: with effect 0.1, SD 0.29, n 60 the mean's SE is ≈ 0.039, so most intervals exclude 0.
        #expect(significant > trials / 2, "\(significant) of \(trials) significant")
    }
}

/// The sentences a reader takes away; hand-checked strings.
@Suite struct MetricsVerdictTests {
    func interval(_ d: Double, _ lo: Double, _ hi: Double, confidence: Double = 0.95) -> Bootstrap.Interval {
        Bootstrap.Interval(difference: d, low: lo, high: hi, confidence: confidence, resamples: 2000, significant: lo > 0 || hi < 0)
    }

    @Test func metricSentences() {
        #expect(Verdict.sentence(metric: .exactMatch, modelName: "adapter", baseName: "base", baseMean: 0.12, modelMean: 0.53,
                                 interval: interval(0.41, 0.36, 0.46))
                == "The adapter beats the base on exact match by 41 points (95% CI 36 to 46).")
        #expect(Verdict.sentence(metric: .rougeL, modelName: "adapter", baseName: "base", baseMean: 0.40, modelMean: 0.368,
                                 interval: interval(-0.032, -0.05, -0.011))
                == "The adapter is worse than the base on ROUGE-L by 3.2 points (95% CI 1.1 to 5.0).")
        #expect(Verdict.sentence(metric: .jsonValid, modelName: "adapter", baseName: "base", baseMean: 0.9, modelMean: 0.91,
                                 interval: interval(0.01, -0.005, 0.025))
                == "No significant difference between the adapter and the base on valid JSON (+1.0 points, 95% CI −0.5 to 2.5).")
        // Below one point: two decimals; a named adapter; another confidence.
        #expect(Verdict.sentence(metric: .tokenF1, modelName: "adapter-r8", baseName: "base", baseMean: 0.5, modelMean: 0.5042,
                                 interval: interval(0.0042, 0.0011, 0.0075, confidence: 0.99))
                == "The adapter-r8 beats the base on token F1 by 0.42 points (99% CI 0.11 to 0.75).")
        #expect(Verdict.sentence(metric: .numeric, modelName: "sql-tuned", baseName: "SmolLM2", baseMean: 0.3, modelMean: 0.29,
                                 interval: interval(-0.004, -0.012, 0.004, confidence: 0.995))
                == "No significant difference between sql-tuned and SmolLM2 on numeric answer (−0.4 points, 99.5% CI −1.2 to 0.4).")
        #expect(Verdict.sentence(metric: .contains, modelName: "adapter", baseName: "base", baseMean: 0.5, modelMean: 0.5,
                                 interval: interval(0, 0, 0))
                == "No significant difference between the adapter and the base on contains (0 points, 95% CI 0 to 0).")
        #expect(Verdict.sentence(metric: .multipleChoice, modelName: "adapter", baseName: "base", baseMean: 0.2, modelMean: 0.21,
                                 interval: interval(0.01, 0.002, 0.12))
                == "The adapter beats the base on multiple choice by 1.0 points (95% CI 0.2 to 12.0).")
        #expect(Verdict.sentence(metric: .exactMatch, modelName: "adapter", baseName: "base", baseMean: 0.2, modelMean: 0.21,
                                 interval: interval(0.01, 0.004, 0.016))
                == "The adapter beats the base on exact match by 1.0 points (95% CI 0.4 to 1.6).")
        #expect(Verdict.sentence(metric: .exactMatch, modelName: "adapter", baseName: "base", baseMean: 0.2, modelMean: 0.21,
                                 interval: interval(0.01, -0.11, 0.13))
                == "No significant difference between the adapter and the base on exact match (+1 point, 95% CI −11 to 13).")
    }

    @Test func lossSentences() {
        #expect(Verdict.lossSentence(modelName: "adapter", baseName: "base", baseLoss: 2.41, modelLoss: 0.87,
                                     interval: interval(-1.54, -1.60, -1.48))
                == "The adapter lowers the loss from 2.41 to 0.87 nats/token (−1.54, 95% CI −1.60 to −1.48).")
        #expect(Verdict.lossSentence(modelName: "adapter", baseName: "base", baseLoss: 2.41, modelLoss: 2.55,
                                     interval: interval(0.14, 0.09, 0.19))
                == "The adapter raises the loss from 2.41 to 2.55 nats/token (+0.14, 95% CI 0.09 to 0.19).")
        #expect(Verdict.lossSentence(modelName: "adapter", baseName: "base", baseLoss: 2.41, modelLoss: 2.43,
                                     interval: interval(0.02, -0.01, 0.05))
                == "No significant difference in loss between the adapter and the base (2.41 vs 2.43 nats/token, +0.02, 95% CI −0.01 to 0.05).")
        #expect(Verdict.lossSentence(modelName: "merged", baseName: "base", baseLoss: 2.412, modelLoss: 2.4082,
                                     interval: interval(-0.0038, -0.0061, -0.0012))
                == "The merged model lowers the loss from 2.412 to 2.408 nats/token (−0.004, 95% CI −0.006 to −0.001).")
        // Significant, but the interval's near end would print as 0.00: a third decimal.
        #expect(Verdict.lossSentence(modelName: "adapter", baseName: "base", baseLoss: 1.5, modelLoss: 1.512,
                                     interval: interval(0.012, 0.003, 0.021))
                == "The adapter raises the loss from 1.500 to 1.512 nats/token (+0.012, 95% CI 0.003 to 0.021).")
    }
}
