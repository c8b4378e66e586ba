/// One entry of tokenizer.json's `added_tokens`.
public struct AddedToken: Sendable, Equatable {
    public var id: Int
    public var content: String
    public var singleWord: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    public var normalized: Bool
    public var special: Bool
}

/// Finds added tokens in text, leftmost-longest like HF's Aho-Corasick `LeftmostLongest` matcher, then applies
/// `single_word`, `lstrip` and `rstrip` exactly as added_vocabulary.rs `find_matches` does.
struct AddedTokenMatcher: Sendable {
    /// Candidates by first scalar, longest first.
    private let byFirst: [UInt32: [(scalars: [UInt32], token: AddedToken)]]

    init(_ tokens: [AddedToken]) {
        var table: [UInt32: [(scalars: [UInt32], token: AddedToken)]] = [:]
        for t in tokens {
            let s = Array(scalarsOf: t.content)
            guard let f = s.first else { continue }
            table[f, default: []].append((s, t))
        }
        for k in table.keys { table[k]?.sort { $0.scalars.count > $1.scalars.count } }
        byFirst = table
    }

    var isEmpty: Bool { byFirst.isEmpty }

    enum Segment {
        case text(start: Int, end: Int)
        case token(AddedToken)
    }

    @inline(__always) private static func isWordChar(_ v: UInt32) -> Bool {
        // Rust `char::is_alphanumeric` plus underscore (the `\w` test HF uses for single_word).
        v == 0x5F || CharClass.of(v) & (CharClass.letter | CharClass.number) != 0
    }

    @inline(__always) private static func isSpace(_ v: UInt32) -> Bool { CharClass.of(v) & CharClass.space != 0 }

    /// Splits `s` into text spans and added tokens.
    func split(_ s: [UInt32]) -> [Segment] {
        guard !byFirst.isEmpty else { return s.isEmpty ? [] : [.text(start: 0, end: s.count)] }
        var out: [Segment] = []
        var startOffset = 0
        var i = 0
        let n = s.count
        while i < n {
            guard let candidates = byFirst[s[i]] else { i += 1; continue }
            var found: (scalars: [UInt32], token: AddedToken)?
            for c in candidates where i + c.scalars.count <= n {
                if s[i..<(i + c.scalars.count)].elementsEqual(c.scalars) { found = c; break }
            }
            guard let (match, token) = found else { i += 1; continue }
            var start = i
            var stop = i + match.count
            i = stop
            if token.singleWord {
                let startOK = start == 0 || !Self.isWordChar(s[start - 1])
                let stopOK = stop == n || !Self.isWordChar(s[stop])
                if !(startOK && stopOK) { continue }
            }
            if token.lstrip {
                var j = start
                while j > 0 && Self.isSpace(s[j - 1]) { j -= 1 }
                start = max(j, startOffset)
            }
            if token.rstrip {
                while stop < n && Self.isSpace(s[stop]) { stop += 1 }
                i = stop
            }
            if startOffset < start { out.append(.text(start: startOffset, end: start)) }
            out.append(.token(token))
            startOffset = stop
        }
        if startOffset < n { out.append(.text(start: startOffset, end: n)) }
        return out
    }
}
