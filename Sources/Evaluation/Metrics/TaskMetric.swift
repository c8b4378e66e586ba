import Foundation

/// The task metrics `whittle eval --metrics` accepts. Raw values are the CLI / recipe / report.json names.
/// Every metric scores one example in [0, 1]; a model's score is the mean over examples.
public enum TaskMetric: String, CaseIterable, Codable, Sendable {
    /// 1 when prediction and reference are equal after SQuAD normalisation (`TextNormalization.squad`).
    case exactMatch = "exact_match"
    /// 1 when the numbers `NumberExtraction.answer(in:)` finds in prediction and reference are equal.
    case numeric
    /// 1 when the prediction matches the user's pattern anywhere (`re.search` semantics; ICU syntax).
    case regex
    /// 1 when the normalised reference occurs as whole words in the normalised prediction.
    case contains
    /// 1 when the option the caller picked (`MultipleChoice.pick`) is the answer; scored by the caller.
    case multipleChoice = "multiple_choice"
    /// 1 when the prediction, stripped of surrounding whitespace, is exactly one RFC 8259 JSON value.
    case jsonValid = "json_valid"
    /// The share of the reference JSON object's top-level keys that the prediction, parsed as a JSON object, has with
    /// an equal value (`JSONFields`); 0 when the prediction is not a JSON object. Partial credit for extraction tasks.
    case jsonFields = "json_fields"
    /// SQuAD v1.1 token F1 over normalised tokens.
    case tokenF1 = "token_f1"
    /// rouge-score's ROUGE-L F-measure (`RougeL`).
    case rougeL = "rouge_l"

    /// The name sentences and reports show.
    public var displayName: String {
        switch self {
        case .exactMatch: "exact match"
        case .numeric: "numeric answer"
        case .regex: "regex match"
        case .contains: "contains"
        case .multipleChoice: "multiple choice"
        case .jsonValid: "valid JSON"
        case .jsonFields: "JSON fields"
        case .tokenF1: "token F1"
        case .rougeL: "ROUGE-L"
        }
    }

    /// Whether the metric scores generated text (all but multiple choice, which compares option likelihoods).
    public var needsGeneration: Bool { self != .multipleChoice }
}

/// Why a metric name, pattern or score was refused.
public enum MetricError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Not a metric name; `suggestion` is the closest one, when one is close.
    case unknownMetric(String, suggestion: String?)
    /// `regex` with no pattern, or with an empty one.
    case missingPattern
    /// A pattern given to a metric other than `regex`.
    case unexpectedPattern(metric: String, pattern: String)
    /// The pattern does not compile (Foundation reports no more than that: no position, no ICU reason).
    case badPattern(String)
    /// `score` was asked for multiple choice, which the caller scores from option likelihoods.
    case notTextMetric(String)
    /// A `numeric` reference with no number in it.
    case referenceWithoutNumber(String)
    /// A `json_fields` reference that is not one JSON object.
    case referenceNotJSONObject(String)
    /// The same metric named twice in one list (report.json keys scores by metric name).
    case duplicateMetric(String)

    public var description: String {
        switch self {
        case .unknownMetric(let name, let suggestion):
            let known = TaskMetric.allCases.map(\.rawValue).joined(separator: ", ")
            let hint = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
            return "unknown metric '\(name)'\(hint); known metrics: \(known) (regex takes a pattern: regex=PATTERN)"
        case .missingPattern:
            return "metric 'regex' needs a pattern: regex=PATTERN, e.g. regex=^SELECT .*$"
        case .unexpectedPattern(let metric, let pattern):
            return "metric '\(metric)' takes no pattern, got '\(metric)=\(pattern)' (only regex=PATTERN has one)"
        case .badPattern(let pattern):
            return "regex pattern '\(pattern)' does not compile as an ICU regular expression (NSRegularExpression); "
                + "check its brackets, parentheses, repetitions and escapes"
        case .notTextMetric(let name):
            return "metric '\(name)' is scored from option log-likelihoods (MultipleChoice.pick), not from generated text"
        case .duplicateMetric(let name):
            return "metric '\(name)' is listed twice; each metric may appear once (scores are keyed by its name)"
        case .referenceWithoutNumber(let reference):
            let shown = reference.count > 80 ? String(reference.prefix(77)) + "..." : reference
            return "numeric metric: the reference '\(shown)' contains no number (expected '#### 42' or a number)"
        case .referenceNotJSONObject(let reference):
            let shown = reference.count > 80 ? String(reference.prefix(77)) + "..." : reference
            return "json_fields metric: the reference '\(shown)' is not one JSON object (expected {\"key\": value, ...})"
        }
    }
}

/// A metric as named on the command line: "exact_match", "regex=^SELECT .*$".
///
/// Encoded as that one string (`text`), so a recipe lists `metrics: [exact_match, "regex=^SELECT .*$"]`; decoding
/// parses it with the same checks and messages as the command line.
public struct MetricSpec: Codable, Sendable, Equatable {
    public var metric: TaskMetric
    /// The regex pattern (only for `regex`, where it is required).
    public var pattern: String?

    /// A spec from its parts; the pattern is checked as `init(parsing:)` checks it.
    public init(metric: TaskMetric, pattern: String? = nil) throws(MetricError) {
        switch (metric, pattern) {
        case (.regex, nil), (.regex, ""?): throw .missingPattern
        case (.regex, let p?): _ = try Self.compile(p)
        case (_, let p?): throw .unexpectedPattern(metric: metric.rawValue, pattern: p)
        case (_, nil): break
        }
        self.metric = metric
        self.pattern = pattern
    }

    /// Parses "NAME" or "regex=PATTERN" (split at the first "="; the pattern is taken verbatim). Names are exact
    /// (lowercase, underscores); a near miss is refused with the closest name suggested.
    public init(parsing text: String) throws(MetricError) {
        let name: String, pattern: String?
        if let eq = text.firstIndex(of: "=") {
            name = String(text[..<eq])
            pattern = String(text[text.index(after: eq)...])
        } else {
            name = text
            pattern = nil
        }
        guard let metric = TaskMetric(rawValue: name) else {
            throw .unknownMetric(name, suggestion: Self.closestName(to: name))
        }
        try self.init(metric: metric, pattern: pattern)
    }

    /// Parses each text (one metric per element, so patterns may contain commas) and refuses a name given twice,
    /// since `name` keys per-example scores in report.json (so at most one `regex=` per evaluation).
    public static func parseAll(_ texts: [String]) throws(MetricError) -> [MetricSpec] {
        var specs: [MetricSpec] = [], seen: Set<String> = []
        for text in texts {
            let spec = try MetricSpec(parsing: text)
            guard seen.insert(spec.name).inserted else { throw .duplicateMetric(spec.name) }
            specs.append(spec)
        }
        return specs
    }

    /// What goes into report.json's `metricNames`: the raw value ("regex" for any pattern).
    public var name: String { metric.rawValue }

    /// The command-line text this spec parses from ("regex=^SELECT .*$").
    public var text: String { pattern.map { "\(metric.rawValue)=\($0)" } ?? metric.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try MetricSpec(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)",
                                                    underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    /// Scores one prediction against one reference, in [0, 1]. Throws for `multipleChoice` (scored by the caller),
    /// for a `numeric` reference without a number, and for a `regex` spec whose pattern does not compile (only
    /// possible after assigning `pattern`, since the initialisers and decoding check it).
    public func score(prediction: String, reference: String) throws(MetricError) -> Double {
        switch metric {
        case .exactMatch:
            return TextNormalization.scalarTokens(prediction) == TextNormalization.scalarTokens(reference) ? 1 : 0
        case .numeric:
            guard let expected = NumberExtraction.answer(in: reference) else { throw .referenceWithoutNumber(reference) }
            return NumberExtraction.answer(in: prediction) == expected ? 1 : 0
        case .regex:
            guard let pattern, !pattern.isEmpty else { throw .missingPattern }
            let re = try Self.compile(pattern)
            let range = NSRange(location: 0, length: (prediction as NSString).length)
            return re.firstMatch(in: prediction, range: range) != nil ? 1 : 0
        case .contains:
            return Self.containsWords(TextNormalization.scalarTokens(prediction), TextNormalization.scalarTokens(reference)) ? 1 : 0
        case .multipleChoice:
            throw .notTextMetric(metric.rawValue)
        case .jsonValid:
            return StrictJSON.isValid(TextNormalization.pythonStrip(prediction)) ? 1 : 0
        case .jsonFields:
            guard let score = JSONFields.score(prediction: prediction, reference: reference) else {
                throw .referenceNotJSONObject(reference)
            }
            return score
        case .tokenF1:
            return Self.tokenF1(prediction: TextNormalization.scalarTokens(prediction),
                                reference: TextNormalization.scalarTokens(reference))
        case .rougeL:
            return RougeL.fMeasure(prediction: prediction, reference: reference)
        }
    }

    // MARK: - Scoring pieces

    /// SQuAD v1.1 `f1_score`: multiset overlap of tokens; 0 when nothing is shared (so also when both are empty, as
    /// the v1.1 script has it; SQuAD v2's script would give 1 there).
    static func tokenF1(prediction: [[Unicode.Scalar]], reference: [[Unicode.Scalar]]) -> Double {
        var counts: [[Unicode.Scalar]: Int] = [:]
        for t in reference { counts[t, default: 0] += 1 }
        var same = 0
        for t in prediction where counts[t, default: 0] > 0 {
            counts[t]! -= 1
            same += 1
        }
        guard same > 0 else { return 0 }
        let precision = 1.0 * Double(same) / Double(prediction.count)
        let recall = 1.0 * Double(same) / Double(reference.count)
        return (2 * precision * recall) / (precision + recall)
    }

    /// Whether `needle` occurs as a contiguous run of whole tokens in `haystack` (an empty needle always does), so
    /// the reference "4" is not found in "42" and "new york" is found in "i love new york city".
    static func containsWords(_ haystack: [[Unicode.Scalar]], _ needle: [[Unicode.Scalar]]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }

    static func compile(_ pattern: String) throws(MetricError) -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: pattern) } catch { throw .badPattern(pattern) }
    }

    /// The metric name within a small edit distance of `name` (case-insensitive, "-" and " " read as "_"), else the
    /// first metric with `name` as a whole "_"-separated part ("f1" → token_f1, "json" → json_valid), if any.
    static func closestName(to name: String) -> String? {
        let probe = name.lowercased().replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: " ", with: "_")
        let scored = TaskMetric.allCases.map { ($0.rawValue, editDistance(Array(probe), Array($0.rawValue))) }
        if let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, best.0.count / 3) { return best.0 }
        let parts = TaskMetric.allCases.map(\.rawValue).filter { $0.split(separator: "_").contains(Substring(probe)) }
        return parts.first   // "json" → json_valid (the first of json_valid, json_fields)
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count), row = previous
        for i in 1...a.count {
            row[0] = i
            for j in 1...b.count {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&row, &previous)
        }
        return previous[b.count]
    }
}
