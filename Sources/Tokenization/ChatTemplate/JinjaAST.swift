// The parsed form of a template. Nodes carry their source line so render errors can say where they happened.

indirect enum JinjaExpr: Sendable {
    case literal(JinjaValue)
    case name(String, line: Int)
    case list([JinjaExpr])
    case tuple([JinjaExpr])
    case dict([(JinjaExpr, JinjaExpr)], line: Int)
    /// `a.b` (attribute first, then item, as jinja2's `getattr`).
    case attribute(JinjaExpr, String, line: Int)
    /// `a[b]` (item first, then attribute, as jinja2's `getitem`).
    case item(JinjaExpr, JinjaExpr, line: Int)
    case slice(JinjaExpr, start: JinjaExpr?, stop: JinjaExpr?, step: JinjaExpr?, line: Int)
    case call(JinjaExpr, [JinjaArg], line: Int)
    case filter(JinjaExpr, name: String, [JinjaArg], line: Int)
    case test(JinjaExpr, name: String, [JinjaArg], negated: Bool, line: Int)
    case unary(String, JinjaExpr, line: Int)
    case binary(String, JinjaExpr, JinjaExpr, line: Int)
    case and(JinjaExpr, JinjaExpr)
    case or(JinjaExpr, JinjaExpr)
    case not(JinjaExpr)
    /// Python-style chained comparison `a < b < c`.
    case compare(JinjaExpr, [(String, JinjaExpr)], line: Int)
    case conditional(then: JinjaExpr, test: JinjaExpr, otherwise: JinjaExpr?)
    case concat([JinjaExpr], line: Int)
}

enum JinjaArg: Sendable {
    case positional(JinjaExpr)
    case keyword(String, JinjaExpr)
    case star(JinjaExpr)
    case doubleStar(JinjaExpr)
}

/// What `{% set %}` and `{% for %}` assign to.
indirect enum JinjaTarget: Sendable {
    case name(String)
    case tuple([JinjaTarget])
    /// `ns.attr` — only namespaces accept it, as in jinja2.
    case namespaceAttribute(String, String)
}

/// A filter applied by `{% filter %}` or `{% set x | f %}`.
struct JinjaFilterCall: Sendable {
    var name: String
    var args: [JinjaArg]
    var line: Int
}

struct JinjaMacroParameter: Sendable {
    var name: String
    var defaultValue: JinjaExpr?
}

indirect enum JinjaNode: Sendable {
    case text(String)
    case output(JinjaExpr, line: Int)
    case ifChain([(JinjaExpr, [JinjaNode])], otherwise: [JinjaNode], line: Int)
    case forLoop(target: JinjaTarget, iterable: JinjaExpr, condition: JinjaExpr?, body: [JinjaNode],
                 otherwise: [JinjaNode], recursive: Bool, line: Int)
    case set(JinjaTarget, JinjaExpr, line: Int)
    case setBlock(JinjaTarget, filters: [JinjaFilterCall], body: [JinjaNode], line: Int)
    case macro(name: String, parameters: [JinjaMacroParameter], body: [JinjaNode], line: Int)
    case callBlock(call: JinjaExpr, parameters: [JinjaMacroParameter], body: [JinjaNode], line: Int)
    case filterBlock(filters: [JinjaFilterCall], body: [JinjaNode], line: Int)
    case with(assignments: [(JinjaTarget, JinjaExpr)], body: [JinjaNode], line: Int)
    case breakLoop(line: Int)
    case continueLoop(line: Int)
    /// transformers' `{% generation %}` extension: renders its body and records where that text landed.
    case generation(body: [JinjaNode], line: Int)
}
