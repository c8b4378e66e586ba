// jinja2 3.1's builtin filters and tests (jinja2/filters.py, jinja2/tests.py) with transformers' `tojson` override.
// Each follows the Python signature, so keyword and positional arguments bind as they do in jinja2.

import Foundation

/// Filters Whittle implements. The parser rejects any other name at parse time, as jinja2 does at compile time.
let jinjaSupportedFilters: Set<String> = [
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first",
    "float", "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max",
    "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
    "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount",
]

/// jinja2 builtin filters Whittle does not implement: named in the error so the user knows it is a gap, not a typo.
let jinjaUnsupportedFilters: Set<String> = [
    "filesizeformat", "groupby", "pprint", "random", "slice", "striptags", "urlencode", "urlize",
    "wordwrap", "xmlattr",
]

let jinjaSupportedTests: Set<String> = [
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter", "float",
    "ge", "gt", "greaterthan", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none",
    "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper",
    "==", "!=", "<", "<=", ">", ">=",
]

extension JinjaArguments {
    /// Binds arguments to a Python-style parameter list (`names`), rejecting extra or unknown arguments.
    func bind(_ names: [String], to function: String) throws -> [JinjaValue?] {
        guard positional.count <= names.count else {
            throw jinjaRenderError("\(function) takes at most \(names.count) argument(s) (\(positional.count) given)")
        }
        var out: [JinjaValue?] = positional.map { Optional($0) } + Array(repeating: nil, count: names.count - positional.count)
        for (key, value) in keyword.pairs {
            guard let i = names.firstIndex(of: key) else {
                throw jinjaRenderError("\(function) got an unexpected keyword argument '\(key)'")
            }
            if out[i] != nil { throw jinjaRenderError("\(function) got multiple values for argument '\(key)'") }
            out[i] = value
        }
        return out
    }
}

/// A stable merge sort whose comparison may throw (Python's `sorted` is stable and raises on unorderable items).
func jinjaStableSorted<T>(_ items: [T], by less: (T, T) throws -> Bool) throws -> [T] {
    if items.count < 2 { return items }
    let mid = items.count / 2
    let left = try jinjaStableSorted(Array(items[..<mid]), by: less)
    let right = try jinjaStableSorted(Array(items[mid...]), by: less)
    var out: [T] = []
    out.reserveCapacity(items.count)
    var i = 0
    var j = 0
    while i < left.count && j < right.count {
        if try less(right[j], left[i]) { out.append(right[j]); j += 1 } else { out.append(left[i]); i += 1 }
    }
    out += left[i...]
    out += right[j...]
    return out
}

extension JinjaInterpreter {
    func applyFilter(_ name: String, _ value: JinjaValue, _ argExprs: [JinjaArg], _ scope: JinjaScope) throws -> JinjaValue {
        try filter(name, value, try evaluateArguments(argExprs, scope))
    }

    /// Lowercases strings for jinja2's case-insensitive sort/unique/min/max (`ignore_case`).
    private func ignoreCase(_ v: JinjaValue, _ caseSensitive: Bool) -> JinjaValue {
        if !caseSensitive, case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// jinja2 `make_attrgetter`: a dotted path whose parts are looked up with `getitem` (digits become indexes).
    private func attributePath(_ item: JinjaValue, _ path: JinjaValue?) throws -> JinjaValue {
        guard let path, !path.isNone else { return item }
        var current = item
        let parts: [JinjaValue]
        if case .string(let s) = path {
            parts = s.split(separator: ".", omittingEmptySubsequences: false).map { p in Int(p).map { .int($0) } ?? .string(String(p)) }
        } else {
            parts = [path]
        }
        for part in parts { current = try getItem(current, part) }
        return current
    }

    func filter(_ name: String, _ value: JinjaValue, _ args: JinjaArguments) throws -> JinjaValue {
        let fn = "filter '\(name)'"
        switch name {
        case "abs":
            _ = try args.bind([], to: fn)
            guard let n = PyNumber(value) else { throw jinjaRenderError("bad operand type for abs(): '\(value.typeName)'") }
            switch n {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            }
        case "attr":
            let a = try args.bind(["name"], to: fn)
            guard case .string(let attribute)? = a[0] else { throw jinjaRenderError("attr filter needs a string name") }
            if case .undefined(let why) = value { throw jinjaRenderError(why) }
            if case .namespace(let ns) = value { return ns.attributes[attribute] ?? .undefined("'Namespace' object has no attribute '\(attribute)'") }
            return boundMethod(value, attribute) ?? .undefined("'\(value.typeName) object' has no attribute '\(attribute)'")
        case "batch":
            let a = try args.bind(["linecount", "fill_with"], to: fn)
            guard case .int(let n)? = a[0], n > 0 else { throw jinjaRenderError("batch needs a positive integer") }
            var rows: [JinjaValue] = []
            var row: [JinjaValue] = []
            for item in try iterate(value) {
                if row.count == n { rows.append(.list(row)); row = [] }
                row.append(item)
            }
            if !row.isEmpty {
                if let fill = a[1], !fill.isNone { while row.count < n { row.append(fill) } }
                rows.append(.list(row))
            }
            return .generator(rows, "do_batch")
        case "capitalize":
            _ = try args.bind([], to: fn)
            return .string(pyCapitalize(value.pythonStr))
        case "center":
            let a = try args.bind(["width"], to: fn)
            let width = a[0].flatMap { PyNumber($0) }.map { Int($0.double) } ?? 80
            return .string(pyCenter(value.pythonStr, width))
        case "count", "length":
            _ = try args.bind([], to: fn)
            return .int(try pyLen(value))
        case "d", "default":
            let a = try args.bind(["default_value", "boolean"], to: fn)
            if value.isUndefined || ((a[1]?.isTruthy ?? false) && !value.isTruthy) { return a[0] ?? .string("") }
            return value
        case "dictsort":
            let a = try args.bind(["case_sensitive", "by", "reverse"], to: fn)
            guard case .dict(let d) = value else { throw jinjaRenderError("dictsort needs a mapping, got '\(value.typeName)'") }
            let caseSensitive = a[0]?.isTruthy ?? false
            let byValue: Bool
            switch a[1] ?? .string("key") {
            case .string("key"): byValue = false
            case .string("value"): byValue = true
            default: throw jinjaRenderError("You can only sort by either 'key' or 'value'")
            }
            let reverse = a[2]?.isTruthy ?? false
            let sorted = try jinjaStableSorted(d.pairs) { x, y in
                let kx = ignoreCase(byValue ? x.1 : .string(x.0), caseSensitive)
                let ky = ignoreCase(byValue ? y.1 : .string(y.0), caseSensitive)
                return reverse ? try pyLess(ky, kx) : try pyLess(kx, ky)
            }
            return .list(sorted.map { .tuple([.string($0.0), $0.1]) })
        case "e", "escape", "forceescape":
            _ = try args.bind([], to: fn)
            return .string(jinjaHTMLEscape(value.pythonStr))
        case "first":
            _ = try args.bind([], to: fn)
            return try iterate(value).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            _ = try args.bind([], to: fn)
            if case .undefined(let why) = value { throw jinjaRenderError(why) }
            if case .generator = value { throw jinjaRenderError("'generator' object is not reversible") }
            return try iterate(value).last ?? .undefined("No last item, sequence was empty.")
        case "float":
            let a = try args.bind(["default"], to: fn)
            if case .undefined(let why) = value { throw jinjaRenderError(why) }
            return pyFloat(value) ?? a[0] ?? .double(0)
        case "format":
            if !args.keyword.isEmpty {
                throw jinjaRenderError("the format filter with keyword arguments is not supported by Whittle's template engine")
            }
            return .string(try percentFormat(value.pythonStr, .tuple(args.positional)))
        case "indent":
            let a = try args.bind(["width", "first", "blank"], to: fn)
            let indentation: String
            switch a[0] ?? .int(4) {
            case .string(let s): indentation = s
            case let w: indentation = String(repeating: " ", count: max(0, Int(PyNumber(w)?.double ?? 4)))
            }
            // jinja2 appends "\n" to the value itself, so only strings work.
            guard case .string(let text) = value else {
                if case .undefined(let why) = value { throw jinjaRenderError(why) }
                throw jinjaRenderError("unsupported operand type(s) for +=: '\(value.typeName)' and 'str'")
            }
            return .string(pyIndent(text, indentation, first: a[1]?.isTruthy ?? false, blank: a[2]?.isTruthy ?? false))
        case "int":
            let a = try args.bind(["default", "base"], to: fn)
            if case .undefined(let why) = value { throw jinjaRenderError(why) }
            var base = 10
            if let b = a[1], case .int(let i) = b { base = i }
            return pyInt(value, base: base) ?? a[0] ?? .int(0)
        case "items":
            _ = try args.bind([], to: fn)
            if value.isUndefined { return .generator([], "do_items") }
            guard case .dict(let d) = value else { throw jinjaRenderError("Can only get item pairs from a mapping.") }
            return .generator(d.pairs.map { .tuple([.string($0.0), $0.1]) }, "do_items")
        case "join":
            let a = try args.bind(["d", "attribute"], to: fn)
            let separator = a[0]?.pythonStr ?? ""
            let items = try iterate(value).map { try attributePath($0, a[1]) }
            return .string(items.map(\.pythonStr).joined(separator: separator))
        case "list":
            _ = try args.bind([], to: fn)
            return .list(try iterate(value))
        case "lower":
            _ = try args.bind([], to: fn)
            return .string(value.pythonStr.lowercased())
        case "upper":
            _ = try args.bind([], to: fn)
            return .string(value.pythonStr.uppercased())
        case "map":
            let items = try iterate(value)
            if args.positional.isEmpty, let attribute = args.keyword["attribute"] {
                let extra = args.keyword.keys.filter { $0 != "attribute" && $0 != "default" }
                if let bad = extra.first { throw jinjaRenderError("Unexpected keyword argument '\(bad)'") }
                let defaultValue = args.keyword["default"]
                return .generator(try items.map { item in
                    let v = try attributePath(item, attribute)
                    if v.isUndefined, let defaultValue { return defaultValue }
                    return v
                }, "sync_do_map")
            }
            guard case .string(let filterName)? = args.positional.first else {
                throw jinjaRenderError("map requires a filter name or attribute=")
            }
            guard jinjaSupportedFilters.contains(filterName) else { throw jinjaRenderError("No filter named '\(filterName)'.") }
            let rest = JinjaArguments(Array(args.positional.dropFirst()), keyword: args.keyword)
            return .generator(try items.map { try filter(filterName, $0, rest) }, "sync_do_map")
        case "max", "min":
            let a = try args.bind(["case_sensitive", "attribute"], to: fn)
            let caseSensitive = a[0]?.isTruthy ?? false
            var best: JinjaValue?
            var bestKey: JinjaValue = .none
            for item in try iterate(value) {
                let key = ignoreCase(try attributePath(item, a[1]), caseSensitive)
                if let _ = best {
                    let better = name == "min" ? try pyLess(key, bestKey) : try pyLess(bestKey, key)
                    if better { best = item; bestKey = key }
                } else {
                    best = item
                    bestKey = key
                }
            }
            return best ?? .undefined("No aggregated item, sequence was empty.")
        case "select", "reject", "selectattr", "rejectattr":
            let byAttribute = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            var positional = args.positional
            var attribute: JinjaValue?
            if byAttribute {
                guard !positional.isEmpty else { throw jinjaRenderError("\(name) needs an attribute name") }
                attribute = positional.removeFirst()
            }
            var testName: String?
            if !positional.isEmpty {
                guard case .string(let t) = positional.removeFirst() else { throw jinjaRenderError("\(name) needs a test name") }
                guard jinjaSupportedTests.contains(t) else { throw jinjaRenderError("No test named '\(t)'.") }
                testName = t
            }
            let testArgs = JinjaArguments(positional, keyword: args.keyword)
            return .generator(try iterate(value).filter { item in
                let probe = byAttribute ? try attributePath(item, attribute) : item
                let passed = try testName.map { try test($0, probe, testArgs) } ?? probe.isTruthy
                return passed == keep
            }, "select_or_reject")
        case "replace":
            let a = try args.bind(["old", "new", "count"], to: fn)
            guard let old = a[0], let new = a[1] else { throw jinjaRenderError("replace needs 'old' and 'new'") }
            var count = -1
            if let c = a[2], !c.isNone, case .int(let i) = c { count = i }
            return .string(pyReplace(value.pythonStr, old.pythonStr, new.pythonStr, count: count))
        case "reverse":
            _ = try args.bind([], to: fn)
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            // Python's reversed() gives an iterator (always truthy) for lists, tuples, dicts and even Undefined;
            // only a generator input makes jinja2 build a list.
            if case .generator(let items, _) = value { return .list(items.reversed()) }
            return .generator(try iterate(value).reversed(), "reversed")
        case "round":
            let a = try args.bind(["precision", "method"], to: fn)
            var precision = 0
            if let p = a[0], case .int(let i) = p { precision = i }
            let method = a[1]?.pythonStr ?? "common"
            guard let n = PyNumber(value) else { throw jinjaRenderError("type \(value.typeName) doesn't define __round__ method") }
            switch method {
            case "common":
                if case .int(let i) = n, precision >= 0 { return .int(i) }
                return .double(pyRound(n.double, precision))
            case "floor", "ceil":
                let scale = pow(10.0, Double(precision))
                let scaled = n.double * scale
                return .double((method == "floor" ? scaled.rounded(.down) : scaled.rounded(.up)) / scale)
            default:
                throw jinjaRenderError("method must be common, ceil or floor")
            }
        case "safe", "string":
            _ = try args.bind([], to: fn)
            return .string(value.pythonStr)
        case "sort":
            let a = try args.bind(["reverse", "case_sensitive", "attribute"], to: fn)
            let reverse = a[0]?.isTruthy ?? false
            let caseSensitive = a[1]?.isTruthy ?? false
            let items = try iterate(value)
            let keyed = try items.map { (ignoreCase(try attributePath($0, a[2]), caseSensitive), $0) }
            let sorted = try jinjaStableSorted(keyed) { x, y in reverse ? try pyLess(y.0, x.0) : try pyLess(x.0, y.0) }
            return .list(sorted.map(\.1))
        case "sum":
            let a = try args.bind(["attribute", "start"], to: fn)
            var total = a[1] ?? .int(0)
            for item in try iterate(value) { total = try binaryOperation("+", total, try attributePath(item, a[0])) }
            return total
        case "title":
            _ = try args.bind([], to: fn)
            return .string(jinjaTitle(value.pythonStr))
        case "tojson":
            let a = try args.bind(["ensure_ascii", "indent", "separators", "sort_keys"], to: fn)
            var indent: String?
            switch a[1] {
            case nil, .some(JinjaValue.none): indent = nil
            case .some(.string(let s)): indent = s
            case .some(let other):
                guard let n = PyNumber(other), case .int(let i) = n else { throw jinjaRenderError("tojson indent must be an int or string") }
                indent = String(repeating: " ", count: max(0, i))
            }
            var separators: (String, String)?
            if let s = a[2], !s.isNone {
                let parts = try iterate(s)
                guard parts.count == 2, case .string(let item) = parts[0], case .string(let key) = parts[1] else {
                    throw jinjaRenderError("tojson separators must be a pair of strings")
                }
                separators = (item, key)
            }
            let options = JinjaJSONOptions(indent: indent, separators: separators, sortKeys: a[3]?.isTruthy ?? false,
                                          ensureASCII: a[0]?.isTruthy ?? false)
            return .string(try value.pythonJSON(options))
        case "trim":
            let a = try args.bind(["chars"], to: fn)
            return .string(pyStrip(value.pythonStr, chars: a[0].flatMap { $0.isNone ? nil : $0.pythonStr }, left: true, right: true))
        case "truncate":
            // jinja2 do_truncate with the default policy leeway of 5.
            let a = try args.bind(["length", "killwords", "end", "leeway"], to: fn)
            guard case .string(let text) = value else {
                if case .undefined(let why) = value { throw jinjaRenderError(why) }
                throw jinjaRenderError("object of type '\(value.typeName)' has no len()")
            }
            var length = 255
            if let l = a[0], case .int(let i) = l { length = i }
            let end = a[2].map { $0.pythonStr } ?? "..."
            var leeway = 5
            if let l = a[3], case .int(let i) = l { leeway = i }
            let scalars = Array(text.unicodeScalars)
            let endCount = end.unicodeScalars.count
            guard length >= endCount else { throw jinjaRenderError("expected length >= \(endCount), got \(length)") }
            guard leeway >= 0 else { throw jinjaRenderError("expected leeway >= 0, got \(leeway)") }
            if scalars.count <= length + leeway { return value }
            let head = String(String.UnicodeScalarView(scalars[..<(length - endCount)]))
            if a[1]?.isTruthy ?? false { return .string(head + end) }
            // `head.rsplit(" ", 1)[0]`: drop the last partial word.
            let headScalars = Array(head.unicodeScalars)
            if let space = headScalars.lastIndex(of: " ") {
                return .string(String(String.UnicodeScalarView(headScalars[..<space])) + end)
            }
            return .string(head + end)
        case "unique":
            let a = try args.bind(["case_sensitive", "attribute"], to: fn)
            let caseSensitive = a[0]?.isTruthy ?? false
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for item in try iterate(value) {
                let key = ignoreCase(try attributePath(item, a[1]), caseSensitive)
                if !seen.contains(where: { pyEquals($0, key) }) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .generator(out, "sync_do_unique")
        case "wordcount":
            _ = try args.bind([], to: fn)
            var count = 0
            var inWord = false
            for s in value.pythonStr.unicodeScalars {
                let isWord = s == "_" || s.properties.isAlphabetic || s.properties.numericType != nil
                if isWord && !inWord { count += 1 }
                inWord = isWord
            }
            return .int(count)
        default:
            if jinjaUnsupportedFilters.contains(name) {
                throw jinjaRenderError("the '\(name)' filter is not supported by Whittle's template engine")
            }
            throw jinjaRenderError("No filter named '\(name)'.")
        }
    }

    // MARK: - Tests

    func test(_ name: String, _ value: JinjaValue, _ args: JinjaArguments) throws -> Bool {
        func arg() throws -> JinjaValue {
            guard let v = args.positional.first ?? args.keyword.values.first else {
                throw jinjaRenderError("test '\(name)' needs an argument")
            }
            return v
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "boolean": if case .bool = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "number": return PyNumber(value) != nil
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .dict = value { return true } else { return false }
        case "callable": if case .callable = value { return true } else { return false }
        case "iterable":
            switch value {
            case .list, .tuple, .dict, .string, .undefined, .view, .generator: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .list, .tuple, .dict, .string: return true
            case .view(let v): return v.typeName == "range"
            default: return false
            }
        case "escaped": return false
        case "sameas":
            let other = try arg()
            switch (value, other) {
            case (.none, .none): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.int(let x), .int(let y)): return x == y && (-5...256).contains(x)
            case (.namespace(let x), .namespace(let y)): return x === y
            case (.callable(let x), .callable(let y)): return x === y
            default: return false
            }
        case "odd": return try binaryOperation("%", value, .int(2)) == .int(1)
        case "even": return try binaryOperation("%", value, .int(2)) == .int(0)
        case "divisibleby": return try binaryOperation("%", value, try arg()) == .int(0)
        case "eq", "equalto", "==": return pyEquals(value, try arg())
        case "ne", "!=": return !pyEquals(value, try arg())
        case "lt", "lessthan", "<": return try pyLess(value, try arg())
        case "le", "<=": return try compare("<=", value, try arg())
        case "gt", "greaterthan", ">": return try pyLess(try arg(), value)
        case "ge", ">=": return try compare(">=", value, try arg())
        case "in": return try contains(try arg(), value)
        case "lower":
            let s = value.pythonStr
            return s.lowercased() == s && s.unicodeScalars.contains { $0.properties.isCased }
        case "upper":
            let s = value.pythonStr
            return s.uppercased() == s && s.unicodeScalars.contains { $0.properties.isCased }
        case "filter":
            if case .string(let f) = value { return jinjaSupportedFilters.contains(f) }
            return false
        case "test":
            if case .string(let t) = value { return jinjaSupportedTests.contains(t) }
            return false
        default:
            throw jinjaRenderError("No test named '\(name)'.")
        }
    }
}

// MARK: - Python helpers

func pyLen(_ value: JinjaValue) throws -> Int {
    switch value {
    case .string(let s): return s.unicodeScalars.count
    case .list(let a), .tuple(let a): return a.count
    case .dict(let d): return d.count
    case .view(let v): return v.items.count
    case .undefined: return 0
    default: throw jinjaRenderError("object of type '\(value.typeName)' has no len()")
    }
}

func jinjaHTMLEscape(_ s: String) -> String {
    var out = ""
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&#34;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

/// Python `str.strip/lstrip/rstrip` (whitespace when `chars` is nil).
func pyStrip(_ s: String, chars: String?, left: Bool, right: Bool) -> String {
    let set = chars.map { Set($0.unicodeScalars) }
    let strip: (Unicode.Scalar) -> Bool = { c in set.map { $0.contains(c) } ?? pyIsSpace(c) }
    var scalars = Array(s.unicodeScalars)[...]
    if left { while let f = scalars.first, strip(f) { scalars.removeFirst() } }
    if right { while let l = scalars.last, strip(l) { scalars.removeLast() } }
    return String(String.UnicodeScalarView(scalars))
}

/// Python `str.replace(old, new, count)`; an empty `old` inserts `new` around every character, as Python does.
func pyReplace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
    let src = Array(s.unicodeScalars)
    let pat = Array(old.unicodeScalars)
    var out = String.UnicodeScalarView()
    var remaining = count < 0 ? Int.max : count
    if pat.isEmpty {
        for c in src {
            if remaining > 0 { out.append(contentsOf: new.unicodeScalars); remaining -= 1 }
            out.append(c)
        }
        if remaining > 0 { out.append(contentsOf: new.unicodeScalars) }
        return String(out)
    }
    var i = 0
    while i < src.count {
        if remaining > 0, i + pat.count <= src.count, Array(src[i..<i + pat.count]) == pat {
            out.append(contentsOf: new.unicodeScalars)
            i += pat.count
            remaining -= 1
        } else {
            out.append(src[i])
            i += 1
        }
    }
    return String(out)
}

/// Python `str.splitlines()` (no ends kept): every Unicode line boundary, `\r\n` as one.
func pySplitLines(_ s: String) -> [String] {
    let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    let scalars = Array(s.unicodeScalars)
    var i = 0
    while i < scalars.count {
        let c = scalars[i]
        if breaks.contains(c.value) {
            lines.append(String(current))
            current = String.UnicodeScalarView()
            if c == "\r", i + 1 < scalars.count, scalars[i + 1] == "\n" { i += 1 }
        } else {
            current.append(c)
        }
        i += 1
    }
    if !current.isEmpty { lines.append(String(current)) }
    return lines
}

/// jinja2 `do_indent` (3.1): appends a newline so `splitlines` keeps a trailing empty line, then indents every line
/// after the first (and the first if `first`), skipping blank lines unless `blank`.
func pyIndent(_ s: String, _ indentation: String, first: Bool, blank: Bool) -> String {
    let text = s + "\n"
    let lines = pySplitLines(text)
    var rv: String
    if blank {
        rv = lines.joined(separator: "\n" + indentation)
    } else {
        rv = lines.first ?? ""
        let rest = lines.dropFirst()
        if !rest.isEmpty {
            rv += "\n" + rest.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
        }
    }
    return first ? indentation + rv : rv
}

func pyCapitalize(_ s: String) -> String {
    var scalars = s.unicodeScalars[...]
    guard let head = scalars.popFirst() else { return "" }
    return head.properties.titlecaseMapping + String(String.UnicodeScalarView(scalars)).lowercased()
}

func pyCenter(_ s: String, _ width: Int) -> String {
    let n = s.unicodeScalars.count
    guard width > n else { return s }
    let marg = width - n
    let left = marg / 2 + (marg & width & 1)
    return String(repeating: " ", count: left) + s + String(repeating: " ", count: marg - left)
}

/// jinja2 `do_title`: uppercase the first character of each word, where words start the text or follow `-`,
/// whitespace, or an opening bracket; lowercase the rest.
func jinjaTitle(_ s: String) -> String {
    var out = ""
    var atStart = true
    for c in s.unicodeScalars {
        let isSeparator = c == "-" || pyIsSpace(c) || "({[<".unicodeScalars.contains(c)
        if isSeparator {
            out.unicodeScalars.append(c)
            atStart = true
        } else {
            out += atStart ? String(c).uppercased() : String(c).lowercased()
            atStart = false
        }
    }
    return out
}

/// Python `str.title()` (CPython `do_title`): each character is lowercased if the previous one was cased,
/// titlecased otherwise — so "they're" becomes "They'Re", as in Python.
func pyTitle(_ s: String) -> String {
    var out = ""
    var previousCased = false
    for c in s.unicodeScalars {
        out += previousCased ? c.properties.lowercaseMapping : c.properties.titlecaseMapping
        previousCased = c.properties.isCased
    }
    return out
}

/// jinja2 `do_int`: `int(value, base)` for strings, `int(value)` otherwise, then `int(float(value))`, else nil.
func pyInt(_ value: JinjaValue, base: Int) -> JinjaValue? {
    switch value {
    case .int: return value
    case .bool(let b): return .int(b ? 1 : 0)
    case .double(let d):
        guard d.isFinite, abs(d) < 9.2e18 else { return nil }
        return .int(Int(d.rounded(.towardZero)))
    case .string(let s):
        let t = pyStrip(s, chars: nil, left: true, right: true).replacingOccurrences(of: "_", with: "")
        if let i = Int(t, radix: base) { return .int(i) }
        if let d = Double(t), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d.rounded(.towardZero))) }
        return nil
    default: return nil
    }
}

func pyFloat(_ value: JinjaValue) -> JinjaValue? {
    switch value {
    case .double: return value
    case .int(let i): return .double(Double(i))
    case .bool(let b): return .double(b ? 1 : 0)
    case .string(let s):
        let t = pyStrip(s, chars: nil, left: true, right: true).lowercased()
        switch t {
        case "inf", "+inf", "infinity", "+infinity": return .double(.infinity)
        case "-inf", "-infinity": return .double(-.infinity)
        case "nan", "+nan", "-nan": return .double(.nan)
        default: return Double(t.replacingOccurrences(of: "_", with: "")).map { .double($0) }
        }
    default: return nil
    }
}

/// Python `round(x, n)` for floats: correctly rounded, ties to even on the exact binary value (C's `%.*f`
/// rounds the same way).
func pyRound(_ x: Double, _ n: Int) -> Double {
    if !x.isFinite { return x }
    if n == 0 { return x.rounded(.toNearestOrEven) }
    if n > 0 {
        let text = String(format: "%.\(min(n, 300))f", x)
        return Double(text) ?? x
    }
    let scale = pow(10.0, Double(-n))
    return (x / scale).rounded(.toNearestOrEven) * scale
}
