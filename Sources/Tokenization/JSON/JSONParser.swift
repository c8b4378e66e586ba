/// Where a JSON problem is: 1-based line and column (in bytes) within the text that was parsed.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A strict JSON parser (RFC 8259) over UTF-8 bytes that keeps key order and reports line and column.
///
/// Strings must be valid UTF-8; `\u` escapes with surrogate pairs are decoded; lone surrogates are an error
/// (Python's json would accept them, but they cannot become Swift strings without loss). Integers beyond 64 bits
/// become doubles (Python keeps them exact; the one place real files have them is `model_max_length = int(1e30)`).
public struct JSONParser {
    /// What a repeated key in one object means.
    public enum DuplicateKeys: Sendable {
        /// An error (data files: a repeated key is almost always a bug).
        case reject
        /// Python's `json.loads`: the last value wins, in the first key's position (chat-template contexts).
        case lastWins
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0
    private let firstLine: Int
    private let duplicates: DuplicateKeys

    /// Parses one JSON value filling the whole of `text`. `firstLine` numbers the first line of `text`
    /// (for a JSONL record, its line in the file).
    public static func parse(_ text: String, firstLine: Int = 1, duplicateKeys: DuplicateKeys = .reject) throws(JSONError) -> JSONValue {
        var copy = text
        let result: Result<JSONValue, JSONError> = copy.withUTF8 { bytes in
            do throws(JSONError) {
                return .success(try parse(bytes: bytes, firstLine: firstLine, duplicateKeys: duplicateKeys))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func parse(bytes: UnsafeBufferPointer<UInt8>, firstLine: Int = 1,
                             duplicateKeys: DuplicateKeys = .reject) throws(JSONError) -> JSONValue {
        var p = JSONParser(bytes: bytes, firstLine: firstLine, duplicates: duplicateKeys)
        p.skipWhitespace()
        if p.i == bytes.count { throw p.error("empty input, expected a JSON value", at: p.i) }
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        if p.i != bytes.count { throw p.error("unexpected \(p.describe(p.i)) after the JSON value", at: p.i) }
        return v
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, firstLine: Int, duplicates: DuplicateKeys) {
        self.bytes = bytes
        self.firstLine = firstLine
        self.duplicates = duplicates
    }

    // MARK: - Errors

    private func error(_ message: String, at offset: Int) -> JSONError {
        var line = firstLine, lineStart = 0
        var k = 0
        while k < min(offset, bytes.count) {
            if bytes[k] == 0x0A { line += 1; lineStart = k + 1 }
            k += 1
        }
        return JSONError(line: line, column: offset - lineStart + 1, message: message)
    }

    private func describe(_ offset: Int) -> String {
        guard offset < bytes.count else { return "end of input" }
        let b = bytes[offset]
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16, uppercase: true))"
    }

    // MARK: - Grammar

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        if depth > 512 { throw error("nesting deeper than 512 levels", at: i) }
        guard i < bytes.count else { throw error("unexpected end of input, expected a value", at: i) }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected \(describe(i)), expected a value", at: i)
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let start = i
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw error("invalid literal, expected \(word)", at: start) }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] {
            throw error("invalid literal, expected \(word)", at: start)
        }
        i += n
    }

    private mutating func object(depth: Int) throws(JSONError) -> JSONValue {
        let open = i
        i += 1
        var pairs: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
        while true {
            skipWhitespace()
            guard i < bytes.count else { throw error("unterminated object (opened here)", at: open) }
            guard bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key, found \(describe(i))", at: i) }
            let keyAt = i
            let key = try string()
            let existing = pairs.firstIndex { $0.key.unicodeScalars.elementsEqual(key.unicodeScalars) }   // by code point, as Python
            if existing != nil && duplicates == .reject { throw error("duplicate key \"\(key)\"", at: keyAt) }
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
                throw error("expected ':' after key \"\(key)\", found \(describe(i))", at: i)
            }
            i += 1
            skipWhitespace()
            let v = try value(depth: depth + 1)
            if let existing { pairs[existing].value = v } else { pairs.append((key, v)) }
            skipWhitespace()
            guard i < bytes.count else { throw error("unterminated object (opened here)", at: open) }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            throw error("expected ',' or '}' in object, found \(describe(i))", at: i)
        }
    }

    private mutating func array(depth: Int) throws(JSONError) -> JSONValue {
        let open = i
        i += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < bytes.count else { throw error("unterminated array (opened here)", at: open) }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw error("expected ',' or ']' in array, found \(describe(i))", at: i)
        }
    }

    private mutating func number() throws(JSONError) -> JSONValue {
        let start = i
        var isInteger = true
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        func digits() -> Int {
            let s = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            return i - s
        }
        guard i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 else { throw error("invalid number", at: start) }
        if bytes[i] == 0x30 {
            i += 1
            if i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { throw error("invalid number: leading zero", at: start) }
        } else {
            _ = digits()
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            if digits() == 0 { throw error("invalid number: no digits after '.'", at: start) }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            if digits() == 0 { throw error("invalid number: no digits in exponent", at: start) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        // Integers beyond 64 bits become doubles: real tokenizer_config.json files say
        // "model_max_length": 1000000000000000019884624838656 (Python's int(1e30)).
        if isInteger, let n = Int(text) { return .integer(n) }
        guard let d = Double(text) else { throw error("invalid number \(text)", at: start) }
        return .double(d)
    }

    private mutating func hex4() throws(JSONError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("truncated \\u escape", at: i) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw error("invalid hex digit in \\u escape", at: i)
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    private mutating func string() throws(JSONError) -> String {
        let open = i
        i += 1
        var out: [UInt8] = []
        var runStart = i
        while true {
            guard i < bytes.count else { throw error("unterminated string (opened here)", at: open) }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                i += 1
                break
            }
            if b < 0x20 { throw error("unescaped control character 0x\(String(b, radix: 16)) in string", at: i) }
            if b != UInt8(ascii: "\\") { i += 1; continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
            i += 1
            guard i < bytes.count else { throw error("unterminated escape", at: i) }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let at = i - 2
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw error("lone high surrogate in \\u escape", at: at)
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("invalid low surrogate in \\u escape", at: at) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("lone low surrogate in \\u escape", at: at)
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape", at: at) }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: i - 2)
            }
            runStart = i
        }
        guard let s = String(validating: out, as: UTF8.self) else {
            throw error("string is not valid UTF-8", at: open)
        }
        return s
    }
}
