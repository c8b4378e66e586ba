// Python methods templates call on strings, dicts and lists (`content.strip()`, `message.get('x')`,
// `tool.items()`), and the globals transformers provides. Mutating methods are refused as jinja2's
// ImmutableSandboxedEnvironment refuses them.

import Foundation

private let mutatingDictMethods: Set<String> = ["clear", "pop", "popitem", "setdefault", "update"]
private let mutatingListMethods: Set<String> = ["append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"]

extension JinjaInterpreter {
    private func method(_ name: String, _ body: @escaping (JinjaArguments) throws -> JinjaValue) -> JinjaValue {
        .callable(JinjaCallable(name: name, body: body))
    }

    private func unsafe(_ name: String, _ type: String) -> JinjaValue {
        method(name) { _ in throw jinjaRenderError("access to attribute '\(name)' of '\(type)' object is unsafe.") }
    }

    /// The bound method `value.name`, or nil if the type has no such method.
    func boundMethod(_ value: JinjaValue, _ name: String) -> JinjaValue? {
        switch value {
        case .string(let s): return stringMethod(s, name)
        case .dict(let d):
            if mutatingDictMethods.contains(name) { return unsafe(name, "dict") }
            switch name {
            case "items":
                return method(name) { a in
                    _ = try a.bind([], to: "dict.items")
                    return .view(JinjaView(kind: .items, items: d.pairs.map { .tuple([.string($0.0), $0.1]) }))
                }
            case "keys":
                return method(name) { a in
                    _ = try a.bind([], to: "dict.keys")
                    return .view(JinjaView(kind: .keys, items: d.keys.map { .string($0) }))
                }
            case "values":
                return method(name) { a in
                    _ = try a.bind([], to: "dict.values")
                    return .view(JinjaView(kind: .values, items: d.values))
                }
            case "get":
                return method(name) { a in
                    let b = try a.bind(["key", "default"], to: "dict.get")
                    guard case .string(let k)? = b[0] else { return b[1] ?? .none }
                    return d[k] ?? b[1] ?? .none
                }
            case "copy":
                return method(name) { _ in .dict(d) }
            default: return nil
            }
        case .list(let items), .tuple(let items):
            if case .list = value, mutatingListMethods.contains(name) { return unsafe(name, "list") }
            switch name {
            case "index":
                return method(name) { a in
                    let b = try a.bind(["value"], to: "index")
                    guard let i = items.firstIndex(where: { pyEquals($0, b[0] ?? .none) }) else {
                        throw jinjaRenderError("\((b[0] ?? .none).pythonRepr) is not in list")
                    }
                    return .int(i)
                }
            case "count":
                return method(name) { a in
                    let b = try a.bind(["value"], to: "count")
                    return .int(items.filter { pyEquals($0, b[0] ?? .none) }.count)
                }
            case "copy" where value.isList:
                return method(name) { _ in value }
            default: return nil
            }
        default:
            return nil
        }
    }

    // MARK: - str methods

    private func stringMethod(_ s: String, _ name: String) -> JinjaValue? {
        func stringArg(_ v: JinjaValue?, _ what: String) throws -> String? {
            guard let v, !v.isNone else { return nil }
            guard case .string(let t) = v else { throw jinjaRenderError("\(what) arg must be None or str") }
            return t
        }
        func affix(_ suffix: Bool) -> JinjaValue {
            method(name) { a in
                let b = try a.bind(["prefix", "start", "end"], to: "str.\(name)")
                var text = s
                if b[1] != nil || b[2] != nil {
                    guard case .string(let sliced) = try self.slice(.string(s), b[1], b[2], nil) else { return .bool(false) }
                    text = sliced
                }
                let candidates: [JinjaValue]
                switch b[0] {
                case .some(.tuple(let items)), .some(.list(let items)): candidates = items
                case .some(let v): candidates = [v]
                case nil: throw jinjaRenderError("str.\(name) needs an argument")
                }
                for c in candidates {
                    guard case .string(let p) = c else {
                        throw jinjaRenderError("\(name) first arg must be str or a tuple of str, not \(c.typeName)")
                    }
                    let hit = suffix ? text.unicodeScalars.reversed().starts(with: p.unicodeScalars.reversed())
                        : text.unicodeScalars.starts(with: p.unicodeScalars)
                    if hit { return .bool(true) }
                }
                return .bool(false)
            }
        }
        switch name {
        case "strip", "lstrip", "rstrip":
            return method(name) { a in
                let b = try a.bind(["chars"], to: "str.\(name)")
                return .string(pyStrip(s, chars: try stringArg(b[0], name), left: name != "rstrip", right: name != "lstrip"))
            }
        case "upper": return method(name) { _ in .string(s.uppercased()) }
        case "lower", "casefold": return method(name) { _ in .string(s.lowercased()) }
        case "title": return method(name) { _ in .string(pyTitle(s)) }
        case "capitalize": return method(name) { _ in .string(pyCapitalize(s)) }
        case "swapcase":
            return method(name) { _ in
                .string(s.unicodeScalars.map { c in
                    c.properties.isUppercase ? c.properties.lowercaseMapping
                        : c.properties.isLowercase ? c.properties.uppercaseMapping : String(c)
                }.joined())
            }
        case "startswith": return affix(false)
        case "endswith": return affix(true)
        case "split", "rsplit":
            return method(name) { a in
                let b = try a.bind(["sep", "maxsplit"], to: "str.\(name)")
                var maxsplit = -1
                if let m = b[1], case .int(let i) = m { maxsplit = i }
                let parts = try self.pySplit(s, sep: try stringArg(b[0], name), maxsplit: maxsplit, fromRight: name == "rsplit")
                return .list(parts.map { .string($0) })
            }
        case "splitlines":
            return method(name) { _ in .list(pySplitLines(s).map { .string($0) }) }
        case "replace":
            return method(name) { a in
                let b = try a.bind(["old", "new", "count"], to: "str.replace")
                guard case .string(let old)? = b[0], case .string(let new)? = b[1] else {
                    throw jinjaRenderError("replace() arguments must be str")
                }
                var count = -1
                if let c = b[2], case .int(let i) = c { count = i }
                return .string(pyReplace(s, old, new, count: count))
            }
        case "join":
            return method(name) { a in
                let b = try a.bind(["iterable"], to: "str.join")
                let parts = try self.iterate(b[0] ?? .none)
                return .string(try parts.map { p -> String in
                    guard case .string(let t) = p else {
                        throw jinjaRenderError("sequence item: expected str instance, \(p.typeName) found")
                    }
                    return t
                }.joined(separator: s))
            }
        case "find", "rfind", "index", "rindex", "count":
            return method(name) { a in
                let b = try a.bind(["sub", "start", "end"], to: "str.\(name)")
                guard case .string(let sub)? = b[0] else { throw jinjaRenderError("must be str") }
                if b[1] != nil || b[2] != nil {
                    throw jinjaRenderError("str.\(name) with start/end is not supported by Whittle's template engine")
                }
                let hay = Array(s.unicodeScalars)
                let needle = Array(sub.unicodeScalars)
                var hits: [Int] = []
                var i = 0
                while i + needle.count <= hay.count {
                    if Array(hay[i..<i + needle.count]) == needle {
                        hits.append(i)
                        i += max(needle.count, 1)
                    } else { i += 1 }
                }
                if needle.isEmpty { hits = Array(0...hay.count) }
                if name == "count" { return .int(hits.count) }
                let found = name.hasPrefix("r") ? hits.last : hits.first
                if let found { return .int(found) }
                if name.hasSuffix("index") { throw jinjaRenderError("substring not found") }
                return .int(-1)
            }
        case "isdigit", "isnumeric", "isdecimal":
            return method(name) { _ in
                .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
            }
        case "isalpha":
            return method(name) { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic }) }
        case "isalnum":
            return method(name) { _ in
                .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
            }
        case "isspace":
            return method(name) { _ in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(pyIsSpace)) }
        case "islower":
            return method(name) { _ in .bool(s.lowercased() == s && s.unicodeScalars.contains { $0.properties.isCased }) }
        case "isupper":
            return method(name) { _ in .bool(s.uppercased() == s && s.unicodeScalars.contains { $0.properties.isCased }) }
        case "removeprefix", "removesuffix":
            return method(name) { a in
                let b = try a.bind(["affix"], to: "str.\(name)")
                guard case .string(let p)? = b[0] else { throw jinjaRenderError("\(name) arg must be str") }
                if name == "removeprefix", s.unicodeScalars.starts(with: p.unicodeScalars) {
                    return .string(String(String.UnicodeScalarView(s.unicodeScalars.dropFirst(p.unicodeScalars.count))))
                }
                if name == "removesuffix", !p.isEmpty, s.unicodeScalars.reversed().starts(with: p.unicodeScalars.reversed()) {
                    return .string(String(String.UnicodeScalarView(s.unicodeScalars.dropLast(p.unicodeScalars.count))))
                }
                return .string(s)
            }
        case "center":
            return method(name) { a in
                let b = try a.bind(["width"], to: "str.center")
                guard case .int(let w)? = b[0] else { throw jinjaRenderError("center needs an int width") }
                return .string(pyCenter(s, w))
            }
        case "zfill":
            return method(name) { a in
                let b = try a.bind(["width"], to: "str.zfill")
                guard case .int(let w)? = b[0] else { throw jinjaRenderError("zfill needs an int width") }
                var scalars = Array(s.unicodeScalars)
                let pad = w - scalars.count
                guard pad > 0 else { return .string(s) }
                let sign = scalars.first.map { $0 == "+" || $0 == "-" } ?? false
                scalars.insert(contentsOf: Array(repeating: "0", count: pad), at: sign ? 1 : 0)
                return .string(String(String.UnicodeScalarView(scalars)))
            }
        case "format":
            return method(name) { a in .string(try self.pyFormat(s, a)) }
        default:
            return nil
        }
    }

    /// Python `str.split` / `str.rsplit`: with no separator, runs of whitespace split and ends are dropped.
    private func pySplit(_ s: String, sep: String?, maxsplit: Int, fromRight: Bool) throws -> [String] {
        var scalars = Array(s.unicodeScalars)
        if fromRight { scalars.reverse() }
        var parts: [[Unicode.Scalar]] = []
        var limit = maxsplit < 0 ? Int.max : maxsplit
        if let sep {
            var pattern = Array(sep.unicodeScalars)
            guard !pattern.isEmpty else { throw jinjaRenderError("empty separator") }
            if fromRight { pattern.reverse() }
            var current: [Unicode.Scalar] = []
            var i = 0
            while i < scalars.count {
                if limit > 0, i + pattern.count <= scalars.count, Array(scalars[i..<i + pattern.count]) == pattern {
                    parts.append(current)
                    current = []
                    i += pattern.count
                    limit -= 1
                } else {
                    current.append(scalars[i])
                    i += 1
                }
            }
            parts.append(current)
        } else {
            var i = 0
            while i < scalars.count, pyIsSpace(scalars[i]) { i += 1 }
            while i < scalars.count {
                if limit == 0 {
                    var rest = Array(scalars[i...])
                    while let l = rest.last, pyIsSpace(l) { rest.removeLast() }
                    parts.append(rest)
                    break
                }
                var current: [Unicode.Scalar] = []
                while i < scalars.count, !pyIsSpace(scalars[i]) { current.append(scalars[i]); i += 1 }
                parts.append(current)
                limit -= 1
                while i < scalars.count, pyIsSpace(scalars[i]) { i += 1 }
            }
        }
        if fromRight { parts = parts.reversed().map { $0.reversed() } }
        return parts.map { String(String.UnicodeScalarView($0)) }
    }

    /// Python `str.format` for plain replacement fields: `{}`, `{0}`, `{name}`, `{{`, `}}`; format specs and
    /// conversions are refused rather than approximated.
    func pyFormat(_ format: String, _ args: JinjaArguments) throws -> String {
        var out = ""
        var autoIndex = 0
        var chars = Array(format.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if c == "}" {
                guard chars.first == "}" else { throw jinjaRenderError("Single '}' encountered in format string") }
                chars.removeFirst()
                out += "}"
                continue
            }
            guard c == "{" else { out.unicodeScalars.append(c); continue }
            if chars.first == "{" { chars.removeFirst(); out += "{"; continue }
            var field = ""
            while let f = chars.popFirst(), f != "}" { field.unicodeScalars.append(f) }
            if field.contains(":") || field.contains("!") || field.contains(".") || field.contains("[") {
                throw jinjaRenderError("format field '{\(field)}' is not supported by Whittle's template engine")
            }
            let value: JinjaValue
            if field.isEmpty {
                guard autoIndex < args.positional.count else { throw jinjaRenderError("Replacement index \(autoIndex) out of range for positional args tuple") }
                value = args.positional[autoIndex]
                autoIndex += 1
            } else if let i = Int(field) {
                guard i < args.positional.count else { throw jinjaRenderError("Replacement index \(i) out of range for positional args tuple") }
                value = args.positional[i]
            } else {
                guard let v = args.keyword[field] else { throw jinjaRenderError("KeyError: '\(field)'") }
                value = v
            }
            out += value.pythonStr
        }
        return out
    }
}

// MARK: - Globals

extension JinjaInterpreter {
    /// The globals transformers' environment provides: jinja2's defaults that chat templates use (`range`,
    /// `namespace`, `dict`) and transformers' `raise_exception` and `strftime_now`.
    static func standardGlobals(now: @escaping @Sendable () -> Date) -> [String: JinjaValue] {
        var globals: [String: JinjaValue] = [:]
        globals["raise_exception"] = .callable(JinjaCallable(name: "raise_exception") { a in
            let b = try a.bind(["message"], to: "raise_exception")
            throw ChatTemplateError(.raised, (b[0] ?? .none).pythonStr)
        })
        globals["strftime_now"] = .callable(JinjaCallable(name: "strftime_now") { a in
            let b = try a.bind(["format"], to: "strftime_now")
            guard case .string(let format)? = b[0] else { throw jinjaRenderError("strftime_now needs a format string") }
            return .string(strftime(format, now()))
        })
        globals["range"] = .callable(JinjaCallable(name: "range") { a in
            guard a.keyword.isEmpty else { throw jinjaRenderError("range() takes no keyword arguments") }
            let ints = try a.positional.map { v -> Int in
                guard let n = PyNumber(v), case .int(let i) = n else {
                    throw jinjaRenderError("'\(v.typeName)' object cannot be interpreted as an integer")
                }
                return i
            }
            var start = 0
            var stop = 0
            var step = 1
            switch ints.count {
            case 1: stop = ints[0]
            case 2: (start, stop) = (ints[0], ints[1])
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw jinjaRenderError("range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw jinjaRenderError("range() arg 3 must not be zero") }
            let values = Array(stride(from: start, to: stop, by: step))
            guard values.count <= 100_000 else { throw jinjaRenderError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).") }
            return .view(JinjaView(kind: .range(start: start, stop: stop, step: step), items: values.map { .int($0) }))
        })
        globals["namespace"] = .callable(JinjaCallable(name: "namespace") { a in
            let d = try pyDict(a)
            if let bad = d.keys.first(where: { $0.hasPrefix("_") }) {
                throw jinjaRenderError("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(bad)'.")
            }
            return .namespace(JinjaNamespace(d))
        })
        globals["dict"] = .callable(JinjaCallable(name: "dict") { a in .dict(try pyDict(a)) })
        return globals
    }
}

/// Python `dict(*args, **kwargs)` for a mapping or a list of pairs plus keywords.
private func pyDict(_ a: JinjaArguments) throws -> JinjaDict {
    guard a.positional.count <= 1 else { throw jinjaRenderError("dict expected at most 1 argument, got \(a.positional.count)") }
    var d = JinjaDict()
    if let first = a.positional.first {
        switch first {
        case .dict(let m): d = m
        case .list(let items), .tuple(let items):
            for item in items {
                guard case .list(let pair) = item, pair.count == 2, case .string(let k) = pair[0] else {
                    guard case .tuple(let pair) = item, pair.count == 2, case .string(let k) = pair[0] else {
                        throw jinjaRenderError("dict() needs (string key, value) pairs")
                    }
                    d[k] = pair[1]
                    continue
                }
                d[k] = pair[1]
            }
        default: throw jinjaRenderError("'\(first.typeName)' object is not iterable")
        }
    }
    for (k, v) in a.keyword.pairs { d[k] = v }
    return d
}

/// C `strftime` in the local time zone, as Python's `datetime.now().strftime(format)`.
private func strftime(_ format: String, _ date: Date) -> String {
    var t = time_t(date.timeIntervalSince1970)
    var parts = tm()
    localtime_r(&t, &parts)
    var buffer = [CChar](repeating: 0, count: 512)
    let n = Foundation.strftime(&buffer, buffer.count, format, &parts)
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
