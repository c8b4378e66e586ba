import Foundation

/// The result of rendering a chat template.
public struct RenderedChat: Sendable, Equatable {
    /// The prompt text, byte-identical to transformers' `apply_chat_template(..., tokenize=False)`.
    public let text: String
    /// Where each `{% generation %}` block's text landed, in Unicode scalar offsets into `text` (Python string
    /// indices, as transformers' AssistantTracker reports them). Used to build assistant-only loss masks.
    public let generationSpans: [Range<Int>]

    /// The same spans as UTF-8 byte offsets into `text`, the unit tokenizer offsets are usually measured in.
    public var generationUTF8Spans: [Range<Int>] {
        guard !generationSpans.isEmpty else { return [] }
        // Byte offset of every scalar boundary, computed once.
        var offsets: [Int] = [0]
        offsets.reserveCapacity(text.unicodeScalars.count + 1)
        var bytes = 0
        for scalar in text.unicodeScalars {
            bytes += UTF8.width(scalar)
            offsets.append(bytes)
        }
        return generationSpans.map { offsets[$0.lowerBound]..<offsets[$0.upperBound] }
    }

    /// The text of each generation span.
    public var generationTexts: [String] {
        let scalars = Array(text.unicodeScalars)
        return generationSpans.map { String(String.UnicodeScalarView(scalars[$0])) }
    }
}

/// A parsed Jinja chat template, rendered the way transformers renders it (jinja2's
/// ImmutableSandboxedEnvironment with `trim_blocks`, `lstrip_blocks`, `loopcontrols` and the `generation` tag).
///
/// Parse once, render many times; a value is immutable and safe to share between threads.
public struct ChatTemplate: Sendable {
    public let source: String
    private let nodes: [JinjaNode]

    /// Parses `source`. Throws a `.syntax` error naming the construct and line for anything jinja2 would reject at
    /// compile time (bad syntax, unclosed blocks, unknown filters or tests) and for the few features Whittle refuses.
    public init(source: String) throws {
        self.source = source
        nodes = try JinjaParser.parse(source)
        try JinjaValidator.validate(nodes)
    }

    /// Renders a conversation as `tokenizer.apply_chat_template(messages, tools=..., add_generation_prompt=...,
    /// tokenize=False, **extra)` does, given the tokenizer's special tokens.
    ///
    /// - Parameters:
    ///   - messages: each a dict such as `{"role": "user", "content": "..."}` (usually parsed from JSON).
    ///   - tools: JSON tool schemas, or nil (the template then sees `tools` as `None`, as in transformers).
    ///   - documents: retrieval documents, or nil.
    ///   - specialTokens: `bos_token`, `eos_token`, ... by name (transformers passes the tokenizer's special tokens).
    ///   - extra: further template variables (e.g. `date_string`, `enable_thinking`); they override the above.
    public func render(messages: [JinjaValue], tools: [JinjaValue]? = nil, documents: [JinjaValue]? = nil,
                       addGenerationPrompt: Bool = false, specialTokens: [String: String] = [:],
                       extra: [String: JinjaValue] = [:], now: @escaping @Sendable () -> Date = { Date() }) throws -> RenderedChat {
        var context: [String: JinjaValue] = [:]
        for message in messages {
            guard case .dict = message else {
                throw ChatTemplateError(.input, "chat messages must be objects, got \(message.typeName)")
            }
        }
        context["messages"] = .list(messages.map(Self.aliasReasoningFields))
        context["tools"] = tools.map { JinjaValue.list($0) } ?? JinjaValue.none
        context["documents"] = documents.map { JinjaValue.list($0) } ?? JinjaValue.none
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        for (name, token) in specialTokens { context[name] = .string(token) }
        for (name, value) in extra { context[name] = value }
        return try render(context: context, now: now)
    }

    /// Renders with exactly these template variables (no transformers conventions applied).
    public func render(context: [String: JinjaValue], now: @escaping @Sendable () -> Date = { Date() }) throws -> RenderedChat {
        let globals = JinjaScope(parent: nil)
        globals.variables = JinjaInterpreter.standardGlobals(now: now)
        let scope = JinjaScope(parent: globals)
        scope.variables = context
        let interpreter = JinjaInterpreter(globals: globals)
        let flow = try interpreter.execute(nodes, scope)
        if flow != .normal {
            throw ChatTemplateError(.syntax, "'{% break %}' or '{% continue %}' outside a for loop")
        }
        return RenderedChat(text: interpreter.output, generationSpans: interpreter.generationSpans)
    }

    /// transformers' `_alias_reasoning_fields`: a message's reasoning (under `reasoning_content`, `thinking` or
    /// `reasoning`) is also offered as `thinking` (first key, unless the message has one) and `reasoning_content`.
    static func aliasReasoningFields(_ message: JinjaValue) -> JinjaValue {
        guard case .dict(let d) = message else { return message }
        let reasoning = ["reasoning_content", "thinking", "reasoning"].lazy.compactMap { d[$0] }.first { !$0.isNone }
        guard let reasoning else { return message }
        var out = JinjaDict()
        out["thinking"] = reasoning
        for (k, v) in d.pairs { out[k] = v }  // a message's own `thinking` (even null) wins, as in `{"thinking": r, **m}`
        out["reasoning_content"] = reasoning
        return .dict(out)
    }
}

// MARK: - Compile-time checks

/// Rejects unknown filters and tests before rendering, as jinja2 does when it compiles a template (so an unknown
/// filter in a branch that happens not to run is still reported).
enum JinjaValidator {
    static func validate(_ nodes: [JinjaNode]) throws {
        for node in nodes { try validate(node) }
    }

    private static func checkFilter(_ name: String, _ line: Int) throws {
        if jinjaSupportedFilters.contains(name) { return }
        if jinjaUnsupportedFilters.contains(name) {
            throw ChatTemplateError(.syntax, "the '\(name)' filter is not supported by Whittle's template engine", line: line)
        }
        throw ChatTemplateError(.syntax, "no filter named '\(name)'", line: line)
    }

    private static func validate(_ node: JinjaNode) throws {
        switch node {
        case .text, .breakLoop, .continueLoop: return
        case .output(let e, let line): try validate(e, line: line)
        case .ifChain(let branches, let otherwise, let line):
            for (c, body) in branches { try validate(c, line: line); try validate(body) }
            try validate(otherwise)
        case .forLoop(_, let iterable, let condition, let body, let otherwise, _, let line):
            try validate(iterable, line: line)
            if let condition { try validate(condition, line: line) }
            try validate(body)
            try validate(otherwise)
        case .set(_, let e, let line): try validate(e, line: line)
        case .setBlock(_, let filters, let body, _), .filterBlock(let filters, let body, _):
            for f in filters { try checkFilter(f.name, f.line); try validate(f.args, line: f.line, depth: 0) }
            try validate(body)
        case .macro(_, let parameters, let body, let line):
            for p in parameters { if let d = p.defaultValue { try validate(d, line: line) } }
            try validate(body)
        case .callBlock(let call, let parameters, let body, let line):
            try validate(call, line: line)
            for p in parameters { if let d = p.defaultValue { try validate(d, line: line) } }
            try validate(body)
        case .with(let assignments, let body, let line):
            for (_, e) in assignments { try validate(e, line: line) }
            try validate(body)
        case .generation(let body, _): try validate(body)
        }
    }

    private static func validate(_ args: [JinjaArg], line: Int, depth: Int) throws {
        for a in args {
            switch a {
            case .positional(let e), .keyword(_, let e), .star(let e), .doubleStar(let e): try validate(e, line: line, depth: depth)
            }
        }
    }

    /// Also bounds the expression's depth: chains such as `a + a + ...` or `x|trim|trim...` nest one level per
    /// operator, and evaluation recurses once per level, so hostile depth must be an error, not a stack overflow.
    private static func validate(_ expr: JinjaExpr, line: Int, depth: Int = 0) throws {
        guard depth <= 200 else {
            throw ChatTemplateError(.syntax, "expression nested more than 200 levels deep (long operator or filter chain)", line: line)
        }
        func check(_ e: JinjaExpr) throws { try validate(e, line: line, depth: depth + 1) }
        func checkArgs(_ a: [JinjaArg]) throws { try validate(a, line: line, depth: depth + 1) }
        switch expr {
        case .literal, .name: return
        case .list(let items), .tuple(let items): for i in items { try check(i) }
        case .concat(let items, _): for i in items { try check(i) }
        case .dict(let pairs, _): for (k, v) in pairs { try check(k); try check(v) }
        case .attribute(let b, _, _): try check(b)
        case .item(let b, let k, _): try check(b); try check(k)
        case .slice(let b, let start, let stop, let step, _):
            try check(b)
            for part in [start, stop, step] { if let part { try check(part) } }
        case .call(let callee, let args, _): try check(callee); try checkArgs(args)
        case .filter(let b, let name, let args, let line):
            try checkFilter(name, line)
            try check(b)
            try checkArgs(args)
        case .test(let b, let name, let args, _, let line):
            guard jinjaSupportedTests.contains(name) else { throw ChatTemplateError(.syntax, "no test named '\(name)'", line: line) }
            try check(b)
            try checkArgs(args)
        case .unary(_, let e, _), .not(let e): try check(e)
        case .binary(_, let l, let r, _), .and(let l, let r), .or(let l, let r): try check(l); try check(r)
        case .compare(let first, let ops, _):
            try check(first)
            for (_, e) in ops { try check(e) }
        case .conditional(let then, let test, let otherwise):
            try check(then)
            try check(test)
            if let otherwise { try check(otherwise) }
        }
    }
}
