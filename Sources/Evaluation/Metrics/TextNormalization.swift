/// SQuAD v1.1 answer normalisation, character for character as the official evaluation script
/// (`evaluate-v1.1.py`, `normalize_answer`) does it in Python 3:
///
/// 1. `str.lower()` (full Unicode case mapping, including "İ" → "i̇" and a word-final "Σ" → "ς"),
/// 2. delete every ASCII punctuation character (`string.punctuation`: ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``),
/// 3. replace the whole words "a", "an", "the" by a space (`re.sub(r"\b(a|an|the)\b", " ", …)`, where a word is a
///    run of Unicode letters, numbers and "_", as Python's `\w`),
/// 4. collapse whitespace (`" ".join(s.split())`, Python's `str.isspace` set, which includes U+001C…U+001F).
///
/// Everything works on Unicode scalars (Python's code points), never on grapheme clusters, so a combining accent
/// after "a" separates words exactly as it does in Python, and texts compare code point by code point (a
/// precomposed "é" differs from "e" + U+0301, as in Python; no Unicode normalisation is applied). Unicode tables are Swift's, not Python's (14.0 in the
/// pinned Python 3.11); characters added after Unicode 14 may normalise differently.
public enum TextNormalization {
    /// The normalised answer text (see the type's documentation).
    public static func squad(_ s: String) -> String {
        tokens(s).joined(separator: " ")
    }

    /// The normalised answer split on spaces: SQuAD's `normalize_answer(s).split()`, the tokens of token F1.
    public static func tokens(_ s: String) -> [String] {
        scalarTokens(s).map { word in
            var view = String.UnicodeScalarView()
            view.append(contentsOf: word)
            return String(view)
        }
    }

    /// `tokens(s)` as scalar arrays. The metrics compare these, code point by code point as Python compares `str`:
    /// Swift's `String ==` would call "é" and "e\u{301}" equal (canonical equivalence), the SQuAD script does not.
    static func scalarTokens(_ s: String) -> [[Unicode.Scalar]] {
        let lowered = pythonLowercased(Array(s.unicodeScalars))
        let kept = lowered.filter { !isASCIIPunctuation($0) }
        // Articles first (they are whole runs of word characters), then whitespace splitting. Replacing an article
        // by a space and then splitting is the same as dropping it from the space-split words only if the article is
        // delimited by non-word characters, which may be non-space (e.g. "→the←"); so replace, then split.
        var replaced: [Unicode.Scalar] = []
        replaced.reserveCapacity(kept.count)
        var i = 0
        while i < kept.count {
            if isPythonWordCharacter(kept[i]) {
                var j = i
                while j < kept.count && isPythonWordCharacter(kept[j]) { j += 1 }
                let run = kept[i..<j]
                if isArticle(run) { replaced.append(" ") } else { replaced.append(contentsOf: run) }
                i = j
            } else {
                replaced.append(kept[i])
                i += 1
            }
        }
        return pythonSplit(replaced)
    }

    // MARK: - Python string semantics

    /// Python 3's `str.lower()`: each scalar's full lowercase mapping; a capital sigma becomes final "ς" when a cased
    /// letter precedes it and none follows (skipping case-ignorable scalars on both sides), as CPython's
    /// `handle_capital_sigma` decides.
    static func pythonLowercased(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            if c.value == 0x3A3 {
                out.append(isFinalSigma(s, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else if c.isASCII {
                out.append(c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 32)! : c)
            } else {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    private static func isFinalSigma(_ s: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && s[j].properties.isCased else { return false }
        j = i + 1
        while j < s.count && s[j].properties.isCaseIgnorable { j += 1 }
        return j == s.count || !s[j].properties.isCased
    }

    /// Python's `str.isspace()` (bidirectional class WS, B or S, or category Zs).
    static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// Python's `str.split()` with no separator: runs of non-space scalars.
    static func pythonSplit(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = [], current: [Unicode.Scalar] = []
        for c in s {
            if isPythonSpace(c) {
                if !current.isEmpty { words.append(current); current = [] }
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// `str.strip()` with no argument.
    static func pythonStrip(_ s: String) -> String {
        let scalars = Array(s.unicodeScalars)
        var lo = 0, hi = scalars.count
        while lo < hi && isPythonSpace(scalars[lo]) { lo += 1 }
        while hi > lo && isPythonSpace(scalars[hi - 1]) { hi -= 1 }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[lo..<hi])
        return String(view)
    }

    /// Python `re`'s Unicode `\w`: letters (Lu, Ll, Lt, Lm, Lo), anything with a numeric value, and "_".
    static func isPythonWordCharacter(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII {
            let v = c.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
        }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return c.properties.numericType != nil
        }
    }

    /// `string.punctuation`.
    static func isASCIIPunctuation(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: true
        default: false
        }
    }

    private static func isArticle(_ run: ArraySlice<Unicode.Scalar>) -> Bool {
        switch run.count {
        case 1: return run.first == "a"
        case 2: return run.elementsEqual(["a", "n"])
        case 3: return run.elementsEqual(["t", "h", "e"])
        default: return false
        }
    }
}
