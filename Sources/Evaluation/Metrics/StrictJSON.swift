/// Whether a text is exactly one JSON value under RFC 8259's grammar (optionally surrounded by JSON whitespace:
/// space, tab, LF, CR).
///
/// Differences from Python's `json.loads`, the reference: Python also accepts `NaN`, `Infinity` and `-Infinity`
/// (rejected here, as RFC 8259 does; the fixture generator rejects them through `parse_constant`), and Python
/// raises `RecursionError` on nesting about a thousand levels deep, which this validator accepts (it keeps an explicit
/// stack, so any depth is safe). Like Python, escaped lone surrogates (`"\ud800"`) and duplicate keys are accepted,
/// and raw control characters (U+0000…U+001F) inside strings are not.
public enum StrictJSON {
    public static func isValid(_ text: String) -> Bool {
        var v = Validator(bytes: Array(text.utf8))
        return v.document()
    }

    private struct Validator {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        enum Container { case array, object }

        mutating func document() -> Bool {
            skipSpace()
            var stack: [Container] = []
            // Parse a value; containers push and continue the loop instead of recursing.
            value: while true {
                skipSpace()
                guard i < bytes.count else { return false }
                switch bytes[i] {
                case UInt8(ascii: "{"):
                    i += 1
                    skipSpace()
                    if peek(UInt8(ascii: "}")) { i += 1 } else {
                        stack.append(.object)
                        guard key() else { return false }
                        continue value
                    }
                case UInt8(ascii: "["):
                    i += 1
                    skipSpace()
                    if peek(UInt8(ascii: "]")) { i += 1 } else {
                        stack.append(.array)
                        continue value
                    }
                case UInt8(ascii: "\""):
                    guard string() else { return false }
                case UInt8(ascii: "t"): guard literal("true") else { return false }
                case UInt8(ascii: "f"): guard literal("false") else { return false }
                case UInt8(ascii: "n"): guard literal("null") else { return false }
                default: guard number() else { return false }
                }
                // A value is complete: close containers or move to the next element.
                while true {
                    skipSpace()
                    guard let top = stack.last else {
                        return i == bytes.count
                    }
                    guard i < bytes.count else { return false }
                    let c = bytes[i]
                    if c == UInt8(ascii: ",") {
                        i += 1
                        if top == .object { skipSpace(); guard key() else { return false } }
                        continue value
                    }
                    if (top == .array && c == UInt8(ascii: "]")) || (top == .object && c == UInt8(ascii: "}")) {
                        i += 1
                        stack.removeLast()
                        continue
                    }
                    return false
                }
            }
        }

        /// `string ws ":"`, leaving `i` before the member's value.
        mutating func key() -> Bool {
            guard peek(UInt8(ascii: "\"")), string() else { return false }
            skipSpace()
            guard peek(UInt8(ascii: ":")) else { return false }
            i += 1
            return true
        }

        func peek(_ c: UInt8) -> Bool { i < bytes.count && bytes[i] == c }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { return false }
            let p = word.utf8Start
            for k in 0..<n where bytes[i + k] != p[k] { return false }
            i += n
            return true
        }

        static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        static func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() -> Bool {
            if peek(UInt8(ascii: "-")) { i += 1 }
            guard i < bytes.count, Self.isDigit(bytes[i]) else { return false }
            if bytes[i] == UInt8(ascii: "0") { i += 1 } else { while i < bytes.count && Self.isDigit(bytes[i]) { i += 1 } }
            if peek(UInt8(ascii: ".")) {
                i += 1
                guard i < bytes.count, Self.isDigit(bytes[i]) else { return false }
                while i < bytes.count && Self.isDigit(bytes[i]) { i += 1 }
            }
            if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
                i += 1
                if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { i += 1 }
                guard i < bytes.count, Self.isDigit(bytes[i]) else { return false }
                while i < bytes.count && Self.isDigit(bytes[i]) { i += 1 }
            }
            return true
        }

        /// A quoted string starting at `i`: no raw control characters, only the eight escapes and `\uXXXX`.
        mutating func string() -> Bool {
            i += 1
            while i < bytes.count {
                let c = bytes[i]
                switch c {
                case UInt8(ascii: "\""):
                    i += 1
                    return true
                case UInt8(ascii: "\\"):
                    i += 1
                    guard i < bytes.count else { return false }
                    switch bytes[i] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        i += 1
                    case UInt8(ascii: "u"):
                        guard i + 4 < bytes.count, (1...4).allSatisfy({ Self.isHex(bytes[i + $0]) }) else { return false }
                        i += 5
                    default:
                        return false
                    }
                case 0x00..<0x20:
                    return false
                default:
                    i += 1
                }
            }
            return false
        }
    }
}
