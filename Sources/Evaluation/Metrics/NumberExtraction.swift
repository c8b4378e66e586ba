import Foundation

/// The final numeric answer of a text, GSM8K style, as a canonical decimal string.
///
/// Extraction follows lm-evaluation-harness's `gsm8k` task (`lm_eval/tasks/gsm8k/gsm8k.yaml`):
/// - strict: the first match of `#### (\-?[0-9\.\,]+)` (the dataset's answer line), else
/// - flexible: the last match of `(-?[$0-9.,]{2,})|(-?[0-9]+)` that contains a digit. lm-eval takes the last match
///   even when it is digit-free ("..." at the end of a sentence); Whittle skips such matches, so
///   "It is 42..." and "42. Done..." both answer 42.
///
/// The match is then made canonical: "$" and "," removed, trailing "." removed, leading zeros and trailing fraction
/// zeros dropped, "-0" written "0": "1,234.50" → "1234.5", "$12.00" → "12", ".5" → "0.5". A match that is still not
/// a decimal number (e.g. "1.2.3") gives no answer. Numbers are compared as these strings, so "12.0" equals "12"
/// exactly, with no floating-point rounding. Not handled: scientific notation, fractions ("3/4"), words ("twelve"),
/// the Unicode minus "−".
public enum NumberExtraction {
    /// lm-eval's strict and flexible GSM8K patterns.
    static let strictPattern = #"#### (\-?[0-9\.\,]+)"#
    static let flexiblePattern = #"(-?[$0-9.,]{2,})|(-?[0-9]+)"#

    private static let strict = try! NSRegularExpression(pattern: strictPattern)     // constant, known-good pattern
    private static let flexible = try! NSRegularExpression(pattern: flexiblePattern) // constant, known-good pattern

    /// The canonical decimal answer in `text`, or nil when it has none.
    public static func answer(in text: String) -> String? {
        let ns = text as NSString
        let all = NSRange(location: 0, length: ns.length)
        if let m = strict.firstMatch(in: text, range: all), let c = canonical(ns.substring(with: m.range(at: 1))) {
            return c
        }
        for m in flexible.matches(in: text, range: all).reversed() {
            let r = m.range(at: 1).location != NSNotFound ? m.range(at: 1) : m.range(at: 2)
            let s = ns.substring(with: r)
            guard s.unicodeScalars.contains(where: { $0.value >= 0x30 && $0.value <= 0x39 }) else { continue }
            return canonical(s)
        }
        return nil
    }

    /// "-$1,234.50." → "-1234.5"; nil unless what remains is `-?[0-9]*\.?[0-9]*` with at least one digit.
    static func canonical(_ raw: String) -> String? {
        var s = Substring(raw.filter { $0 != "$" && $0 != "," })
        while s.hasSuffix(".") { s = s.dropLast() }
        var negative = false
        if s.hasPrefix("-") { negative = true; s = s.dropFirst() }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ $0.allSatisfy { $0 >= "0" && $0 <= "9" } }) else { return nil }
        var integer = Substring(parts[0]), fraction = parts.count == 2 ? Substring(parts[1]) : ""
        guard !integer.isEmpty || !fraction.isEmpty else { return nil }
        while integer.first == "0" { integer = integer.dropFirst() }
        while fraction.last == "0" { fraction = fraction.dropLast() }
        if integer.isEmpty { integer = "0" }
        let magnitude = fraction.isEmpty ? String(integer) : "\(integer).\(fraction)"
        return negative && magnitude != "0" ? "-" + magnitude : magnitude
    }
}
