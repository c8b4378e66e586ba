/// GPT-2's reversible byte ⇄ printable-character table (`bytes_to_unicode`).
///
/// Byte-level BPE vocabularies are written in this alphabet: printable Latin-1 bytes map to themselves and the
/// other 68 bytes, in increasing order, to U+0100, U+0101, ... so that every byte is a visible character.
enum ByteLevel {
    /// byte → mapped scalar value.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// mapped scalar value (< 0x144) → byte, or -1.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x200)
        for (b, s) in byteToScalar.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    /// Appends the mapped scalars of the UTF-8 encoding of `scalars[range]`.
    @inline(__always)
    static func map(_ scalars: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, into out: inout [UInt32]) {
        let table = byteToScalar
        for i in range {
            let v = scalars[i]
            if v < 0x80 {
                out.append(table[Int(v)])
            } else if v < 0x800 {
                out.append(table[Int(0xC0 | (v >> 6))])
                out.append(table[Int(0x80 | (v & 0x3F))])
            } else if v < 0x10000 {
                out.append(table[Int(0xE0 | (v >> 12))])
                out.append(table[Int(0x80 | ((v >> 6) & 0x3F))])
                out.append(table[Int(0x80 | (v & 0x3F))])
            } else {
                out.append(table[Int(0xF0 | (v >> 18))])
                out.append(table[Int(0x80 | ((v >> 12) & 0x3F))])
                out.append(table[Int(0x80 | ((v >> 6) & 0x3F))])
                out.append(table[Int(0x80 | (v & 0x3F))])
            }
        }
    }

    /// Undoes the mapping for one token: its bytes, or nil if some character is outside the table (HF then uses
    /// the token's own UTF-8 bytes).
    static func unmap(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for s in token.unicodeScalars {
            let v = Int(s.value)
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
            bytes.append(UInt8(scalarToByte[v]))
        }
        return bytes
    }
}

extension Array where Element == UInt32 {
    init(scalarsOf string: String) {
        self = string.unicodeScalars.map(\.value)
    }

    var string: String {
        var s = String.UnicodeScalarView()
        for v in self { if let u = Unicode.Scalar(v) { s.append(u) } }
        return String(s)
    }
}

extension String {
    init(scalarValues: ArraySlice<UInt32>) {
        var s = String.UnicodeScalarView()
        for v in scalarValues { if let u = Unicode.Scalar(v) { s.append(u) } }
        self = String(s)
    }
}
