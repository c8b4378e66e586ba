/// Character classes used by the pre-tokenizer scanners, looked up once per scalar.
///
/// The regexes in real tokenizers only ask three questions of a character: is it a letter (`\p{L}`), a number
/// (`\p{N}`), or whitespace (`\s`, which Oniguruma maps to the Unicode White_Space property, as does Rust's
/// `char::is_whitespace`). Asking `Unicode.Scalar.Properties` each time is slow, so the Basic Multilingual Plane is
/// tabulated once (64 KiB) and only astral scalars go through the properties.
enum CharClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 4

    /// Classes of U+0000...U+FFFF.
    static let bmp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 0x10000)
        for v in 0..<0x10000 {
            if let s = Unicode.Scalar(UInt32(v)) { table[v] = compute(s) }
        }
        return table
    }()

    static func compute(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        var c: UInt8 = 0
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: c |= letter
        case .decimalNumber, .letterNumber, .otherNumber: c |= number
        default: break
        }
        if p.isWhitespace { c |= space }
        return c
    }

    @inline(__always)
    static func of(_ v: UInt32) -> UInt8 {
        if v < 0x10000 { return bmp[Int(v)] }
        guard let s = Unicode.Scalar(v) else { return 0 }
        return compute(s)
    }
}
