// The values a chat template sees and produces, modelled on the Python objects jinja2 works with.

// MARK: - Ordered dictionary

/// A string-keyed dictionary that keeps insertion order, like a Python 3.7+ `dict`.
///
/// Order matters because templates print tool schemas with `tojson`, and transformers' `json.dumps(..., sort_keys=False)`
/// writes keys in the order the caller gave them. Swift's `Dictionary` would shuffle them.
public struct JinjaDict: Sendable {
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    public init() {}

    public init(_ pairs: [(String, JinjaValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Key/value pairs in insertion order.
    public var pairs: [(String, JinjaValue)] { keys.map { ($0, storage[$0] ?? .none) } }
    public var values: [JinjaValue] { keys.map { storage[$0] ?? .none } }
}

// MARK: - Reference types (namespace, callables)

/// `namespace(...)` objects: the one mutable thing templates have (`{% set ns.found = true %}` inside a loop must be
/// visible after the loop), so it is a class shared by every variable that refers to it.
public final class JinjaNamespace: @unchecked Sendable {
    public var attributes: JinjaDict
    public init(_ attributes: JinjaDict = JinjaDict()) { self.attributes = attributes }
}

/// Arguments of a call as jinja2 passes them: positional values, then keyword values in source order.
public struct JinjaArguments: Sendable {
    public var positional: [JinjaValue]
    public var keyword: JinjaDict
    public init(_ positional: [JinjaValue] = [], keyword: JinjaDict = JinjaDict()) {
        self.positional = positional
        self.keyword = keyword
    }
}

/// A function a template can call: a global (`raise_exception`, `range`), a macro, or a bound method (`'a'.upper`).
public final class JinjaCallable: @unchecked Sendable {
    public let name: String
    let body: (JinjaArguments) throws -> JinjaValue
    public init(name: String, body: @escaping (JinjaArguments) throws -> JinjaValue) {
        self.name = name
        self.body = body
    }
}

// MARK: - Value

/// A value inside a template: JSON-like data plus the few Python objects templates create.
///
/// Integers and floats stay distinct because Python prints them differently (`1` vs `1.0`) and templates can observe it.
public enum JinjaValue: Sendable {
    /// jinja2's default `Undefined`: prints as nothing, is falsy, iterates as empty, but fails when its attributes are
    /// read. The string says what was missing, for error messages.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([JinjaValue])
    case tuple([JinjaValue])
    case dict(JinjaDict)
    case namespace(JinjaNamespace)
    case callable(JinjaCallable)
    /// What jinja2's `select`, `reject`, `map`, `batch`, `items`, `unique` return: a Python generator. It is
    /// always truthy, has no `len()`, and iterates once; its items are computed eagerly here. The string names
    /// the filter, for errors.
    case generator([JinjaValue], String)
    /// `dict.keys()/values()/items()` and `range(...)`: sized, iterable, but printed as `dict_keys([...])` or
    /// `range(0, 3)`, not JSON-serializable, and (except ranges) not subscriptable — as in Python.
    case view(JinjaView)

    public static func object(_ pairs: KeyValuePairs<String, JinjaValue>) -> JinjaValue {
        .dict(JinjaDict(pairs.map { ($0.key, $0.value) }))
    }

    public var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

    /// The Python type name, used in error messages the way Python words them ("'int' object ...").
    public var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        case .generator: return "generator"
        case .view(let v): return v.typeName
        }
    }

    /// Python truthiness (`bool(x)`).
    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace, .callable, .generator: return true
        case .view(let v): return !v.items.isEmpty
        }
    }
}

/// A Python dict view or range object (see `JinjaValue.view`).
public struct JinjaView: Sendable {
    public enum Kind: Sendable, Equatable {
        case keys, values, items
        case range(start: Int, stop: Int, step: Int)
    }
    public let kind: Kind
    public let items: [JinjaValue]

    var typeName: String {
        switch kind {
        case .keys: return "dict_keys"
        case .values: return "dict_values"
        case .items: return "dict_items"
        case .range: return "range"
        }
    }

    var repr: String {
        switch kind {
        case .range(let start, let stop, let step):
            return step == 1 ? "range(\(start), \(stop))" : "range(\(start), \(stop), \(step))"
        default:
            return typeName + "(" + JinjaValue.list(items).pythonRepr + ")"
        }
    }
}

// MARK: - Python str() / repr()

extension JinjaValue {
    /// What `{{ value }}` prints: Python's `str(value)`, with undefined printing as the empty string.
    public var pythonStr: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return pythonRepr
        }
    }

    /// Python's `repr(value)`, which is how containers print their elements (`['a', 1, None]`).
    public var pythonRepr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pythonFloatRepr(d)
        case .string(let s): return pythonStringRepr(s)
        case .list(let items): return "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .tuple(let items):
            if items.count == 1 { return "(" + items[0].pythonRepr + ",)" }
            return "(" + items.map(\.pythonRepr).joined(separator: ", ") + ")"
        case .dict(let d):
            return "{" + d.pairs.map { pythonStringRepr($0.0) + ": " + $0.1.pythonRepr }.joined(separator: ", ") + "}"
        case .namespace(let ns): return "<Namespace " + JinjaValue.dict(ns.attributes).pythonRepr + ">"
        case .callable(let c): return "<function \(c.name)>"
        case .generator(_, let name): return "<generator object \(name)>"
        case .view(let v): return v.repr
        }
    }
}

/// Python's `float.__repr__`: the shortest string that round-trips, `1.0` not `1`, exponent form below 1e-4 and
/// from 1e16 on. Swift's `description` uses the same shortest-digits algorithm; only the layout is adjusted here.
func pythonFloatRepr(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
    // Decompose Swift's shortest representation into digits and a decimal exponent, then lay out like Python.
    let desc = abs(d).description
    var mantissa = desc
    var exp10 = 0
    if let e = desc.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        mantissa = String(desc[..<e])
        exp10 = Int(desc[desc.index(after: e)...]) ?? 0
    }
    var intPart = mantissa
    var fracPart = ""
    if let dot = mantissa.firstIndex(of: ".") {
        intPart = String(mantissa[..<dot])
        fracPart = String(mantissa[mantissa.index(after: dot)...])
    }
    var digits = intPart + fracPart
    var pointPos = intPart.count + exp10  // digits[0..<pointPos] are before the decimal point
    while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); pointPos -= 1 }
    while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
    let sciExp = pointPos - 1
    var out: String
    if sciExp < -4 || sciExp >= 16 {
        out = String(digits.first!)
        if digits.count > 1 { out += "." + digits.dropFirst() }
        out += "e" + (sciExp < 0 ? "-" : "+") + (abs(sciExp) < 10 ? "0" : "") + String(abs(sciExp))
    } else if pointPos <= 0 {
        out = "0." + String(repeating: "0", count: -pointPos) + digits
    } else if pointPos >= digits.count {
        out = digits + String(repeating: "0", count: pointPos - digits.count) + ".0"
    } else {
        let idx = digits.index(digits.startIndex, offsetBy: pointPos)
        out = digits[..<idx] + "." + digits[idx...]
    }
    return d < 0 ? "-" + out : out
}

/// Python's `repr(str)`: single quotes unless the text holds a single quote and no double quote; escapes for
/// backslash, the quote, `\n \r \t`, and `\x`/`\u`/`\U` for characters Python deems unprintable.
func pythonStringRepr(_ s: String) -> String {
    let quote: Character = (s.contains("'") && !s.contains("\"")) ? "\"" : "'"
    var out = String(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(scalar) == quote {
                out += "\\" + String(quote)
            } else if isPythonPrintable(scalar) {
                out.unicodeScalars.append(scalar)
            } else if scalar.value < 0x100 {
                out += "\\x" + jinjaHex(scalar.value, width: 2)
            } else if scalar.value < 0x10000 {
                out += "\\u" + jinjaHex(scalar.value, width: 4)
            } else {
                out += "\\U" + jinjaHex(scalar.value, width: 8)
            }
        }
    }
    out.append(quote)
    return out
}

private func isPythonPrintable(_ scalar: Unicode.Scalar) -> Bool {
    if scalar == " " { return true }
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return false
    default:
        return true
    }
}

func jinjaHex(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
