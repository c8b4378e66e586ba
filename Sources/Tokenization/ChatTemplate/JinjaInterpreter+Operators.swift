// Python operator semantics for template expressions: numeric promotion (bool < int < float), string and list
// concatenation, true division, floor division and modulo with Python's signs, chained comparisons, `in`.

import Foundation

/// A number as Python sees it: bools are ints.
enum PyNumber {
    case int(Int)
    case double(Double)

    init?(_ v: JinjaValue) {
        switch v {
        case .bool(let b): self = .int(b ? 1 : 0)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        default: return nil
        }
    }

    var double: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        }
    }
}

/// Python's `str.isspace` per character (Swift's White_Space plus the ASCII separators \x1c-\x1f).
func pyIsSpace(_ s: Unicode.Scalar) -> Bool {
    s.properties.isWhitespace || (0x1C...0x1F).contains(s.value)
}

/// First index of `needle` in `hay`, comparing Unicode scalars as Python does. Swift's `String.contains` compares
/// grapheme clusters, so it would not find "\n" inside "\r\n" — Python does.
func pyFind(_ hay: [Unicode.Scalar], _ needle: [Unicode.Scalar], from start: Int = 0) -> Int? {
    if needle.isEmpty { return start <= hay.count ? start : nil }
    guard needle.count <= hay.count else { return nil }
    var i = start
    while i + needle.count <= hay.count {
        if hay[i] == needle[0] && hay[i..<i + needle.count].elementsEqual(needle) { return i }
        i += 1
    }
    return nil
}

/// Python `==`.
func pyEquals(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
    if let x = PyNumber(a), let y = PyNumber(b) {
        if case .int(let i) = x, case .int(let j) = y { return i == j }
        return x.double == y.double
    }
    switch (a, b) {
    case (.undefined, .undefined), (.none, .none): return true
    case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { pyEquals($0, $1) }
    case (.dict(let x), .dict(let y)):
        return x.count == y.count && x.pairs.allSatisfy { k, v in y[k].map { pyEquals(v, $0) } ?? false }
    case (.namespace(let x), .namespace(let y)): return x === y
    case (.view(let x), .view(let y)):
        switch (x.kind, y.kind) {
        case (.range, .range): return x.items.count == y.items.count && zip(x.items, y.items).allSatisfy { pyEquals($0, $1) }
        case (.keys, .keys), (.items, .items):  // set-like: same members in any order
            return x.items.count == y.items.count && x.items.allSatisfy { a in y.items.contains { pyEquals(a, $0) } }
        default: return false  // dict_values compare by identity in Python
        }
    case (.callable(let x), .callable(let y)): return x === y
    default: return false
    }
}

/// Python `<` (raising TypeError for unorderable operands, as Python does).
func pyLess(_ a: JinjaValue, _ b: JinjaValue) throws -> Bool {
    if let x = PyNumber(a), let y = PyNumber(b) {
        if case .int(let i) = x, case .int(let j) = y { return i < j }
        return x.double < y.double
    }
    switch (a, b) {
    case (.string(let x), .string(let y)):
        return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        for (p, q) in zip(x, y) where !pyEquals(p, q) { return try pyLess(p, q) }
        return x.count < y.count
    case (.undefined(let why), _), (_, .undefined(let why)):
        throw jinjaRenderError(why)
    default:
        throw jinjaRenderError("'<' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
    }
}

extension JinjaInterpreter {
    func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> Bool {
        switch op {
        case "==": return pyEquals(a, b)
        case "!=": return !pyEquals(a, b)
        case "<": return try pyLess(a, b)
        case ">": return try pyLess(b, a)
        case "<=": return try pyLess(a, b) || pyEquals(a, b)
        case ">=": return try pyLess(b, a) || pyEquals(a, b)
        case "in": return try contains(b, a)
        case "notin": return !(try contains(b, a))
        default: throw jinjaRenderError("unknown comparison '\(op)'")
        }
    }

    /// Python `needle in container`.
    func contains(_ container: JinjaValue, _ needle: JinjaValue) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let n) = needle else {
                throw jinjaRenderError("'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            return pyFind(Array(s.unicodeScalars), Array(n.unicodeScalars)) != nil
        case .list(let items), .tuple(let items), .generator(let items, _):
            return items.contains { pyEquals($0, needle) }
        case .view(let v):
            return v.items.contains { pyEquals($0, needle) }
        case .dict(let d):
            switch needle {
            case .string(let k): return d[k] != nil
            case .list, .dict, .namespace: throw jinjaRenderError("unhashable type: '\(needle.typeName)'")
            default: return false
            }
        case .undefined:
            return false
        case .namespace(let ns):
            if case .string(let k) = needle { return ns.attributes[k] != nil }
            return false
        default:
            throw jinjaRenderError("argument of type '\(container.typeName)' is not iterable")
        }
    }

    func unaryOperation(_ op: String, _ v: JinjaValue) throws -> JinjaValue {
        if case .undefined(let why) = v { throw jinjaRenderError(why) }
        guard let n = PyNumber(v) else {
            throw jinjaRenderError("bad operand type for unary \(op): '\(v.typeName)'")
        }
        switch (op, n) {
        case ("-", .int(let i)):
            let (r, overflow) = (0).subtractingReportingOverflow(i)
            if overflow { throw jinjaRenderError("integer overflow") }
            return .int(r)
        case ("-", .double(let d)): return .double(-d)
        case (_, .int(let i)): return .int(i)
        case (_, .double(let d)): return .double(d)
        }
    }

    func binaryOperation(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> JinjaValue {
        if case .undefined(let why) = a { throw jinjaRenderError(why) }
        if case .undefined(let why) = b { throw jinjaRenderError(why) }
        if let x = PyNumber(a), let y = PyNumber(b) { return try arithmetic(op, x, y) }
        switch (op, a, b) {
        case ("+", .string(let x), .string(let y)): return .string(x + y)
        case ("+", .list(let x), .list(let y)): return .list(x + y)
        case ("+", .tuple(let x), .tuple(let y)): return .tuple(x + y)
        case ("*", .string(let s), _), ("*", _, .string(let s)):
            guard let n = PyNumber(a == .string(s) ? b : a), case .int(let count) = n else { break }
            return .string(String(repeating: s, count: max(0, count)))
        case ("*", .list(let items), _), ("*", _, .list(let items)):
            guard let n = PyNumber(b.isList ? a : b), case .int(let count) = n else { break }
            return .list(Array([[JinjaValue]](repeating: items, count: max(0, count)).joined()))
        case ("%", .string(let format), _):
            return .string(try percentFormat(format, b))
        default: break
        }
        if op == "+", case .string = a {
            throw jinjaRenderError("can only concatenate str (not \"\(b.typeName)\") to str")
        }
        if op == "+", case .list = a {
            throw jinjaRenderError("can only concatenate list (not \"\(b.typeName)\") to list")
        }
        throw jinjaRenderError("unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
    }

    private func arithmetic(_ op: String, _ x: PyNumber, _ y: PyNumber) throws -> JinjaValue {
        if case .int(let i) = x, case .int(let j) = y {
            func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> JinjaValue {
                if r.overflow { throw jinjaRenderError("integer overflow in '\(op)'") }
                return .int(r.partialValue)
            }
            switch op {
            case "+": return try checked(i.addingReportingOverflow(j))
            case "-": return try checked(i.subtractingReportingOverflow(j))
            case "*": return try checked(i.multipliedReportingOverflow(by: j))
            case "/":
                if j == 0 { throw jinjaRenderError("division by zero") }
                return .double(Double(i) / Double(j))
            case "//":
                if j == 0 { throw jinjaRenderError("integer division or modulo by zero") }
                var q = i / j
                if (i % j != 0) && ((i < 0) != (j < 0)) { q -= 1 }
                return .int(q)
            case "%":
                if j == 0 { throw jinjaRenderError("integer division or modulo by zero") }
                var r = i % j
                if r != 0 && ((r < 0) != (j < 0)) { r += j }
                return .int(r)
            case "**":
                if j < 0 {
                    if i == 0 { throw jinjaRenderError("0.0 cannot be raised to a negative power") }
                    return .double(pow(Double(i), Double(j)))
                }
                var result = 1
                for _ in 0..<j { result = try checked(result.multipliedReportingOverflow(by: i)).intPayload }
                return .int(result)
            default: break
            }
        }
        let a = x.double
        let b = y.double
        switch op {
        case "+": return .double(a + b)
        case "-": return .double(a - b)
        case "*": return .double(a * b)
        case "/":
            if b == 0 { throw jinjaRenderError("float division by zero") }
            return .double(a / b)
        case "//":
            if b == 0 { throw jinjaRenderError("float floor division by zero") }
            return .double((a / b).rounded(.down))
        case "%":
            if b == 0 { throw jinjaRenderError("float modulo") }
            var r = fmod(a, b)
            if r != 0 && ((r < 0) != (b < 0)) { r += b }
            return .double(r)
        case "**":
            if a == 0 && b < 0 { throw jinjaRenderError("0.0 cannot be raised to a negative power") }
            // Python returns a complex number here; templates have no use for one, so refuse it.
            if a < 0 && b.isFinite && b.rounded() != b { throw jinjaRenderError("complex results of '**' are not supported") }
            return .double(pow(a, b))
        default: throw jinjaRenderError("unknown operator '\(op)'")
        }
    }

    /// Python's printf-style `format % values` for the conversions templates use (`%s`, `%r`, `%d`, `%i`, `%%`).
    func percentFormat(_ format: String, _ values: JinjaValue) throws -> String {
        var args: [JinjaValue]
        if case .tuple(let items) = values { args = items } else { args = [values] }
        var out = ""
        var chars = Array(format.unicodeScalars)[...]
        while let c = chars.popFirst() {
            guard c == "%" else { out.unicodeScalars.append(c); continue }
            guard let conv = chars.popFirst() else { throw jinjaRenderError("incomplete format") }
            if conv == "%" { out += "%"; continue }
            guard !args.isEmpty else { throw jinjaRenderError("not enough arguments for format string") }
            let arg = args.removeFirst()
            switch conv {
            case "s": out += arg.pythonStr
            case "r": out += arg.pythonRepr
            case "d", "i":
                guard let n = PyNumber(arg) else { throw jinjaRenderError("%d format: a real number is required, not \(arg.typeName)") }
                switch n {
                case .int(let i): out += String(i)
                case .double(let d): out += String(Int(d.rounded(.towardZero)))
                }
            default:
                throw jinjaRenderError("'%\(conv)' string formatting is not supported by Whittle's template engine")
            }
        }
        if !args.isEmpty {
            // Python ignores a lone mapping argument with no conversions; anything else left over is an error.
            if case .dict = values {} else { throw jinjaRenderError("not all arguments converted during string formatting") }
        }
        return out
    }
}

extension JinjaValue {
    var isList: Bool { if case .list = self { return true } else { return false } }
    fileprivate var intPayload: Int { if case .int(let i) = self { return i } else { return 0 } }
}

/// Equality is Python's `==` (so `1 == 1.0 == True`), which is what templates compare with.
extension JinjaValue: Equatable {
    public static func == (lhs: JinjaValue, rhs: JinjaValue) -> Bool { pyEquals(lhs, rhs) }
}
