import Foundation

/// The normalizers found in real tokenizer.json files; applied to each text segment between added tokens.
indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    /// Literal replacement of every occurrence (HF `Replace` with a `String` pattern).
    case replace(pattern: [UInt32], content: [UInt32])
    /// Prepends to a non-empty segment (SentencePiece's "▁" dummy prefix in older Llama files).
    case prepend([UInt32])
    case strip(left: Bool, right: Bool)
    case sequence([Normalizer])

    func apply(_ s: [UInt32]) -> [UInt32] {
        switch self {
        case .nfc: return Array(scalarsOf: s.string.precomposedStringWithCanonicalMapping)
        case .nfd: return Array(scalarsOf: s.string.decomposedStringWithCanonicalMapping)
        case .nfkc: return Array(scalarsOf: s.string.precomposedStringWithCompatibilityMapping)
        case .nfkd: return Array(scalarsOf: s.string.decomposedStringWithCompatibilityMapping)
        case .lowercase:
            // Per scalar, like Rust's char::to_lowercase (no context-sensitive final sigma).
            var out: [UInt32] = []
            out.reserveCapacity(s.count)
            for v in s {
                guard let u = Unicode.Scalar(v) else { continue }
                if v < 0x80 {
                    out.append(v >= 0x41 && v <= 0x5A ? v | 0x20 : v)
                } else {
                    out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars.map(\.value))
                }
            }
            return out
        case let .replace(pattern, content):
            guard !pattern.isEmpty, s.count >= pattern.count else { return s }
            var out: [UInt32] = []
            out.reserveCapacity(s.count)
            var i = 0
            while i < s.count {
                if s[i] == pattern[0] && i + pattern.count <= s.count && s[i..<(i + pattern.count)].elementsEqual(pattern) {
                    out.append(contentsOf: content)
                    i += pattern.count
                } else {
                    out.append(s[i])
                    i += 1
                }
            }
            return out
        case let .prepend(p):
            return s.isEmpty ? s : p + s
        case let .strip(left, right):
            var lo = 0, hi = s.count
            let isSpace = { (v: UInt32) in CharClass.of(v) & CharClass.space != 0 }
            if left { while lo < hi && isSpace(s[lo]) { lo += 1 } }
            if right { while hi > lo && isSpace(s[hi - 1]) { hi -= 1 } }
            return Array(s[lo..<hi])
        case let .sequence(list):
            var cur = s
            for n in list { cur = n.apply(cur) }
            return cur
        }
    }
}
