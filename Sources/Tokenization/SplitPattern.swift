/// The regexes real tokenizers use in `Split` pre-tokenizers, matched by hand-written scanners.
///
/// HF `tokenizers` compiles these with Oniguruma. A general regex engine (NSRegularExpression/ICU) is slow on
/// this hot path and differs in small ways, so Whittle recognises each known pattern by its exact source text and
/// runs a scanner that reproduces Oniguruma's leftmost-first backtracking result for that pattern. Every one of
/// these patterns matches at every position (each character is a letter, a number, whitespace or "other"), so a
/// scan yields consecutive matches that cover the whole input.
enum SplitPattern: Sendable, Equatable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (GPT-2, also ByteLevel use_regex).
    case gpt2
    /// Llama-3's pattern; `maxDigits` is 3 (`\p{N}{1,3}`, Llama-3) or 1 (`\p{N}`, Qwen2).
    case llama3(maxDigits: Int)
    /// A literal string (`{"String": ...}`).
    case literal([UInt32])

    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The scanner for a regex source, or nil when the pattern is not one Whittle knows.
    static func regex(_ source: String) -> SplitPattern? {
        switch source {
        case gpt2Source: return .gpt2
        case llama3Source: return .llama3(maxDigits: 3)
        case qwen2Source: return .llama3(maxDigits: 1)
        default: return nil
        }
    }

    /// Appends `(start, end, isMatch)` spans covering `s` to `out`.
    func spans(_ s: UnsafeBufferPointer<UInt32>, into out: inout [(Int, Int, Bool)]) {
        let n = s.count
        switch self {
        case .gpt2:
            var i = 0
            while i < n { let e = Self.gpt2Match(s, i); out.append((i, e, true)); i = e }
        case .llama3(let maxDigits):
            var i = 0
            while i < n { let e = Self.llama3Match(s, i, maxDigits: maxDigits); out.append((i, e, true)); i = e }
        case .literal(let needle):
            var prev = 0
            var i = 0
            let m = needle.count
            guard m > 0 else { if n > 0 { out.append((0, n, false)) }; return }
            while i + m <= n {
                var equal = true
                for k in 0..<m where s[i + k] != needle[k] { equal = false; break }
                if equal {
                    if prev < i { out.append((prev, i, false)) }
                    out.append((i, i + m, true))
                    i += m
                    prev = i
                } else {
                    i += 1
                }
            }
            if prev < n { out.append((prev, n, false)) }
        }
    }

    // MARK: - Scanners

    @inline(__always) static func isOther(_ c: UInt8) -> Bool { c == 0 }

    @inline(__always)
    static func run(_ s: UnsafeBufferPointer<UInt32>, from i: Int, while mask: UInt8) -> Int {
        var j = i
        while j < s.count && CharClass.of(s[j]) & mask != 0 { j += 1 }
        return j
    }

    @inline(__always)
    static func runOther(_ s: UnsafeBufferPointer<UInt32>, from i: Int) -> Int {
        var j = i
        while j < s.count && CharClass.of(s[j]) == 0 { j += 1 }
        return j
    }

    /// `\s+(?!\S)|\s+` at `i`, where `s[i]` is whitespace: the whole run at the end of input, otherwise the run
    /// minus its last character (which then joins the following word), or the single character.
    @inline(__always)
    static func whitespace(_ s: UnsafeBufferPointer<UInt32>, _ i: Int) -> Int {
        let k = run(s, from: i, while: CharClass.space)
        if k == s.count || k - i < 2 { return k }
        return k - 1
    }

    /// Contractions `'s|'t|'re|'ve|'m|'ll|'d` at `i` (where `s[i]` is an apostrophe); returns the end or nil.
    @inline(__always)
    static func contraction(_ s: UnsafeBufferPointer<UInt32>, _ i: Int, caseInsensitive: Bool) -> Int? {
        guard i + 1 < s.count else { return nil }
        func fold(_ c: UInt32) -> UInt32 {
            guard caseInsensitive else { return c }
            if c >= 0x41 && c <= 0x5A { return c | 0x20 }
            if c == 0x17F { return 0x73 }  // ſ case-folds to s
            return c
        }
        let a = fold(s[i + 1])
        switch a {
        case 0x73, 0x74, 0x6D, 0x64: return i + 2  // s t m d
        default: break
        }
        guard i + 2 < s.count else { return nil }
        let b = fold(s[i + 2])
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return i + 3 }  // re ve ll
        return nil
    }

    static func gpt2Match(_ s: UnsafeBufferPointer<UInt32>, _ i: Int) -> Int {
        let c = s[i]
        if c == 0x27, let e = contraction(s, i, caseInsensitive: false) { return e }
        if c == 0x20 && i + 1 < s.count {
            let next = CharClass.of(s[i + 1])
            if next & CharClass.letter != 0 { return run(s, from: i + 1, while: CharClass.letter) }
            if next & CharClass.number != 0 { return run(s, from: i + 1, while: CharClass.number) }
            if next == 0 { return runOther(s, from: i + 1) }
        }
        let cls = CharClass.of(c)
        if cls & CharClass.letter != 0 { return run(s, from: i, while: CharClass.letter) }
        if cls & CharClass.number != 0 { return run(s, from: i, while: CharClass.number) }
        if cls == 0 { return runOther(s, from: i) }
        return whitespace(s, i)
    }

    static func llama3Match(_ s: UnsafeBufferPointer<UInt32>, _ i: Int, maxDigits: Int) -> Int {
        let n = s.count
        let c = s[i]
        if c == 0x27, let e = contraction(s, i, caseInsensitive: true) { return e }
        let cls = CharClass.of(c)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if cls & CharClass.letter != 0 { return run(s, from: i, while: CharClass.letter) }
        if c != 0x0D && c != 0x0A && cls & CharClass.number == 0 && i + 1 < n && CharClass.of(s[i + 1]) & CharClass.letter != 0 {
            return run(s, from: i + 1, while: CharClass.letter)
        }
        // \p{N}{1,maxDigits}
        if cls & CharClass.number != 0 {
            var j = i + 1
            while j < n && j - i < maxDigits && CharClass.of(s[j]) & CharClass.number != 0 { j += 1 }
            return j
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        var start = -1
        if cls == 0 { start = i } else if c == 0x20 && i + 1 < n && CharClass.of(s[i + 1]) == 0 { start = i + 1 }
        if start >= 0 {
            var j = runOther(s, from: start)
            while j < n && (s[j] == 0x0D || s[j] == 0x0A) { j += 1 }
            return j
        }
        // \s*[\r\n]+ : the whitespace run up to and including its last line break.
        var k = i
        var lastBreak = -1
        while k < n && CharClass.of(s[k]) & CharClass.space != 0 {
            if s[k] == 0x0D || s[k] == 0x0A { lastBreak = k }
            k += 1
        }
        if lastBreak >= 0 { return lastBreak + 1 }
        if k == n || k - i < 2 { return max(k, i + 1) }
        return k - 1
    }
}
