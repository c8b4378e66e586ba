import Foundation

/// The decoders found in real tokenizer.json files. Each maps a list of token strings to a new list, like HF's
/// `decode_chain`; the final strings are concatenated.
indirect enum Decoder: Sendable {
    case byteLevel
    case metaspace(replacement: Unicode.Scalar, scheme: PrependScheme)
    case replace(pattern: String, content: String)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case sequence([Decoder])

    func apply(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens {
                if let b = ByteLevel.unmap(t) { bytes.append(contentsOf: b) } else { bytes.append(contentsOf: Array(t.utf8)) }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case let .metaspace(replacement, scheme):
            // As metaspace.rs: in the first token the replacement is dropped, elsewhere it becomes a space.
            return tokens.enumerated().map { i, t in
                var out = String.UnicodeScalarView()
                for u in t.unicodeScalars {
                    if u == replacement {
                        if !(i == 0 && scheme != .never) { out.append(" ") }
                    } else {
                        out.append(u)
                    }
                }
                return String(out)
            }
        case let .replace(pattern, content):
            // On scalars, not Foundation: "▁" followed by a combining mark is one Character but still two scalars.
            let replace = Normalizer.replace(pattern: Array(scalarsOf: pattern), content: Array(scalarsOf: content))
            return tokens.map { replace.apply(Array(scalarsOf: $0)).string }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    for _ in pending { out.append("\u{FFFD}") }
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = Self.byteValue(t) { pending.append(b) } else { flush(); out.append(t) }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { t in
                let scalars = Array(t.unicodeScalars)
                var lo = 0, hi = scalars.count
                while lo < min(start, hi) && scalars[lo] == content { lo += 1 }
                var removed = 0
                while removed < stop && hi > lo && scalars[hi - 1] == content { hi -= 1; removed += 1 }
                var out = String.UnicodeScalarView()
                out.append(contentsOf: scalars[lo..<hi])
                return String(out)
            }
        case let .sequence(list):
            var cur = tokens
            for d in list { cur = d.apply(cur) }
            return cur
        }
    }

    /// The byte of a `<0xHH>` token.
    static func byteValue(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        guard let hi = hex(u[3]), let lo = hex(u[4]) else { return nil }
        return hi << 4 | lo
    }
}

/// The post-processors found in real tokenizer.json files.
indirect enum PostProcessor: Sendable {
    /// Adds nothing (HF's ByteLevel post-processor only trims offsets).
    case none
    /// `single` / `pair` templates: each item is a sequence (A or B) or special-token ids.
    case template(single: [TemplateItem], pair: [TemplateItem])
    case sequence([PostProcessor])

    enum TemplateItem: Sendable {
        case sequenceA, sequenceB
        case special([Int32])
    }

    func apply(_ a: [Int32], _ b: [Int32]?) -> [Int32] {
        switch self {
        case .none:
            return a + (b ?? [])
        case let .template(single, pair):
            var out: [Int32] = []
            for item in (b == nil ? single : pair) {
                switch item {
                case .sequenceA: out += a
                case .sequenceB: out += b ?? []
                case .special(let ids): out += ids
                }
            }
            return out
        case let .sequence(list):
            // HF applies each processor in turn to the encodings; only templates add tokens, and at most one does.
            if let t = list.first(where: { if case .template = $0 { return true } else { return false } }) {
                return t.apply(a, b)
            }
            return a + (b ?? [])
        }
    }
}
