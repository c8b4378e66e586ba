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
    /// duplicate keys keep the last value in the first key's position. (The target's one JSON parser,
    /// `JSONParser`, in its Python mode.)
    public static func parseJSON(_ text: String) throws -> JinjaValue {
        do {
            return JinjaValue(json: try JSONParser.parse(text, duplicateKeys: .lastWins))
        } catch {
            throw JinjaJSONError(message: error.message, line: error.line, column: error.column)
        }
    }

    /// The template value of a JSON value (data records' messages and tools reach templates this way).
    public init(json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .integer(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .list(a.map(JinjaValue.init(json:)))
        case .object(let pairs): self = .dict(JinjaDict(pairs.map { ($0.key, JinjaValue(json: $0.value)) }))
        }
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

/// Python's JSON string encoder (the target's one, `JSONValue.quoted`).
func pythonJSONString(_ s: String, ensureASCII: Bool) -> String { JSONValue.quoted(s, ensureASCII: ensureASCII) }
