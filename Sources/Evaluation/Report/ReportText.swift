import Foundation

// MARK: - Numbers as a reader sees them

/// Number formatting shared by report.md and report.html, so both show the same digits. Negative numbers use the
/// Unicode minus sign (U+2212) so a sign never reads as a hyphen; non-finite values read "n/a" (NaN) or "∞".
enum ReportNumber {
    /// Fixed decimals: `fixed(0.41234, 3)` → "0.412", `fixed(-2, 1)` → "−2.0".
    static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return x.isNaN ? "n/a" : (x > 0 ? "∞" : "−∞") }
        let s = String(format: "%.\(digits)f", x)
        // "-0.000" after rounding reads as a change that is not there.
        if s.hasPrefix("-") {
            let magnitude = String(s.dropFirst())
            return magnitude.allSatisfy({ $0 == "0" || $0 == "." }) ? magnitude : "−" + magnitude
        }
        return s
    }

    /// Always signed: "+0.412", "−0.412", "±0.000" is written "0.000".
    static func signed(_ x: Double, _ digits: Int) -> String {
        let s = fixed(x, digits)
        if s.hasPrefix("−") || s == "n/a" || s.hasPrefix("∞") { return s }
        return s.allSatisfy({ $0 == "0" || $0 == "." }) ? s : "+" + s
    }

    /// A fraction in [0, 1] as points out of 100 with one decimal: 0.4123 → "41.2".
    static func points(_ fraction: Double) -> String { fixed(fraction * 100, 1) }
    /// One example's metric: whole points without decimals (0/1 metrics read "0" and "100"), else one decimal.
    static func examplePoints(_ fraction: Double) -> String {
        let p = fraction * 100
        return p.isFinite && abs(p - p.rounded()) < 1e-9 ? fixed(p, 0) : fixed(p, 1)
    }
    static func signedPoints(_ fraction: Double) -> String { signed(fraction * 100, 1) }

    /// Perplexity: two decimals below 100, one below 10 000, then whole numbers.
    static func perplexity(_ x: Double) -> String {
        guard x.isFinite else { return fixed(x, 0) }
        return x < 100 ? fixed(x, 2) : x < 10_000 ? fixed(x, 1) : fixed(x, 0)
    }

    /// Tokens per second and seconds: 3 significant digits at least, no exponent.
    static func rate(_ x: Double) -> String {
        guard x.isFinite else { return fixed(x, 0) }
        return abs(x) >= 100 ? fixed(x, 0) : abs(x) >= 10 ? fixed(x, 1) : fixed(x, 2)
    }

    /// Integers with thin grouping: 12345 → "12,345".
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "−" : "") + out
    }

    /// Short and exact enough for axis ticks: 0.0003 → "3e-4", 1500 → "1500", 0.25 → "0.25".
    static func tick(_ x: Double, step: Double) -> String {
        if x == 0 { return "0" }
        let magnitude = abs(x)
        if magnitude < 1e-3 || magnitude >= 1e6 {
            // Scientific with just enough mantissa digits for the tick step.
            var e = Int(floor(log10(magnitude)))
            var m = x / pow(10, Double(e))
            if abs(m) >= 9.9995 { m /= 10; e += 1 }
            let stepDigits = max(0, Int(ceil(-log10(step / pow(10, Double(e))) - 1e-9)))
            let ms = fixed(m, min(stepDigits, 3))
            return "\(ms)e\(e < 0 ? "−" : "")\(abs(e))"
        }
        // As many decimals as the step needs to be exact (2.5 → 1, 0.25 → 2), so ticks never round to uneven labels.
        var decimals = 0
        while decimals < 6 {
            let scaled = step * pow(10, Double(decimals))
            if abs(scaled - scaled.rounded()) <= 1e-6 * max(1, scaled) { break }
            decimals += 1
        }
        return fixed(x, decimals)
    }
}

// MARK: - Names

enum ReportName {
    /// A metric's raw name as a reader says it: "exact_match" → "exact match".
    static func metric(_ raw: String) -> String {
        raw == "loss" ? "loss" : raw.replacingOccurrences(of: "_", with: " ")
    }

    /// A SHA-256 shortened to its first 12 hex digits (the full value goes in a title attribute or nearby).
    static func shortHash(_ hash: String) -> String {
        hash.count > 12 ? String(hash.prefix(12)) + "…" : hash
    }

    /// An example id "path/to/file.jsonl:12" shortened to "file.jsonl:12" (the full id goes in a title).
    static func shortID(_ id: String) -> String {
        id.split(separator: "/").last.map(String.init) ?? id
    }
}

// MARK: - Escaping

enum ReportEscape {
    /// Text for HTML element content and attribute values. Only the five entities XML knows are produced, so
    /// the page parses as XML too; control characters XML forbids are shown as U+FFFD.
    static func html(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(u)
            case "\r": break
            default:
                // XML 1.0 allows #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF.
                let v = u.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    /// Text inside one GitHub Markdown table cell (or a list item): renders literally. Pipes and Markdown
    /// punctuation are backslash-escaped, HTML-significant characters become entities, newlines become `<br>`.
    static func markdownCell(_ s: String) -> String {
        var out = ""
        for c in s.replacingOccurrences(of: "\r\n", with: "\n") {
            switch c {
            case "|": out += "\\|"
            case "\\", "`", "*", "_", "[", "]", "~": out += "\\" + String(c)
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\n": out += "<br>"
            case "\r": break
            default: out.append(c)
            }
        }
        return out
    }

    /// A fenced Markdown code block whose fence is longer than any backtick run inside `s`, so any text
    /// (including ``` lines) shows literally with its whitespace.
    static func markdownFence(_ s: String, info: String = "text") -> String {
        var longest = 0, run = 0
        for c in s {
            if c == "`" { run += 1; longest = max(longest, run) } else { run = 0 }
        }
        let fence = String(repeating: "`", count: max(3, longest + 1))
        let body = s.replacingOccurrences(of: "\r\n", with: "\n")
        return fence + info + "\n" + body + (body.hasSuffix("\n") ? "" : "\n") + fence
    }

    /// An inline code span for a path or hash (no newlines expected; they are replaced by spaces).
    static func markdownCode(_ s: String) -> String {
        let flat = s.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "\\|")
        var longest = 0, run = 0
        for c in flat {
            if c == "`" { run += 1; longest = max(longest, run) } else { run = 0 }
        }
        let ticks = String(repeating: "`", count: longest + 1)
        let pad = flat.hasPrefix("`") || flat.hasSuffix("`") ? " " : ""
        return ticks + pad + flat + pad + ticks
    }
}

// MARK: - Truncation

enum ReportTruncate {
    /// The head of `s` for a first look: at most `characters` characters and `lines` lines, cut at a line or
    /// word boundary when one is near; nil when `s` already fits.
    static func head(_ s: String, characters: Int = 600, lines: Int = 14) -> String? {
        var count = 0, newlines = 0
        var end = s.startIndex
        var byLines = false
        while end < s.endIndex {
            if count == characters { break }
            if s[end] == "\n" {
                newlines += 1
                if newlines == lines { byLines = true; break }
            }
            count += 1
            end = s.index(after: end)
        }
        // Nothing worth hiding after the cut: show it all.
        if s[end...].allSatisfy(\.isWhitespace) { return nil }
        var cut = s[..<end]
        // A cut inside a line prefers the last space or newline within the last fifth.
        if !byLines, let space = cut.lastIndex(where: { $0 == " " || $0 == "\n" }),
           cut.distance(from: space, to: cut.endIndex) < max(20, characters / 5) {
            cut = cut[..<space]
        }
        return String(cut) + " …"
    }

    /// The end of `s` (where a rendered chat prompt keeps the question), at most `characters` characters and
    /// `lines` lines, starting at a line or word boundary when one is near; nil when `s` already fits.
    static func tail(_ s: String, characters: Int = 600, lines: Int = 14) -> String? {
        // Trailing newlines (after "assistant\n") would use up the line budget on nothing.
        let reversed = String(s.reversed().drop { $0.isWhitespace })
        guard let head = head(reversed, characters: characters, lines: lines) else { return nil }
        return "… " + String(head.dropLast(2).reversed()).drop { $0 == " " || $0 == "\n" }
    }
}
