// JSON in (messages, tools, tokenizer_config.json) and out (the `tojson` filter), keeping Python's dict order and
// Python's int/float distinction, which Foundation's JSONSerialization loses.

// MARK: - Parsing

/// A JSON syntax error with the line and column where parsing stopped.
public struct JinjaJSONError: Error, CustomStringConvertible {
    public let message: String
    public let line: Int
    public let column: Int
    public var description: String { "JSON error at line \(line), column \(column): \(message)" }
}

extension JinjaValue {
    /// Parses JSON like Python's `json.loads`: object key order kept, `1` an int and `1.0` / `1e3` a float,
    /// duplicate keys keep the last value in the first key's position.
    public static func parseJSON(_ text: String) throws -> JinjaValue {
        var parser = JinjaJSONReader(scalars: Array(text.unicodeScalars))
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.pos < parser.scalars.count { throw parser.error("extra data after the JSON value") }
        return value
    }
}

private struct JinjaJSONReader {
    let scalars: [Unicode.Scalar]
    var pos = 0

    func error(_ message: String) -> JinjaJSONError {
        var line = 1
        var column = 1
        for s in scalars[..<min(pos, scalars.count)] {
            if s == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return JinjaJSONError(message: message, line: line, column: column)
    }

    mutating func skipWhitespace() {
        while pos < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[pos]) { pos += 1 }
    }

    mutating func expect(_ word: String, _ value: JinjaValue) throws -> JinjaValue {
        for s in word.unicodeScalars {
            guard pos < scalars.count, scalars[pos] == s else { throw error("invalid literal, expected \(word)") }
            pos += 1
        }
        return value
    }

    mutating func parseValue(depth: Int) throws -> JinjaValue {
        guard depth < 512 else { throw error("nesting too deep") }
        guard pos < scalars.count else { throw error("unexpected end of input") }
        switch scalars[pos] {
        case "{":
            pos += 1
            var dict = JinjaDict()
            skipWhitespace()
            if pos < scalars.count, scalars[pos] == "}" { pos += 1; return .dict(dict) }
            while true {
                skipWhitespace()
                guard pos < scalars.count, scalars[pos] == "\"" else { throw error("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard pos < scalars.count, scalars[pos] == ":" else { throw error("expected ':'") }
                pos += 1
                skipWhitespace()
                dict[key] = try parseValue(depth: depth + 1)
                skipWhitespace()
                guard pos < scalars.count else { throw error("unterminated object") }
                if scalars[pos] == "," { pos += 1; continue }
                if scalars[pos] == "}" { pos += 1; return .dict(dict) }
                throw error("expected ',' or '}'")
            }
        case "[":
            pos += 1
            var items: [JinjaValue] = []
            skipWhitespace()
            if pos < scalars.count, scalars[pos] == "]" { pos += 1; return .list(items) }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard pos < scalars.count else { throw error("unterminated array") }
                if scalars[pos] == "," { pos += 1; continue }
                if scalars[pos] == "]" { pos += 1; return .list(items) }
                throw error("expected ',' or ']'")
            }
        case "\"": return .string(try parseString())
        case "t": return try expect("true", .bool(true))
        case "f": return try expect("false", .bool(false))
        case "n": return try expect("null", .none)
        case "N": return try expect("NaN", .double(.nan))
        case "I": return try expect("Infinity", .double(.infinity))
        default: return try parseNumber()
        }
    }

    mutating func parseNumber() throws -> JinjaValue {
        let start = pos
        var isFloat = false
        if pos < scalars.count, scalars[pos] == "-" { pos += 1 }
        if pos < scalars.count, scalars[pos] == "I" { _ = try expect("Infinity", .none); return .double(-.infinity) }
        while pos < scalars.count {
            let s = scalars[pos]
            if ("0"..."9").contains(s) { pos += 1 } else if s == "." || s == "e" || s == "E" || s == "+" || s == "-" {
                isFloat = true
                pos += 1
            } else { break }
        }
        let text = String(String.UnicodeScalarView(scalars[start..<pos]))
        if text.isEmpty || text == "-" { pos = start; throw error("unexpected character") }
        if !isFloat {
            // Python keeps big integers exact; turning one into a float would print different digits.
            guard let i = Int(text) else { pos = start; throw error("integer \(text) does not fit in 64 bits") }
            return .int(i)
        }
        if let d = Double(text) { return .double(d) }
        pos = start
        throw error("invalid number '\(text)'")
    }

    mutating func parseString() throws -> String {
        pos += 1  // opening quote
        var out = String.UnicodeScalarView()
        while true {
            guard pos < scalars.count else { throw error("unterminated string") }
            let s = scalars[pos]
            pos += 1
            if s == "\"" { return String(out) }
            if s != "\\" { out.append(s); continue }
            guard pos < scalars.count else { throw error("unterminated escape") }
            let e = scalars[pos]
            pos += 1
            switch e {
            case "\"": out.append("\"")
            case "\\": out.append("\\")
            case "/": out.append("/")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "u":
                var code = try parseHex4()
                if (0xD800..<0xDC00).contains(code), pos + 1 < scalars.count, scalars[pos] == "\\", scalars[pos + 1] == "u" {
                    let save = pos
                    pos += 2
                    let low = try parseHex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else { pos = save }
                }
                // A lone surrogate cannot live in a Swift String; Python would keep it. Refuse rather than alter it.
                guard let scalar = Unicode.Scalar(code) else { throw error("lone surrogate \\u\(jinjaHex(code, width: 4))") }
                out.append(scalar)
            default: throw error("invalid escape '\\\(e)'")
            }
        }
    }

    mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= scalars.count else { throw error("truncated \\u escape") }
        let text = String(String.UnicodeScalarView(scalars[pos..<pos + 4]))
        guard let v = UInt32(text, radix: 16) else { throw error("invalid \\u escape") }
        pos += 4
        return v
    }
}

// MARK: - Writing (Python json.dumps)

/// Options of Python's `json.dumps` that transformers' `tojson` filter exposes.
struct JinjaJSONOptions {
    var indent: String?
    var itemSeparator: String
    var keySeparator: String
    var sortKeys = false
    var ensureASCII = false

    /// Python's defaults: `', '` and `': '` without indent, `','` and `': '` with one.
    init(indent: String?, separators: (String, String)? = nil, sortKeys: Bool = false, ensureASCII: Bool = false) {
        self.indent = indent
        self.itemSeparator = separators?.0 ?? (indent == nil ? ", " : ",")
        self.keySeparator = separators?.1 ?? ": "
        self.sortKeys = sortKeys
        self.ensureASCII = ensureASCII
    }
}

extension JinjaValue {
    /// `json.dumps(value, ...)` byte for byte; undefined values, namespaces and functions are not serializable,
    /// exactly as in Python.
    func pythonJSON(_ options: JinjaJSONOptions, level: Int = 0) throws -> String {
        switch self {
        case .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            return pythonFloatRepr(d)
        case .string(let s): return pythonJSONString(s, ensureASCII: options.ensureASCII)
        case .list(let items), .tuple(let items):
            if items.isEmpty { return "[]" }
            let parts = try items.map { try $0.pythonJSON(options, level: level + 1) }
            return wrap("[", parts, "]", options, level)
        case .dict(let d):
            if d.isEmpty { return "{}" }
            var pairs = d.pairs
            if options.sortKeys { pairs.sort { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) } }
            let parts = try pairs.map {
                pythonJSONString($0.0, ensureASCII: options.ensureASCII) + options.keySeparator
                    + (try $0.1.pythonJSON(options, level: level + 1))
            }
            return wrap("{", parts, "}", options, level)
        case .undefined, .namespace, .callable, .generator, .view:
            throw jinjaRenderError("Object of type \(typeName) is not JSON serializable")
        }
    }
}

private func wrap(_ open: String, _ parts: [String], _ close: String, _ options: JinjaJSONOptions, _ level: Int) -> String {
    guard let indent = options.indent else { return open + parts.joined(separator: options.itemSeparator) + close }
    let inner = "\n" + String(repeating: indent, count: level + 1)
    let outer = "\n" + String(repeating: indent, count: level)
    return open + inner + parts.joined(separator: options.itemSeparator + inner) + outer + close
}

/// Python's JSON string encoder: escapes `"` `\` and control characters; with `ensure_ascii`, everything past
/// ASCII as `\uXXXX` (UTF-16 surrogate pairs above the BMP).
func pythonJSONString(_ s: String, ensureASCII: Bool) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 || (ensureASCII && scalar.value == 0x7F) {
                out += "\\u" + jinjaHex(scalar.value, width: 4)
            } else if ensureASCII && scalar.value > 0x7F {
                for unit in String(scalar).utf16 { out += "\\u" + jinjaHex(UInt32(unit), width: 4) }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
