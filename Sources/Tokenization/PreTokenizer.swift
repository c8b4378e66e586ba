/// A piece of text on its way to the model: scalar values plus whether it begins at offset 0 of the original
/// input (Metaspace's `prepend_scheme: first` only prefixes that piece).
struct Piece {
    var scalars: [UInt32]
    var atStart: Bool
}

/// How a `Split` pre-tokenizer turns matches into pieces (HF `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"

    /// Folds `(start, end, isMatch)` spans into piece ranges exactly like HF `NormalizedString::split`.
    func pieces(_ spans: [(Int, Int, Bool)]) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        out.reserveCapacity(spans.count)
        switch self {
        case .isolated:
            for (a, b, _) in spans { out.append((a, b)) }
        case .removed:
            for (a, b, m) in spans where !m { out.append((a, b)) }
        case .mergedWithPrevious:
            var previousMatch = false
            for (a, b, m) in spans {
                if m && !previousMatch, !out.isEmpty { out[out.count - 1].1 = b } else { out.append((a, b)) }
                previousMatch = m
            }
        case .mergedWithNext:
            var previousMatch = false
            for (a, b, m) in spans.reversed() {
                if m && !previousMatch, !out.isEmpty { out[out.count - 1].0 = a } else { out.append((a, b)) }
                previousMatch = m
            }
            out.reverse()
        case .contiguous:
            var previousMatch = false
            for (a, b, m) in spans {
                if m == previousMatch, !out.isEmpty { out[out.count - 1].1 = b } else { out.append((a, b)) }
                previousMatch = m
            }
        }
        return out.filter { $0.0 < $0.1 }
    }
}

/// Metaspace's rule for prefixing the replacement character.
enum PrependScheme: String, Sendable { case first, always, never }

/// The pre-tokenizers found in real tokenizer.json files.
indirect enum PreTokenizer: Sendable {
    /// Maps UTF-8 bytes to GPT-2's printable alphabet, after optionally splitting with the GPT-2 regex.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(pattern: SplitPattern, behavior: SplitBehavior, invert: Bool)
    case metaspace(replacement: UInt32, scheme: PrependScheme, split: Bool)
    case digits(individual: Bool)
    case sequence([PreTokenizer])

    /// Splits (and for ByteLevel/Metaspace, rewrites) pieces.
    func apply(_ pieces: [Piece]) -> [Piece] {
        var out: [Piece] = []
        out.reserveCapacity(pieces.count * 4)
        switch self {
        case let .sequence(list):
            var cur = pieces
            for p in list { cur = p.apply(cur) }
            return cur
        case let .byteLevel(addPrefixSpace, useRegex):
            var spans: [(Int, Int, Bool)] = []
            for piece in pieces {
                var s = piece.scalars
                if addPrefixSpace && s.first != 0x20 { s.insert(0x20, at: 0) }
                s.withUnsafeBufferPointer { buf in
                    spans.removeAll(keepingCapacity: true)
                    if useRegex { SplitPattern.gpt2.spans(buf, into: &spans) } else if !buf.isEmpty { spans.append((0, buf.count, true)) }
                    for (a, b, _) in spans where a < b {
                        var mapped: [UInt32] = []
                        mapped.reserveCapacity((b - a) * 2)
                        ByteLevel.map(buf, a..<b, into: &mapped)
                        out.append(Piece(scalars: mapped, atStart: piece.atStart && a == 0))
                    }
                }
            }
        case let .split(pattern, behavior, invert):
            var spans: [(Int, Int, Bool)] = []
            for piece in pieces {
                piece.scalars.withUnsafeBufferPointer { buf in
                    spans.removeAll(keepingCapacity: true)
                    pattern.spans(buf, into: &spans)
                    if invert { spans = spans.map { ($0.0, $0.1, !$0.2) } }
                    for (a, b) in behavior.pieces(spans) {
                        out.append(Piece(scalars: Array(buf[a..<b]), atStart: piece.atStart && a == 0))
                    }
                }
            }
        case let .metaspace(replacement, scheme, split):
            for piece in pieces {
                var s = piece.scalars.map { $0 == 0x20 ? replacement : $0 }
                switch scheme {
                case .always: if s.first != replacement { s.insert(replacement, at: 0) }
                case .first: if s.first != replacement && piece.atStart { s.insert(replacement, at: 0) }
                case .never: break
                }
                if split {
                    var spans: [(Int, Int, Bool)] = []
                    s.withUnsafeBufferPointer { SplitPattern.literal([replacement]).spans($0, into: &spans) }
                    for (a, b) in SplitBehavior.mergedWithNext.pieces(spans) {
                        out.append(Piece(scalars: Array(s[a..<b]), atStart: piece.atStart && a == 0))
                    }
                } else if !s.isEmpty {
                    out.append(Piece(scalars: s, atStart: piece.atStart))
                }
            }
        case let .digits(individual):
            for piece in pieces {
                var spans: [(Int, Int, Bool)] = []
                var i = 0
                let s = piece.scalars
                while i < s.count {
                    let isDigit = CharClass.of(s[i]) & CharClass.number != 0
                    var j = i + 1
                    while j < s.count && (CharClass.of(s[j]) & CharClass.number != 0) == isDigit { j += 1 }
                    if isDigit && individual {
                        for k in i..<j { spans.append((k, k + 1, true)) }
                    } else {
                        spans.append((i, j, isDigit))
                    }
                    i = j
                }
                for (a, b) in (individual ? SplitBehavior.isolated : .contiguous).pieces(spans) {
                    out.append(Piece(scalars: Array(s[a..<b]), atStart: piece.atStart && a == 0))
                }
            }
        }
        return out
    }
}
