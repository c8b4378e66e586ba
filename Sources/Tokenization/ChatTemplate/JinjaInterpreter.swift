// Renders a parsed template. Semantics follow jinja2 3.1 in transformers' ImmutableSandboxedEnvironment: Python
// values and truthiness, default `Undefined`, attribute-then-item lookup, loop scoping, and no mutation of lists or
// dicts (the sandbox refuses `append`, `update`, ...).

/// Variables visible at one point of a template. `{% for %}` bodies and macro calls get a child scope, so their
/// `{% set %}` does not leak out — the jinja2 rule that makes templates use `namespace()` for loop results.
final class JinjaScope {
    var variables: [String: JinjaValue] = [:]
    let parent: JinjaScope?

    init(parent: JinjaScope?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var scope: JinjaScope? = self
        while let s = scope {
            if let v = s.variables[name] { return v }
            scope = s.parent
        }
        return nil
    }
}

/// What `loop.changed(...)` last saw, shared by the iterations of one loop.
final class LoopChangedState {
    var last: JinjaValue?
}

/// Control flow out of a statement list (`{% break %}` / `{% continue %}`).
enum JinjaFlow {
    case normal, breakLoop, continueLoop
}

final class JinjaInterpreter {
    /// Output buffers: the first is the rendered template; capture blocks (`{% set %}` blocks, macros,
    /// `{% filter %}`, `{% generation %}`) push their own.
    private var buffers: [String] = [""]
    /// Length of the top-level output in Unicode scalars (Python string indices).
    private var rootLength = 0
    /// `{% generation %}` spans as transformers' AssistantTracker records them: start = length of the top-level output
    /// already produced, end = start + length of the block's text.
    private(set) var generationSpans: [Range<Int>] = []
    /// Guards against runaway recursion in macros.
    private var callDepth = 0

    let globals: JinjaScope

    init(globals: JinjaScope) { self.globals = globals }

    var output: String { buffers[0] }

    // MARK: - Output

    private func write(_ text: String) {
        buffers[buffers.count - 1] += text
        if buffers.count == 1 { rootLength += text.unicodeScalars.count }
    }

    private func capture(_ body: () throws -> Void) throws -> String {
        buffers.append("")
        do {
            try body()
        } catch {
            buffers.removeLast()
            throw error
        }
        return buffers.removeLast()
    }

    // MARK: - Statements

    func execute(_ nodes: [JinjaNode], _ scope: JinjaScope) throws -> JinjaFlow {
        for node in nodes {
            let flow = try execute(node, scope)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func located<T>(_ line: Int, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as ChatTemplateError {
            if error.line == nil { error.line = line }
            throw error
        }
    }

    private func execute(_ node: JinjaNode, _ scope: JinjaScope) throws -> JinjaFlow {
        switch node {
        case .text(let text):
            write(text)
        case .output(let expr, let line):
            let value = try located(line) { try evaluate(expr, scope) }
            try located(line) { try refuseGeneratorText(value) }
            write(value.pythonStr)
        case .ifChain(let branches, let otherwise, let line):
            for (condition, body) in branches {
                if try located(line, { try evaluate(condition, scope).isTruthy }) {
                    return try execute(body, scope)
                }
            }
            return try execute(otherwise, scope)
        case .forLoop(let target, let iterableExpr, let condition, let body, let otherwise, _, let line):
            return try executeFor(target: target, iterableExpr: iterableExpr, condition: condition, body: body,
                                  otherwise: otherwise, line: line, scope: scope)
        case .set(let target, let expr, let line):
            try located(line) {
                let value = try evaluate(expr, scope)
                try assign(target, value, scope)
            }
        case .setBlock(let target, let filters, let body, let line):
            var text: JinjaValue = .string(try capture { _ = try execute(body, scope) })
            try located(line) {
                for f in filters { text = try applyFilter(f.name, text, f.args, scope) }
                try assign(target, text, scope)
            }
        case .macro(let name, let parameters, let body, _):
            scope.variables[name] = .callable(makeMacro(name: name, parameters: parameters, body: body, scope: scope))
        case .callBlock(let callExpr, let parameters, let body, let line):
            guard case .call(let calleeExpr, let args, _) = callExpr else { return .normal }
            let caller = makeMacro(name: "caller", parameters: parameters, body: body, scope: scope)
            let text = try located(line) { () throws -> JinjaValue in
                let callee = try evaluate(calleeExpr, scope)
                var arguments = try evaluateArguments(args, scope)
                arguments.keyword["caller"] = .callable(caller)
                return try call(callee, arguments, name: "call block")
            }
            write(text.pythonStr)
        case .filterBlock(let filters, let body, let line):
            var text: JinjaValue = .string(try capture { _ = try execute(body, scope) })
            try located(line) {
                for f in filters { text = try applyFilter(f.name, text, f.args, scope) }
            }
            write(text.pythonStr)
        case .with(let assignments, let body, let line):
            let inner = JinjaScope(parent: scope)
            try located(line) {
                for (target, expr) in assignments { try assign(target, try evaluate(expr, scope), inner) }
            }
            return try execute(body, inner)
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        case .generation(let body, _):
            let text = try capture { _ = try execute(body, scope) }
            let start = rootLength
            generationSpans.append(start..<start + text.unicodeScalars.count)
            write(text)
        }
        return .normal
    }

    private func executeFor(target: JinjaTarget, iterableExpr: JinjaExpr, condition: JinjaExpr?, body: [JinjaNode],
                            otherwise: [JinjaNode], line: Int, scope: JinjaScope) throws -> JinjaFlow {
        var items = try located(line) { try iterate(try evaluate(iterableExpr, scope)) }
        if let condition {
            // The loop filter sees each item bound to the target, and `loop.length` counts only the kept items.
            items = try located(line) {
                try items.filter { item in
                    let probe = JinjaScope(parent: scope)
                    try assign(target, item, probe)
                    return try evaluate(condition, probe).isTruthy
                }
            }
        }
        if items.isEmpty { return try execute(otherwise, scope) }
        let count = items.count
        let changedState = LoopChangedState()
        for (i, item) in items.enumerated() {
            let inner = JinjaScope(parent: scope)
            var loop = JinjaDict()
            loop["index"] = .int(i + 1)
            loop["index0"] = .int(i)
            loop["revindex"] = .int(count - i)
            loop["revindex0"] = .int(count - i - 1)
            loop["first"] = .bool(i == 0)
            loop["last"] = .bool(i == count - 1)
            loop["length"] = .int(count)
            loop["depth"] = .int(1)
            loop["depth0"] = .int(0)
            loop["previtem"] = i > 0 ? items[i - 1] : .undefined("there is no previous item")
            loop["nextitem"] = i + 1 < count ? items[i + 1] : .undefined("there is no next item")
            loop["cycle"] = .callable(JinjaCallable(name: "loop.cycle") { args in
                guard !args.positional.isEmpty else { throw jinjaRenderError("no items for cycling given") }
                return args.positional[i % args.positional.count]
            })
            loop["changed"] = .callable(JinjaCallable(name: "loop.changed") { args in
                // jinja2 LoopContext.changed: true when the arguments differ from the previous call's.
                let current = JinjaValue.tuple(args.positional)
                defer { changedState.last = current }
                return .bool(changedState.last.map { !pyEquals($0, current) } ?? true)
            })
            inner.variables["loop"] = .dict(loop)
            try located(line) { try assign(target, item, inner) }
            let flow = try execute(body, inner)
            if flow == .breakLoop { break }
        }
        return .normal
    }

    private func assign(_ target: JinjaTarget, _ value: JinjaValue, _ scope: JinjaScope) throws {
        switch target {
        case .name(let name):
            scope.variables[name] = value
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                throw jinjaRenderError(items.count > targets.count
                    ? "too many values to unpack (expected \(targets.count))"
                    : "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope) }
        case .namespaceAttribute(let name, let attribute):
            guard case .namespace(let ns)? = scope.lookup(name) ?? globals.lookup(name) else {
                throw jinjaRenderError("cannot assign attribute on non-namespace object '\(name)'")
            }
            if attribute.hasPrefix("_") {
                throw jinjaRenderError("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attribute)'.")
            }
            ns.attributes[attribute] = value
        }
    }

    private func makeMacro(name: String, parameters: [JinjaMacroParameter], body: [JinjaNode], scope: JinjaScope) -> JinjaCallable {
        JinjaCallable(name: name) { [unowned self] args in
            let inner = JinjaScope(parent: scope)
            var keyword = args.keyword
            for (i, parameter) in parameters.enumerated() {
                if i < args.positional.count {
                    inner.variables[parameter.name] = args.positional[i]
                } else if let v = keyword[parameter.name] {
                    inner.variables[parameter.name] = v
                    keyword[parameter.name] = nil
                } else if let d = parameter.defaultValue {
                    inner.variables[parameter.name] = try self.evaluate(d, inner)
                } else {
                    inner.variables[parameter.name] = .undefined("parameter '\(parameter.name)' was not provided")
                }
            }
            if let caller = keyword["caller"] {
                inner.variables["caller"] = caller
                keyword["caller"] = nil
            }
            inner.variables["varargs"] = .tuple(Array(args.positional.dropFirst(parameters.count)))
            inner.variables["kwargs"] = .dict(keyword)
            self.callDepth += 1
            defer { self.callDepth -= 1 }
            // Well below any real template's needs, and shallow enough for a test thread's small stack.
            guard self.callDepth <= 64 else { throw jinjaRenderError("macro '\(name)' recursed more than 64 levels deep") }
            let text = try self.capture { _ = try self.execute(body, inner) }
            return .string(text)
        }
    }

    // MARK: - Expressions

    func evaluate(_ expr: JinjaExpr, _ scope: JinjaScope) throws -> JinjaValue {
        switch expr {
        case .literal(let v):
            return v
        case .name(let name, _):
            return scope.lookup(name) ?? globals.lookup(name) ?? .undefined("'\(name)' is undefined")
        case .list(let items):
            return .list(try items.map { try evaluate($0, scope) })
        case .tuple(let items):
            return .tuple(try items.map { try evaluate($0, scope) })
        case .dict(let pairs, let line):
            var d = JinjaDict()
            for (k, v) in pairs {
                guard case .string(let key) = try evaluate(k, scope) else {
                    throw ChatTemplateError(.render, "dict literal keys must be strings in Whittle's template engine", line: line)
                }
                d[key] = try evaluate(v, scope)
            }
            return .dict(d)
        case .attribute(let base, let name, let line):
            return try located(line) { try getAttribute(try evaluate(base, scope), name) }
        case .item(let base, let key, let line):
            return try located(line) { try getItem(try evaluate(base, scope), try evaluate(key, scope)) }
        case .slice(let base, let start, let stop, let step, let line):
            return try located(line) {
                try slice(try evaluate(base, scope), start.map { try evaluate($0, scope) },
                          stop.map { try evaluate($0, scope) }, step.map { try evaluate($0, scope) })
            }
        case .call(let callee, let args, let line):
            return try located(line) {
                let function = try evaluate(callee, scope)
                return try call(function, try evaluateArguments(args, scope), name: describeCallee(callee))
            }
        case .filter(let base, let name, let args, let line):
            return try located(line) { try applyFilter(name, try evaluate(base, scope), args, scope) }
        case .test(let base, let name, let args, let negated, let line):
            return try located(line) {
                let value = try evaluate(base, scope)
                let result = try test(name, value, try evaluateArguments(args, scope))
                return .bool(negated ? !result : result)
            }
        case .unary(let op, let operand, let line):
            return try located(line) { try unaryOperation(op, try evaluate(operand, scope)) }
        case .binary(let op, let l, let r, let line):
            return try located(line) { try binaryOperation(op, try evaluate(l, scope), try evaluate(r, scope)) }
        case .and(let l, let r):
            let left = try evaluate(l, scope)
            return left.isTruthy ? try evaluate(r, scope) : left
        case .or(let l, let r):
            let left = try evaluate(l, scope)
            return left.isTruthy ? left : try evaluate(r, scope)
        case .not(let operand):
            return .bool(!(try evaluate(operand, scope).isTruthy))
        case .compare(let first, let ops, let line):
            return try located(line) {
                var left = try evaluate(first, scope)
                for (op, rightExpr) in ops {
                    let right = try evaluate(rightExpr, scope)
                    if !(try compare(op, left, right)) { return .bool(false) }
                    left = right
                }
                return .bool(true)
            }
        case .conditional(let then, let test, let otherwise):
            if try evaluate(test, scope).isTruthy { return try evaluate(then, scope) }
            if let otherwise { return try evaluate(otherwise, scope) }
            return .undefined("the inline if-expression evaluated to false and no else section was defined")
        case .concat(let items, let line):
            return try located(line) {
                var s = ""
                for item in items {
                    let v = try evaluate(item, scope)
                    try refuseGeneratorText(v)
                    s += v.pythonStr
                }
                return .string(s)
            }
        }
    }

    private func describeCallee(_ expr: JinjaExpr) -> String {
        switch expr {
        case .name(let n, _): return n
        case .attribute(_, let n, _): return n
        default: return "expression"
        }
    }

    func evaluateArguments(_ args: [JinjaArg], _ scope: JinjaScope) throws -> JinjaArguments {
        var result = JinjaArguments()
        for arg in args {
            switch arg {
            case .positional(let e): result.positional.append(try evaluate(e, scope))
            case .keyword(let k, let e): result.keyword[k] = try evaluate(e, scope)
            case .star(let e): result.positional += try iterate(try evaluate(e, scope))
            case .doubleStar(let e):
                guard case .dict(let d) = try evaluate(e, scope) else {
                    throw jinjaRenderError("argument after ** must be a mapping")
                }
                for (k, v) in d.pairs { result.keyword[k] = v }
            }
        }
        return result
    }

    func call(_ function: JinjaValue, _ args: JinjaArguments, name: String) throws -> JinjaValue {
        switch function {
        case .callable(let c): return try c.body(args)
        case .undefined(let why): throw jinjaRenderError(why)
        default: throw jinjaRenderError("'\(function.typeName)' object is not callable")
        }
    }

    // MARK: - Attribute and item access

    /// `a.b`: jinja2 tries the Python attribute (a method such as `items` or `strip`) before the dict key.
    func getAttribute(_ value: JinjaValue, _ name: String) throws -> JinjaValue {
        switch value {
        case .undefined(let why):
            throw jinjaRenderError(why)
        case .dict(let d):
            if let method = boundMethod(value, name) { return method }
            return d[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .namespace(let ns):
            return ns.attributes[name] ?? .undefined("'Namespace' object has no attribute '\(name)'")
        default:
            if let method = boundMethod(value, name) { return method }
            return .undefined("'\(value.typeName) object' has no attribute '\(name)'")
        }
    }

    /// `a[b]`: the item first, then (for string keys) the attribute.
    func getItem(_ value: JinjaValue, _ key: JinjaValue) throws -> JinjaValue {
        switch (value, key) {
        case (.undefined(let why), _):
            throw jinjaRenderError(why)
        case (.dict(let d), .string(let k)):
            if let v = d[k] { return v }
            return boundMethod(value, k) ?? .undefined("'dict object' has no attribute '\(k)'")
        case (.list(let items), _), (.tuple(let items), _):
            if case .string(let k) = key { return try getAttribute(value, k) }
            guard let i = intValue(key) else { return .undefined("\(value.typeName) indices must be integers") }
            let j = i < 0 ? items.count + i : i
            return (0..<items.count).contains(j) ? items[j] : .undefined("'\(value.typeName) object' has no element \(i)")
        case (.string(let s), _):
            if case .string(let k) = key { return try getAttribute(value, k) }
            guard let i = intValue(key) else { return .undefined("string indices must be integers") }
            let scalars = Array(s.unicodeScalars)
            let j = i < 0 ? scalars.count + i : i
            return (0..<scalars.count).contains(j) ? .string(String(scalars[j])) : .undefined("'str object' has no element \(i)")
        case (.view(let v), _):
            // Ranges index like lists; dict views are not subscriptable, so jinja2 yields Undefined.
            guard case .range = v.kind, let i = intValue(key) else {
                return .undefined("'\(v.typeName) object' has no element \(key.pythonRepr)")
            }
            let j = i < 0 ? v.items.count + i : i
            return (0..<v.items.count).contains(j) ? v.items[j] : .undefined("'range object' has no element \(i)")
        case (.namespace, .string(let k)):
            return try getAttribute(value, k)
        case (_, .string(let k)):
            return try getAttribute(value, k)
        default:
            return .undefined("'\(value.typeName) object' has no element \(key.pythonRepr)")
        }
    }

    private func intValue(_ v: JinjaValue) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// Python slicing `a[start:stop:step]` for lists, tuples and strings.
    func slice(_ value: JinjaValue, _ start: JinjaValue?, _ stop: JinjaValue?, _ step: JinjaValue?) throws -> JinjaValue {
        func bound(_ v: JinjaValue?) throws -> Int? {
            guard let v, !(v.isNone) else { return nil }
            guard let i = intValue(v) else { throw jinjaRenderError("slice indices must be integers or None") }
            return i
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw jinjaRenderError("slice step cannot be zero") }
        func indices(_ n: Int) throws -> [Int] {
            var lo = try bound(start)
            var hi = try bound(stop)
            if stepValue > 0 {
                lo = lo.map { $0 < 0 ? max(0, $0 + n) : min($0, n) } ?? 0
                hi = hi.map { $0 < 0 ? max(0, $0 + n) : min($0, n) } ?? n
                return lo! < hi! ? Array(stride(from: lo!, to: hi!, by: stepValue)) : []
            } else {
                lo = lo.map { $0 < 0 ? max(-1, $0 + n) : min($0, n - 1) } ?? (n - 1)
                hi = hi.map { $0 < 0 ? max(-1, $0 + n) : min($0, n - 1) } ?? -1
                return lo! > hi! ? Array(stride(from: lo!, to: hi!, by: stepValue)) : []
            }
        }
        switch value {
        case .list(let items): return .list(try indices(items.count).map { items[$0] })
        case .tuple(let items): return .tuple(try indices(items.count).map { items[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        case .undefined(let why): throw jinjaRenderError(why)
        case .view(let v) where v.typeName == "range":
            throw jinjaRenderError("slicing a range is not supported by Whittle's template engine; use |list first")
        default: throw jinjaRenderError("'\(value.typeName)' object is not subscriptable")
        }
    }

    /// jinja2 prints a generator as `<generator object ... at 0x7f...>`, an address no one can match; refuse
    /// instead of printing something else.
    func refuseGeneratorText(_ value: JinjaValue) throws {
        if case .generator(_, let name) = value {
            throw jinjaRenderError("printing the generator returned by the '\(name)' filter is not supported (jinja2 prints its memory address); add |list")
        }
    }

    // MARK: - Iteration

    /// `for x in value`: lists and tuples by item, dicts by key, strings by character; undefined is empty.
    func iterate(_ value: JinjaValue) throws -> [JinjaValue] {
        switch value {
        case .list(let items), .tuple(let items), .generator(let items, _): return items
        case .view(let v): return v.items
        case .dict(let d): return d.keys.map { .string($0) }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default: throw jinjaRenderError("'\(value.typeName)' object is not iterable")
        }
    }
}

extension JinjaValue {
    var isNone: Bool { if case .none = self { return true } else { return false } }
}
