/// A small evaluator for the subset of Go's text/template that Ollama chat templates use, so the TEMPLATE lines
/// Whittle writes can be rendered in tests and compared with transformers' Jinja output (CI has no Go or Ollama).
///
/// Supported, with Go's semantics: text and `{{ }}` actions with `{{-` / `-}}` whitespace trimming; `if` / `else if` /
/// `else` / `end`; `range $i, $v := pipeline` (the dot becomes the element) and `range pipeline`; `$x := pipeline`;
/// fields `.Name`, `$.Name`, `$x`, `$x.Name`; string and integer literals; parentheses; the functions `eq`, `ne`,
/// `and`, `or`, `not`, `len`, `slice` (one or two indices). Truth is Go's: false, 0, "", nil and empty lists are false.
/// Anything else is a test failure (thrown), never a silently wrong rendering.
enum GoValue: Equatable {
    case null, bool(Bool), int(Int), string(String), list([GoValue]), map([String: GoValue])

    var truthy: Bool {
        switch self {
        case .null: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .string(let s): !s.isEmpty
        case .list(let l): !l.isEmpty
        case .map(let m): !m.isEmpty
        }
    }

    var text: String {
        switch self {
        case .null: "<no value>"
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .string(let s): s
        case .list, .map: "[unsupported]"
        }
    }
}

struct GoTemplateError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

struct GoTemplate {
    indirect enum Node {
        case text(String)
        case output([String])
        case declare(String, [String])
        case ifChain([(condition: [String], body: [Node])], otherwise: [Node])
        case range(index: String?, element: String?, over: [String], body: [Node])
    }

    let nodes: [Node]

    init(_ source: String) throws {
        // Segments: text and actions, with trim markers applied to the neighbouring text.
        var segments: [(isAction: Bool, text: String)] = []
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            var text = String(rest[..<open.lowerBound])
            rest = rest[open.upperBound...]
            guard let close = rest.range(of: "}}") else { throw GoTemplateError("unclosed action") }
            var action = String(rest[..<close.lowerBound])
            rest = rest[close.upperBound...]
            if action.hasPrefix("- ") {
                action.removeFirst(2)
                while let last = text.last, last.isWhitespace { text.removeLast() }
            }
            var trimAfter = false
            if action.hasSuffix(" -") { action.removeLast(2); trimAfter = true }
            segments.append((false, text))
            segments.append((true, action.trimmingCharacters(in: .whitespaces)))
            if trimAfter { while let first = rest.first, first.isWhitespace { rest.removeFirst() } }
        }
        segments.append((false, String(rest)))
        var index = 0
        let (body, stop) = try Self.parse(segments, &index)
        guard stop == nil else { throw GoTemplateError("unexpected {{ \(stop!) }}") }
        nodes = body
    }

    /// Parses until `end`, `else ...` or the end of input; returns the nodes and the stopping action.
    static func parse(_ segments: [(isAction: Bool, text: String)], _ i: inout Int) throws -> ([Node], String?) {
        var out: [Node] = []
        while i < segments.count {
            let (isAction, text) = segments[i]
            i += 1
            guard isAction else { if !text.isEmpty { out.append(.text(text)) }; continue }
            let tokens = try tokenize(text)
            guard let head = tokens.first else { throw GoTemplateError("empty action") }
            switch head {
            case "end": return (out, "end")
            case "else": return (out, text)
            case "if":
                var chain: [(condition: [String], body: [Node])] = []
                var condition = Array(tokens.dropFirst())
                var otherwise: [Node] = []
                while true {
                    let (body, stop) = try parse(segments, &i)
                    chain.append((condition, body))
                    guard let stop else { throw GoTemplateError("if without end") }
                    if stop == "end" { break }
                    let stopTokens = try tokenize(stop)
                    if stopTokens.count > 1 && stopTokens[1] == "if" { condition = Array(stopTokens.dropFirst(2)); continue }
                    let (elseBody, elseStop) = try parse(segments, &i)
                    guard elseStop == "end" else { throw GoTemplateError("else without end") }
                    otherwise = elseBody
                    break
                }
                out.append(.ifChain(chain, otherwise: otherwise))
            case "range":
                var rest = Array(tokens.dropFirst())
                var indexName: String? = nil, elementName: String? = nil
                if let d = rest.firstIndex(of: ":=") {
                    let names = rest[..<d].filter { $0 != "," }
                    if names.count == 2 { indexName = names[0]; elementName = names[1] } else { elementName = names.first }
                    rest = Array(rest[(d + 1)...])
                }
                let (body, stop) = try parse(segments, &i)
                guard stop == "end" else { throw GoTemplateError("range without end") }
                out.append(.range(index: indexName, element: elementName, over: rest, body: body))
            default:
                if tokens.count > 2 && tokens[1] == ":=" && head.hasPrefix("$") {
                    out.append(.declare(head, Array(tokens.dropFirst(2))))
                } else {
                    out.append(.output(tokens))
                }
            }
        }
        return (out, nil)
    }

    static func tokenize(_ s: String) throws -> [String] {
        var out: [String] = []
        var chars = Array(s)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" { i += 1; continue }
            if c == "(" || c == ")" || c == "," { out.append(String(c)); i += 1; continue }
            if c == "\"" {
                var j = i + 1, lit = "\""
                while j < chars.count && chars[j] != "\"" {
                    if chars[j] == "\\" && j + 1 < chars.count { j += 1 }
                    lit.append(chars[j]); j += 1
                }
                guard j < chars.count else { throw GoTemplateError("unterminated string in \(s)") }
                out.append(lit + "\""); i = j + 1; continue
            }
            var j = i
            while j < chars.count && !" \t\n(),".contains(chars[j]) { j += 1 }
            out.append(String(chars[i..<j])); i = j
        }
        chars.removeAll()
        return out
    }

    // MARK: - Evaluation

    final class Scope {
        var variables: [String: GoValue]
        let parent: Scope?
        init(_ variables: [String: GoValue], parent: Scope?) { self.variables = variables; self.parent = parent }
        func lookup(_ name: String) -> GoValue? { variables[name] ?? parent?.lookup(name) }
    }

    func render(_ data: [String: GoValue]) throws -> String {
        var out = ""
        let root = GoValue.map(data)
        try run(nodes, dot: root, root: root, scope: Scope(["$": root], parent: nil), into: &out)
        return out
    }

    func run(_ nodes: [Node], dot: GoValue, root: GoValue, scope: Scope, into out: inout String) throws {
        for node in nodes {
            switch node {
            case .text(let t): out += t
            case .output(let tokens): out += try eval(tokens, dot: dot, root: root, scope: scope).text
            case .declare(let name, let tokens): scope.variables[name] = try eval(tokens, dot: dot, root: root, scope: scope)
            case .ifChain(let chain, let otherwise):
                var done = false
                for (condition, body) in chain where try eval(condition, dot: dot, root: root, scope: scope).truthy {
                    try run(body, dot: dot, root: root, scope: Scope([:], parent: scope), into: &out)
                    done = true
                    break
                }
                if !done { try run(otherwise, dot: dot, root: root, scope: Scope([:], parent: scope), into: &out) }
            case .range(let indexName, let elementName, let over, let body):
                guard case .list(let items) = try eval(over, dot: dot, root: root, scope: scope) else { throw GoTemplateError("range over a non-list") }
                for (i, item) in items.enumerated() {
                    let inner = Scope([:], parent: scope)
                    if let indexName { inner.variables[indexName] = .int(i) }
                    if let elementName { inner.variables[elementName] = item }
                    try run(body, dot: item, root: root, scope: inner, into: &out)
                }
            }
        }
    }

    func eval(_ tokens: [String], dot: GoValue, root: GoValue, scope: Scope) throws -> GoValue {
        var i = 0
        let v = try expression(tokens, &i, dot: dot, root: root, scope: scope)
        guard i == tokens.count else { throw GoTemplateError("trailing tokens in \(tokens)") }
        return v
    }

    /// A function call with arguments, or a single operand.
    func expression(_ t: [String], _ i: inout Int, dot: GoValue, root: GoValue, scope: Scope) throws -> GoValue {
        guard i < t.count else { throw GoTemplateError("missing operand") }
        let functions = ["eq", "ne", "and", "or", "not", "len", "slice"]
        if functions.contains(t[i]) {
            let name = t[i]
            i += 1
            var args: [GoValue] = []
            while i < t.count && t[i] != ")" { args.append(try operand(t, &i, dot: dot, root: root, scope: scope)) }
            return try call(name, args)
        }
        return try operand(t, &i, dot: dot, root: root, scope: scope)
    }

    func operand(_ t: [String], _ i: inout Int, dot: GoValue, root: GoValue, scope: Scope) throws -> GoValue {
        let tok = t[i]
        i += 1
        if tok == "(" {
            let v = try expression(t, &i, dot: dot, root: root, scope: scope)
            guard i < t.count && t[i] == ")" else { throw GoTemplateError("missing )") }
            i += 1
            return v
        }
        if tok.hasPrefix("\"") { return .string(String(tok.dropFirst().dropLast())) }
        if let n = Int(tok) { return .int(n) }
        if tok == "." { return dot }
        if tok.hasPrefix(".") { return try field(dot, tok.dropFirst().split(separator: ".").map(String.init)) }
        if tok.hasPrefix("$") {
            let parts = tok.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard let base = scope.lookup(parts[0]) else { throw GoTemplateError("undefined variable \(parts[0])") }
            return try field(base, Array(parts.dropFirst()))
        }
        throw GoTemplateError("unsupported operand \(tok)")
    }

    func field(_ v: GoValue, _ path: [String]) throws -> GoValue {
        var v = v
        for name in path where !name.isEmpty {
            guard case .map(let m) = v else { throw GoTemplateError("field \(name) of a non-map") }
            v = m[name] ?? .null
        }
        return v
    }

    func call(_ name: String, _ a: [GoValue]) throws -> GoValue {
        switch name {
        case "eq": guard a.count == 2 else { break }; return .bool(a[0] == a[1])
        case "ne": guard a.count == 2 else { break }; return .bool(a[0] != a[1])
        case "not": guard a.count == 1 else { break }; return .bool(!a[0].truthy)
        case "and": return a.first { !$0.truthy } ?? a.last ?? .null
        case "or": return a.first { $0.truthy } ?? a.last ?? .null
        case "len":
            guard a.count == 1 else { break }
            if case .list(let l) = a[0] { return .int(l.count) }
            if case .string(let s) = a[0] { return .int(s.utf8.count) }
        case "slice":
            guard case .list(let l)? = a.first, a.count >= 2, case .int(let from) = a[1], from >= 0, from <= l.count else { break }
            var to = l.count
            if a.count == 3, case .int(let t) = a[2] { to = t }
            return .list(Array(l[from..<to]))
        default: break
        }
        throw GoTemplateError("bad call \(name) \(a)")
    }
}
