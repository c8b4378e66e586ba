import Foundation
import Testing
import Tokenization

/// Paths of the committed fixtures and the shared read-only assets, found relative to this file so tests run from
/// any working directory.
enum Paths {
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let repoRoot = testsFolder.deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repoRoot.appendingPathComponent("Tests/Reference/fixtures/chat-templates")
    static let sharedAssets = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/assets")
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

/// Reads a text file or fails with a message naming the path.
func readText(_ url: URL) throws -> String {
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw FixtureError(description: "missing file: \(url.path)")
    }
    return try String(contentsOf: url, encoding: .utf8)
}

/// Loads a fixture with Whittle's own order-preserving JSON reader (dict order matters for `tojson`).
func loadFixture(_ name: String) throws -> JinjaDict {
    let url = Paths.fixtures.appendingPathComponent("\(name).json")
    guard case .dict(let d) = try JinjaValue.parseJSON(try readText(url)) else {
        throw FixtureError(description: "\(url.path) is not a JSON object")
    }
    return d
}

extension JinjaValue {
    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    var listValue: [JinjaValue]? { if case .list(let a) = self { return a } else { return nil } }
    var dictValue: JinjaDict? { if case .dict(let d) = self { return d } else { return nil } }
    var boolValue: Bool { if case .bool(let b) = self { return b } else { return false } }
    var intValue: Int? { if case .int(let i) = self { return i } else { return nil } }
}

/// Describes where two strings first differ (in Unicode scalars, Python's indexing), with escaped context.
func firstDifference(expected: String, actual: String) -> String? {
    let e = Array(expected.unicodeScalars)
    let a = Array(actual.unicodeScalars)
    var i = 0
    while i < e.count && i < a.count && e[i] == a[i] { i += 1 }
    if i == e.count && i == a.count { return nil }
    func snippet(_ s: [Unicode.Scalar]) -> String {
        let lo = max(0, i - 30)
        let hi = min(s.count, i + 30)
        let text = String(String.UnicodeScalarView(s[lo..<hi]))
        return JinjaValue.string(text).pythonRepr
    }
    return "first difference at scalar \(i) (expected length \(e.count), actual \(a.count))\n"
        + "  expected …\(snippet(e))…\n  actual   …\(snippet(a))…"
}

/// One rendering case from a fixture.
struct FixtureCase {
    let name: String
    let messages: [JinjaValue]
    let tools: [JinjaValue]?
    let addGenerationPrompt: Bool
    let kwargs: [String: JinjaValue]
    let expected: String?
    let spans: [Range<Int>]
    let error: JinjaDict?
    let template: String?
    /// The pinned clock for `strftime_now` (seconds since 1970), when the case sets one.
    let now: Double?

    init(_ d: JinjaDict) throws {
        guard let name = d["name"]?.stringValue, let messages = d["messages"]?.listValue else {
            throw FixtureError(description: "fixture case without name/messages")
        }
        self.name = name
        self.messages = messages
        tools = d["tools"]?.listValue
        addGenerationPrompt = d["add_generation_prompt"]?.boolValue ?? false
        var kwargs: [String: JinjaValue] = [:]
        for (k, v) in d["kwargs"]?.dictValue?.pairs ?? [] { kwargs[k] = v }
        self.kwargs = kwargs
        expected = d["expected"]?.stringValue
        spans = (d["generation_spans"]?.listValue ?? []).compactMap { pair in
            guard let p = pair.listValue, p.count == 2, let s = p[0].intValue, let e = p[1].intValue else { return nil }
            return s..<e
        }
        error = d["error"]?.dictValue
        template = d["template"]?.stringValue
        switch d["now"] {
        case .double(let t)?: now = t
        case .int(let t)?: now = Double(t)
        default: now = nil
        }
    }
}

/// Renders one case and records an issue for every way it can disagree with transformers.
func check(_ template: ChatTemplate, _ c: FixtureCase, family: String) {
    let label = "\(family)/\(c.name)"
    do {
        let pinned = c.now
        let clock: @Sendable () -> Date = { pinned.map { Date(timeIntervalSince1970: $0) } ?? Date() }
        let rendered = try template.render(messages: c.messages, tools: c.tools, addGenerationPrompt: c.addGenerationPrompt,
                                           extra: c.kwargs, now: clock)
        guard let expected = c.expected else {
            Issue.record("\(label): rendered but transformers raised \(c.error.map { JinjaValue.dict($0).pythonRepr } ?? "?")")
            return
        }
        if let diff = firstDifference(expected: expected, actual: rendered.text) {
            Issue.record("\(label): output differs from transformers\n\(diff)")
        }
        if rendered.generationSpans != c.spans {
            Issue.record("\(label): generation spans \(rendered.generationSpans) != transformers' \(c.spans)")
        }
    } catch let error as ChatTemplateError {
        guard let expectedError = c.error else {
            Issue.record("\(label): threw \(error) but transformers rendered it")
            return
        }
        let raised = expectedError["raised"]?.boolValue ?? false
        let message = expectedError["message"]?.stringValue ?? ""
        if raised {
            #expect(error.kind == .raised, "\(label): expected raise_exception, got \(error)")
            #expect(error.message == message, "\(label): raise_exception message \(JinjaValue.string(error.message).pythonRepr) != \(JinjaValue.string(message).pythonRepr)")
        }
        let type = expectedError["type"]?.stringValue ?? ""
        if type == "TemplateSyntaxError" || type == "TemplateAssertionError" {
            #expect(error.kind == .syntax, "\(label): jinja2 rejects this at compile time (\(message)); got \(error)")
            if let line = expectedError["lineno"]?.intValue {
                #expect(error.line == line, "\(label): error line \(error.line.map(String.init) ?? "nil") != jinja2's \(line): \(error)")
            }
        }
    } catch {
        Issue.record("\(label): unexpected error type \(error)")
    }
}
