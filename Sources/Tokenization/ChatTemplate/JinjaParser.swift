// Recursive-descent parser following jinja2/parser.py's grammar and precedence, so `a + b is defined`,
// `not x in y` and `-x|abs` group exactly as jinja2 groups them.

struct JinjaParser {
    private var tokens: [JinjaToken]
    private var index = 0
    private var depth = 0

    init(tokens: [JinjaToken]) { self.tokens = tokens }

    static func parse(_ source: String) throws -> [JinjaNode] {
        var parser = JinjaParser(tokens: try JinjaLexer.tokenize(source))
        let (body, end) = try parser.parseNodes(until: [])
        if let end { throw ChatTemplateError(.syntax, "unexpected '{% \(end) %}' with no open block", line: parser.line) }
        return body
    }

    // MARK: - Token helpers

    private var current: JinjaToken { tokens[index] }
    private var line: Int { current.line }
    private func peek(_ offset: Int = 1) -> JinjaToken { tokens[min(index + offset, tokens.count - 1)] }
    private mutating func next() -> JinjaToken {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }
    private func isOp(_ op: String) -> Bool { current.kind == .op(op) }
    private func isName(_ name: String) -> Bool { current.kind == .name(name) }
    private mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { index += 1; return true }
        return false
    }
    private mutating func skipName(_ name: String) -> Bool {
        if isName(name) { index += 1; return true }
        return false
    }
    private func fail(_ message: String) -> ChatTemplateError { ChatTemplateError(.syntax, message, line: line) }
    private func describe(_ t: JinjaToken) -> String {
        switch t.kind {
        case .text: return "template text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string \(pythonStringRepr(s))"
        case .integer(let i): return "integer \(i)"
        case .float(let d): return "float \(d)"
        case .op(let o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }
    private mutating func expectOp(_ op: String, _ context: String) throws {
        guard skipOp(op) else { throw fail("expected '\(op)' \(context), got \(describe(current))") }
    }
    private mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw fail("expected a name, got \(describe(current))") }
        index += 1
        return n
    }
    private mutating func expectBlockEnd(_ tag: String) throws {
        guard current.kind == .blockEnd else {
            throw fail("expected '%}' to end the '\(tag)' tag, got \(describe(current))")
        }
        index += 1
    }

    // MARK: - Statements

    /// Parses nodes until a block tag whose name is in `endTags` (or the end of the template when `endTags` is empty).
    /// Returns the body and the end tag's name, leaving the parser just after that name.
    private mutating func parseNodes(until endTags: Set<String>, opener: (String, Int)? = nil) throws -> ([JinjaNode], String?) {
        var body: [JinjaNode] = []
        while true {
            let t = current
            switch t.kind {
            case .eof:
                if let opener {
                    throw ChatTemplateError(.syntax, "unexpected end of template: the '{% \(opener.0) %}' block opened at line \(opener.1) is never closed (expected \(endTags.sorted().map { "'{% \($0) %}'" }.joined(separator: " or ")))", line: t.line)
                }
                return (body, nil)
            case .text(let text):
                index += 1
                body.append(.text(text))
            case .variableBegin:
                index += 1
                let expr = try parseTuple(withCondition: true)
                guard current.kind == .variableEnd else { throw fail("expected '}}' to end the expression, got \(describe(current))") }
                index += 1
                body.append(.output(expr, line: t.line))
            case .blockBegin:
                index += 1
                guard case .name(let tag) = current.kind else { throw fail("expected a statement name after '{%', got \(describe(current))") }
                if endTags.contains(tag) {
                    index += 1
                    return (body, tag)
                }
                body.append(try parseStatement())
            default:
                throw fail("unexpected \(describe(t))")
            }
        }
    }

    private mutating func parseStatement() throws -> JinjaNode {
        let startLine = line
        depth += 1
        defer { depth -= 1 }
        guard depth <= 100 else { throw fail("blocks nested more than 100 levels deep") }
        let tag = try expectName()
        switch tag {
        case "if": return try parseIf(line: startLine)
        case "for": return try parseFor(line: startLine)
        case "set": return try parseSet(line: startLine)
        case "macro": return try parseMacro(line: startLine)
        case "call": return try parseCall(line: startLine)
        case "filter":
            let filters = try parseFilterChain(first: true)
            try expectBlockEnd("filter")
            let (body, _) = try parseNodes(until: ["endfilter"], opener: ("filter", startLine))
            try expectBlockEnd("endfilter")
            return .filterBlock(filters: filters, body: body, line: startLine)
        case "with":
            var assignments: [(JinjaTarget, JinjaExpr)] = []
            while current.kind != .blockEnd {
                if !assignments.isEmpty { try expectOp(",", "between 'with' assignments") }
                let target = try parseAssignTarget()
                try expectOp("=", "in 'with'")
                assignments.append((target, try parseExpression()))
            }
            try expectBlockEnd("with")
            let (body, _) = try parseNodes(until: ["endwith"], opener: ("with", startLine))
            try expectBlockEnd("endwith")
            return .with(assignments: assignments, body: body, line: startLine)
        case "break":
            try expectBlockEnd("break")
            return .breakLoop(line: startLine)
        case "continue":
            try expectBlockEnd("continue")
            return .continueLoop(line: startLine)
        case "generation":
            try expectBlockEnd("generation")
            let (body, _) = try parseNodes(until: ["endgeneration"], opener: ("generation", startLine))
            try expectBlockEnd("endgeneration")
            return .generation(body: body, line: startLine)
        case "include", "import", "from", "extends", "block":
            throw ChatTemplateError(.syntax, "'{% \(tag) %}' is not supported: chat templates are rendered from a single string with no loader", line: startLine)
        case "do":
            throw ChatTemplateError(.syntax, "'{% do %}' needs jinja2's 'do' extension, which transformers does not enable", line: startLine)
        case "elif", "else", "endif", "endfor", "endset", "endmacro", "endcall", "endfilter", "endwith", "endgeneration", "endraw":
            throw ChatTemplateError(.syntax, "unexpected '{% \(tag) %}' with no matching open block", line: startLine)
        default:
            throw ChatTemplateError(.syntax, "unknown statement '{% \(tag) %}'", line: startLine)
        }
    }

    private mutating func parseIf(line startLine: Int) throws -> JinjaNode {
        var branches: [(JinjaExpr, [JinjaNode])] = []
        var condition = try parseTuple(withCondition: false)
        try expectBlockEnd("if")
        while true {
            let (body, end) = try parseNodes(until: ["elif", "else", "endif"], opener: ("if", startLine))
            branches.append((condition, body))
            if end == "elif" {
                condition = try parseTuple(withCondition: false)
                try expectBlockEnd("elif")
                continue
            }
            if end == "else" {
                try expectBlockEnd("else")
                let (otherwise, _) = try parseNodes(until: ["endif"], opener: ("if", startLine))
                try expectBlockEnd("endif")
                return .ifChain(branches, otherwise: otherwise, line: startLine)
            }
            try expectBlockEnd("endif")
            return .ifChain(branches, otherwise: [], line: startLine)
        }
    }

    private mutating func parseFor(line startLine: Int) throws -> JinjaNode {
        let target = try parseAssignTarget(extraEnd: "in")
        guard skipName("in") else { throw fail("expected 'in' in the 'for' tag, got \(describe(current))") }
        let iterable = try parseTuple(withCondition: false, extraEnd: ["recursive"])
        var condition: JinjaExpr?
        if skipName("if") { condition = try parseExpression() }
        let recursive = skipName("recursive")
        if recursive {
            throw ChatTemplateError(.syntax, "recursive for loops ('{% for ... recursive %}') are not supported", line: startLine)
        }
        try expectBlockEnd("for")
        let (body, end) = try parseNodes(until: ["endfor", "else"], opener: ("for", startLine))
        var otherwise: [JinjaNode] = []
        if end == "else" {
            try expectBlockEnd("else")
            (otherwise, _) = try parseNodes(until: ["endfor"], opener: ("for", startLine))
        }
        try expectBlockEnd("endfor")
        return .forLoop(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise,
                        recursive: recursive, line: startLine)
    }

    private mutating func parseSet(line startLine: Int) throws -> JinjaNode {
        let target = try parseAssignTarget()
        if skipOp("=") {
            let value = try parseTuple(withCondition: true)
            try expectBlockEnd("set")
            return .set(target, value, line: startLine)
        }
        let filters = isOp("|") ? try parseFilterChain(first: false) : []
        try expectBlockEnd("set")
        let (body, _) = try parseNodes(until: ["endset"], opener: ("set", startLine))
        try expectBlockEnd("endset")
        return .setBlock(target, filters: filters, body: body, line: startLine)
    }

    private mutating func parseMacroParameters() throws -> [JinjaMacroParameter] {
        var parameters: [JinjaMacroParameter] = []
        try expectOp("(", "to open the parameter list")
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",", "between parameters") }
            if isOp(")") { break }
            let name = try expectName()
            var defaultValue: JinjaExpr?
            if skipOp("=") { defaultValue = try parseExpression() }
            parameters.append(JinjaMacroParameter(name: name, defaultValue: defaultValue))
        }
        try expectOp(")", "to close the parameter list")
        return parameters
    }

    private mutating func parseMacro(line startLine: Int) throws -> JinjaNode {
        let name = try expectName()
        let parameters = try parseMacroParameters()
        try expectBlockEnd("macro")
        let (body, _) = try parseNodes(until: ["endmacro"], opener: ("macro", startLine))
        try expectBlockEnd("endmacro")
        return .macro(name: name, parameters: parameters, body: body, line: startLine)
    }

    private mutating func parseCall(line startLine: Int) throws -> JinjaNode {
        let parameters = isOp("(") ? try parseMacroParameters() : []
        let call = try parseExpression()
        guard case .call = call else { throw fail("expected a macro call in '{% call %}'") }
        try expectBlockEnd("call")
        let (body, _) = try parseNodes(until: ["endcall"], opener: ("call", startLine))
        try expectBlockEnd("endcall")
        return .callBlock(call: call, parameters: parameters, body: body, line: startLine)
    }

    private mutating func parseFilterChain(first: Bool) throws -> [JinjaFilterCall] {
        var filters: [JinjaFilterCall] = []
        var needBar = !first
        while true {
            if needBar {
                guard skipOp("|") else { break }
            }
            needBar = true
            let filterLine = line
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            let args = isOp("(") ? try parseCallArguments() : []
            filters.append(JinjaFilterCall(name: name, args: args, line: filterLine))
        }
        return filters
    }

    private mutating func parseAssignTarget(extraEnd: String? = nil) throws -> JinjaTarget {
        var targets: [JinjaTarget] = []
        var sawComma = false
        while true {
            if !targets.isEmpty {
                guard skipOp(",") else { break }
                sawComma = true
                if current.kind == .blockEnd || (extraEnd.map(isName) ?? false) || isOp("=") { break }
            }
            if skipOp("(") {
                let inner = try parseAssignTarget()
                try expectOp(")", "to close the target tuple")
                targets.append(inner)
                continue
            }
            let name = try expectName()
            if ["true", "false", "none", "True", "False", "None"].contains(name) {
                throw fail("cannot assign to '\(name)'")
            }
            if skipOp(".") {
                targets.append(.namespaceAttribute(name, try expectName()))
            } else {
                targets.append(.name(name))
            }
        }
        return (targets.count == 1 && !sawComma) ? targets[0] : .tuple(targets)
    }

    // MARK: - Expressions

    /// jinja2 `parse_tuple`: a comma-separated list becomes a tuple; used for `{{ }}`, `for ... in`, `if`, `set`.
    private mutating func parseTuple(withCondition: Bool, extraEnd: Set<String> = []) throws -> JinjaExpr {
        var items: [JinjaExpr] = []
        var sawComma = false
        while true {
            if !items.isEmpty {
                guard skipOp(",") else { break }
                sawComma = true
            }
            if isTupleEnd(extraEnd) { break }
            items.append(withCondition ? try parseExpression() : try parseOr())
        }
        if items.isEmpty { throw fail("expected an expression, got \(describe(current))") }
        return (items.count == 1 && !sawComma) ? items[0] : .tuple(items)
    }

    private func isTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .eof: return true
        case .op(")"), .op("]"), .op("}"): return true
        case .name(let n): return extraEnd.contains(n)
        default: return false
        }
    }

    mutating func parseExpression() throws -> JinjaExpr {
        let expr = try parseOr()
        if isName("if") {
            index += 1
            let test = try parseOr()
            var otherwise: JinjaExpr?
            if skipName("else") { otherwise = try parseExpression() }
            return .conditional(then: expr, test: test, otherwise: otherwise)
        }
        return expr
    }

    /// Counts one more level of AST nesting for a left-leaning chain (`a + b + c`, `x|f|g`, `a.b.c`): evaluation
    /// and deallocation recurse once per level, so chains share the nesting limit.
    private mutating func nest(_ wraps: inout Int) throws {
        wraps += 1
        depth += 1
        guard depth <= 100 else { throw fail("expression nested more than 100 levels deep (long operator or filter chain)") }
    }

    private mutating func parseOr() throws -> JinjaExpr {
        var wraps = 0
        defer { depth -= wraps }
        var left = try parseAnd()
        while skipName("or") { try nest(&wraps); left = .or(left, try parseAnd()) }
        return left
    }

    private mutating func parseAnd() throws -> JinjaExpr {
        var wraps = 0
        defer { depth -= wraps }
        var left = try parseNot()
        while skipName("and") { try nest(&wraps); left = .and(left, try parseNot()) }
        return left
    }

    private mutating func parseNot() throws -> JinjaExpr {
        if skipName("not") {
            depth += 1
            defer { depth -= 1 }
            guard depth <= 100 else { throw fail("expression nested more than 100 levels deep") }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> JinjaExpr {
        let startLine = line
        let left = try parseMath1()
        var ops: [(String, JinjaExpr)] = []
        while true {
            if case .op(let op) = current.kind, ["==", "!=", "<", ">", "<=", ">="].contains(op) {
                index += 1
                ops.append((op, try parseMath1()))
            } else if skipName("in") {
                ops.append(("in", try parseMath1()))
            } else if isName("not") && peek().kind == .name("in") {
                index += 2
                ops.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? left : .compare(left, ops, line: startLine)
    }

    private mutating func parseMath1() throws -> JinjaExpr {
        var wraps = 0
        defer { depth -= wraps }
        var left = try parseConcat()
        while case .op(let op) = current.kind, op == "+" || op == "-" {
            try nest(&wraps)
            let l = line
            index += 1
            left = .binary(op, left, try parseConcat(), line: l)
        }
        return left
    }

    private mutating func parseConcat() throws -> JinjaExpr {
        let startLine = line
        var items = [try parseMath2()]
        while skipOp("~") { items.append(try parseMath2()) }
        return items.count == 1 ? items[0] : .concat(items, line: startLine)
    }

    private mutating func parseMath2() throws -> JinjaExpr {
        var wraps = 0
        defer { depth -= wraps }
        var left = try parsePow()
        while case .op(let op) = current.kind, ["*", "/", "//", "%"].contains(op) {
            try nest(&wraps)
            let l = line
            index += 1
            left = .binary(op, left, try parsePow(), line: l)
        }
        return left
    }

    private mutating func parsePow() throws -> JinjaExpr {
        var wraps = 0
        defer { depth -= wraps }
        var left = try parseUnary()
        while isOp("**") {
            try nest(&wraps)
            let l = line
            index += 1
            left = .binary("**", left, try parseUnary(), line: l)
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> JinjaExpr {
        let l = line
        // Every nested sub-expression passes through here; bound the recursion so hostile input is an error, not a
        // stack overflow.
        depth += 1
        defer { depth -= 1 }
        guard depth <= 100 else { throw fail("expression nested more than 100 levels deep") }
        var node: JinjaExpr
        if skipOp("-") {
            node = .unary("-", try parseUnary(withFilter: false), line: l)
        } else if skipOp("+") {
            node = .unary("+", try parseUnary(withFilter: false), line: l)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    private mutating func parsePrimary() throws -> JinjaExpr {
        let t = current
        switch t.kind {
        case .name(let n):
            index += 1
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n, line: t.line)
            }
        case .string(var s):
            index += 1
            while case .string(let more) = current.kind {  // adjacent literals concatenate
                s += more
                index += 1
            }
            return .literal(.string(s))
        case .integer(let i):
            index += 1
            return .literal(.int(i))
        case .float(let d):
            index += 1
            return .literal(.double(d))
        case .op("("):
            index += 1
            if skipOp(")") { return .tuple([]) }
            let inner = try parseTuple(withCondition: true)
            try expectOp(")", "to close '('")
            return inner
        case .op("["):
            index += 1
            var items: [JinjaExpr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",", "between list items") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]", "to close the list")
            return .list(items)
        case .op("{"):
            index += 1
            var pairs: [(JinjaExpr, JinjaExpr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",", "between dict items") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":", "after a dict key")
                pairs.append((key, try parseExpression()))
            }
            try expectOp("}", "to close the dict")
            return .dict(pairs, line: t.line)
        default:
            throw fail("unexpected \(describe(t)) in an expression")
        }
    }

    private mutating func parsePostfix(_ base: JinjaExpr) throws -> JinjaExpr {
        var wraps = 0
        defer { depth -= wraps }
        var node = base
        while true {
            if isOp(".") || isOp("[") || isOp("(") { try nest(&wraps) }
            let l = line
            if skipOp(".") {
                switch current.kind {
                case .name(let n):
                    index += 1
                    node = .attribute(node, n, line: l)
                case .integer(let i):
                    index += 1
                    node = .item(node, .literal(.int(i)), line: l)
                default:
                    throw fail("expected an attribute name after '.', got \(describe(current))")
                }
            } else if skipOp("[") {
                node = try parseSubscript(node, line: l)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments(), line: l)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ base: JinjaExpr, line l: Int) throws -> JinjaExpr {
        var parts: [JinjaExpr] = []
        var result: JinjaExpr?
        repeat {
            if isOp(":") || isSliceAhead() {
                var start: JinjaExpr?
                if !isOp(":") { start = try parseExpression() }
                try expectOp(":", "in a slice")
                var stop: JinjaExpr?
                var step: JinjaExpr?
                if !isOp("]") && !isOp(":") && !isOp(",") { stop = try parseExpression() }
                if skipOp(":") {
                    if !isOp("]") && !isOp(",") { step = try parseExpression() }
                }
                result = .slice(base, start: start, stop: stop, step: step, line: l)
            } else {
                parts.append(try parseExpression())
            }
        } while skipOp(",")
        try expectOp("]", "to close the subscript")
        if let result {
            if !parts.isEmpty { throw fail("mixing slices and indexes in one subscript is not supported") }
            return result
        }
        return .item(base, parts.count == 1 ? parts[0] : .tuple(parts), line: l)
    }

    /// Looks ahead (bracket-aware) for a ':' before the closing ']' of the current subscript.
    private func isSliceAhead() -> Bool {
        var depth = 0
        var i = index
        while i < tokens.count {
            switch tokens[i].kind {
            case .op("("), .op("["), .op("{"): depth += 1
            case .op(")"), .op("}"): depth -= 1
            case .op("]"):
                if depth == 0 { return false }
                depth -= 1
            case .op(":"): if depth == 0 { return true }
            case .op(","): if depth == 0 { return false }
            case .variableEnd, .blockEnd, .eof: return false
            default: break
            }
            i += 1
        }
        return false
    }

    mutating func parseCallArguments() throws -> [JinjaArg] {
        try expectOp("(", "to open the argument list")
        var args: [JinjaArg] = []
        while !isOp(")") {
            if !args.isEmpty { try expectOp(",", "between arguments") }
            if isOp(")") { break }
            if skipOp("**") {
                args.append(.doubleStar(try parseExpression()))
            } else if skipOp("*") {
                args.append(.star(try parseExpression()))
            } else if case .name(let n) = current.kind, peek().kind == .op("=") {
                index += 2
                args.append(.keyword(n, try parseExpression()))
            } else {
                args.append(.positional(try parseExpression()))
            }
        }
        try expectOp(")", "to close the argument list")
        return args
    }

    private mutating func parseFilterExpression(_ base: JinjaExpr) throws -> JinjaExpr {
        var wraps = 0
        defer { depth -= wraps }
        var node = base
        while true {
            if isOp("|") || isName("is") || isOp("(") { try nest(&wraps) }
            let l = line
            if skipOp("|") {
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                let args = isOp("(") ? try parseCallArguments() : []
                node = .filter(node, name: name, args, line: l)
            } else if skipName("is") {
                let negated = skipName("not")
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                var args: [JinjaArg] = []
                if isOp("(") {
                    args = try parseCallArguments()
                } else if startsTestArgument() {
                    if isName("is") { throw fail("you cannot chain multiple tests with 'is'") }
                    args = [.positional(try parsePostfix(try parsePrimary()))]
                }
                node = .test(node, name: name, args, negated: negated, line: l)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments(), line: l)
            } else {
                return node
            }
        }
    }

    /// jinja2 `parse_test`: a test takes one bare argument (`is divisibleby 3`) when the next token can start a
    /// primary expression and is not `else`/`or`/`and`.
    private func startsTestArgument() -> Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and"].contains(n)
        case .string, .integer, .float, .op("("), .op("["), .op("{"): return true
        default: return false
        }
    }
}
