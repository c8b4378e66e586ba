import Foundation
import Testing
import Tokenization

/// Real models' templates against transformers' renderings (Tests/Reference/gen_chat_templates.py).
@Suite("Chat templates match transformers")
struct RealTemplateTests {
    @Test("real template", arguments: ["smollm2", "zephyr", "llama3", "llama31", "llama32", "gemma2", "mistral-v01",
                                        "mistral-v03", "qwen25", "phi35", "llama31-generation", "smollm2-generation", "llama32-strftime"])
    func family(_ family: String) throws {
        let fixture = try loadFixture(family)
        let source: String
        if let asset = fixture["template_asset"]?.stringValue {
            source = try readText(Paths.sharedAssets.appendingPathComponent(asset))
        } else {
            source = try #require(fixture["template"]?.stringValue, "\(family): fixture has no template")
        }
        let template = try ChatTemplate(source: source)
        let cases = try (fixture["cases"]?.listValue ?? []).map { try FixtureCase(#require($0.dictValue)) }
        #expect(!cases.isEmpty, "\(family): no cases")
        for c in cases { check(template, c, family: family) }
    }
}

/// One small template per construct (whitespace control, loops, filters, tojson, generation spans, errors).
@Suite("Template features match jinja2")
struct FeatureTests {
    static let cases: [FixtureCase] = {
        guard let fixture = try? loadFixture("features"), let list = fixture["cases"]?.listValue else { return [] }
        return list.compactMap { $0.dictValue.flatMap { try? FixtureCase($0) } }
    }()

    @Test("features fixture is present and complete")
    func fixturePresent() throws {
        _ = try loadFixture("features")
        #expect(Self.cases.count >= 60, "features.json has \(Self.cases.count) cases")
    }

    @Test("feature", arguments: FeatureTests.cases.map(\.name))
    func feature(_ name: String) throws {
        let c = try #require(Self.cases.first { $0.name == name })
        let source = try #require(c.template)
        let template: ChatTemplate
        do {
            template = try ChatTemplate(source: source)
        } catch let error as ChatTemplateError {
            // A parse-time failure is right only when jinja2 also failed.
            guard let expectedError = c.error else {
                Issue.record("\(name): parse failed but transformers rendered it: \(error)")
                return
            }
            if let line = expectedError["lineno"]?.intValue {
                #expect(error.line == line, "\(name): error line \(error.line.map(String.init) ?? "nil") != jinja2's \(line): \(error)")
            }
            return
        }
        check(template, c, family: "features")
    }
}

/// `strftime_now` against Python's strftime at a pinned time (transformers' clock patched in the generator).
@Suite("strftime_now")
struct StrftimeTests {
    @Test("formats match Python at a fixed time")
    func formats() throws {
        let fixture = try loadFixture("strftime")
        let cases = try (fixture["cases"]?.listValue ?? []).map { try FixtureCase(#require($0.dictValue)) }
        #expect(cases.count >= 4)
        for c in cases {
            #expect(c.now != nil, "\(c.name): no pinned time")
            check(try ChatTemplate(source: try #require(c.template)), c, family: "strftime")
        }
    }
}

/// The UTF-8 view of generation spans must cover the same text as the scalar spans transformers reports.
@Suite("Generation spans")
struct GenerationSpanTests {
    @Test("UTF-8 byte spans select the same text as scalar spans", arguments: ["llama31-generation", "smollm2-generation"])
    func utf8Spans(_ family: String) throws {
        let fixture = try loadFixture(family)
        let template = try ChatTemplate(source: try #require(fixture["template"]?.stringValue))
        var checked = 0
        for value in fixture["cases"]?.listValue ?? [] {
            let c = try FixtureCase(try #require(value.dictValue))
            guard c.error == nil else { continue }
            let rendered = try template.render(messages: c.messages, tools: c.tools, addGenerationPrompt: c.addGenerationPrompt, extra: c.kwargs)
            let bytes = Array(rendered.text.utf8)
            let viaBytes = rendered.generationUTF8Spans.map { String(decoding: bytes[$0], as: UTF8.self) }
            #expect(viaBytes == rendered.generationTexts, "\(family)/\(c.name)")
            checked += rendered.generationSpans.count
        }
        #expect(checked > 0, "\(family): no generation spans to check")
    }
}

/// Error messages must name the construct and the line, so users can fix or report a template.
@Suite("Errors name the construct and line")
struct ErrorMessageTests {
    /// (fixture case, words the description must contain). The cases themselves come from the features fixture,
    /// where jinja2 confirmed each is an error.
    static let expectations: [(String, [String])] = [
        ("err_unclosed_if", ["'{% if %}'", "line 2", "endif", "(template line 3)"]),
        ("err_unclosed_for", ["'{% for %}'", "endfor"]),
        ("err_unknown_filter", ["no_such_filter", "(template line 3)"]),
        ("err_unknown_test", ["no_such_test"]),
        ("err_bad_expression", ["'}}'", "(template line 2)"]),
        ("err_unexpected_end", ["endfor"]),
        ("err_unclosed_variable", ["'}}'"]),
        ("err_unclosed_comment", ["'#}'"]),
        ("err_unknown_tag", ["frobnicate"]),
        ("err_not_callable", ["not callable"]),
        ("err_type_add", ["concatenate"]),
        ("err_undefined_call", ["'nope' is undefined"]),
        ("access_undefined_attr_error", ["'nothing' is undefined"]),
        ("list_method_unsafe", ["append", "unsafe"]),
    ]

    @Test("error text", arguments: ErrorMessageTests.expectations.map(\.0))
    func errorText(_ name: String) throws {
        let c = try #require(FeatureTests.cases.first { $0.name == name }, "features.json lacks \(name)")
        #expect(c.error != nil, "\(name): jinja2 did not fail, so the case proves nothing")
        let words = try #require(Self.expectations.first { $0.0 == name }?.1)
        var description = ""
        do {
            let template = try ChatTemplate(source: try #require(c.template))
            _ = try template.render(messages: c.messages, tools: c.tools, addGenerationPrompt: c.addGenerationPrompt, extra: c.kwargs)
            Issue.record("\(name): rendered without error")
        } catch {
            description = String(describing: error)
        }
        for word in words {
            #expect(description.contains(word), "\(name): error \(JinjaValue.string(description).pythonRepr) does not mention \(word)")
        }
    }

    /// jinja2 would print `<generator object ... at 0x7f...>`; Whittle refuses rather than print something else.
    @Test("printing a generator is refused, naming the filter")
    func generatorPrint() throws {
        let template = try ChatTemplate(source: "ok\n{{ messages|map(attribute='role') }}")
        do {
            _ = try template.render(messages: [.object(["role": .string("user")])])
            Issue.record("rendered a generator")
        } catch let error as ChatTemplateError {
            #expect(error.line == 2 && error.message.contains("map") && error.message.contains("|list"), "\(error)")
        }
    }

    /// Hostile nesting must be an error, not a stack overflow that kills the process.
    @Test("deep nesting and runaway recursion are errors")
    func limits() throws {
        let deepExpression = "{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}"
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(source: deepExpression) }
        let deepBlocks = String(repeating: "{% if true %}", count: 5000) + String(repeating: "{% endif %}", count: 5000)
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(source: deepBlocks) }
        let longChain = "{{ 1" + String(repeating: " + 1", count: 5000) + " }}"
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(source: longChain) }
        let filterChain = "{{ 'x'" + String(repeating: "|trim", count: 5000) + " }}"
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(source: filterChain) }
        let nots = "{{ " + String(repeating: "not ", count: 5000) + "x }}"
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(source: nots) }
        let recursive = try ChatTemplate(source: "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
        #expect(throws: ChatTemplateError.self) { try recursive.render(context: [:]) }
        let deepJSON = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(throws: JinjaJSONError.self) { try JinjaValue.parseJSON(deepJSON) }
    }

    @Test("raise_exception carries the template's message and kind")
    func raised() throws {
        let template = try ChatTemplate(source: "a\n{{ raise_exception('bad ' ~ 1) }}")
        #expect(throws: ChatTemplateError(.raised, "bad 1", line: 2)) { try template.render(context: [:]) }
    }
}

/// JSON input and tokenizer_config.json loading.
@Suite("Inputs")
struct InputTests {
    @Test("JSON integers beyond 64 bits become floats (tokenizer_config.json's model_max_length is int(1e30))")
    func bigIntegers() {
        #expect((try? JinjaValue.parseJSON("[1000000000000000019884624838656]")) == .list([.double(1e30)]))
        #expect((try? JinjaValue.parseJSON("[9223372036854775807, -0, 1E2]")) == .list([.int(Int.max), .int(0), .double(100)]))
    }

    @Test("malformed JSON names line and column")
    func badJSON() {
        #expect(throws: JinjaJSONError.self) { try JinjaValue.parseJSON("{\n  \"a\": [1,]\n}") }
        do {
            _ = try JinjaValue.parseJSON("{\n  \"a\": [1,]\n}")
        } catch let e as JinjaJSONError {
            #expect(e.line == 2, "\(e)")
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test("tokenizer_config: string template, AddedToken special tokens")
    func configString() throws {
        let config = try JinjaValue.parseJSON(#"""
        {"bos_token": {"content": "<s>", "lstrip": false, "special": true}, "eos_token": "</s>", "pad_token": null,
         "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"}
        """#)
        let parsed = try ChatTemplateConfig(tokenizerConfig: config)
        #expect(parsed.specialTokens == ["bos_token": "<s>", "eos_token": "</s>"])
        #expect(try parsed.template().source == "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}")
    }

    @Test("tokenizer_config: named templates pick default and tool_use")
    func configNamed() throws {
        let config = try JinjaValue.parseJSON(#"""
        {"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T{{ tools|length }}"}]}
        """#)
        let parsed = try ChatTemplateConfig(tokenizerConfig: config)
        #expect(parsed.templates.map(\.name) == ["default", "tool_use"])
        #expect(try parsed.template().source == "D")
        #expect(try parsed.template(named: "tool_use").source == "T{{ tools|length }}")
        #expect(throws: ChatTemplateError.self) { try parsed.template(named: "rag") }
        #expect(try parsed.template(forTools: true).source == "T{{ tools|length }}")
        let onlyRag = try ChatTemplateConfig(tokenizerConfig: JinjaValue.parseJSON(#"{"chat_template": [{"name": "rag", "template": "R"}]}"#))
        #expect(throws: ChatTemplateError.self) { try onlyRag.template() }
    }

    @Test("tokenizer folder: chat_template.jinja beside tokenizer_config.json wins; missing files are named")
    func configFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try #"{"chat_template": "old", "eos_token": "E"}"#.write(to: folder.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        #expect(try ChatTemplateConfig.load(from: folder).template().source == "old")
        try "new{{ eos_token }}".write(to: folder.appendingPathComponent("chat_template.jinja"), atomically: true, encoding: .utf8)
        let loaded = try ChatTemplateConfig.load(from: folder.appendingPathComponent("tokenizer_config.json"))
        #expect(try loaded.template().source == "new{{ eos_token }}")
        #expect(loaded.specialTokens == ["eos_token": "E"])
        let extra = folder.appendingPathComponent("additional_chat_templates")
        try FileManager.default.createDirectory(at: extra, withIntermediateDirectories: true)
        try "T".write(to: extra.appendingPathComponent("tool_use.jinja"), atomically: true, encoding: .utf8)
        #expect(try ChatTemplateConfig.load(from: folder).template(named: "tool_use").source == "T")
        let missing = folder.appendingPathComponent("nope")
        #expect(throws: ChatTemplateError(.input, "no such file or folder: \(missing.path)")) { try ChatTemplateConfig.load(from: missing) }
    }

    @Test("messages file: array or {messages, tools}")
    func requestParsing() throws {
        let a = try ChatRequest(json: #"[{"role": "user", "content": "x"}]"#)
        #expect(a.messages.count == 1 && a.tools == nil)
        let b = try ChatRequest(json: #"{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}"#)
        #expect(b.tools?.count == 1)
        #expect(throws: ChatTemplateError.self) { try ChatRequest(json: #"["not a message"]"#) }
        #expect(throws: ChatTemplateError.self) { try ChatRequest(json: #"{"msgs": []}"#) }
    }
}

/// A folder without a template is "no template"; a broken config or template is an error, never silently none.
@Suite("Optional templates")
struct OptionalTemplateTests {
    func folder(_ config: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tc-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try config.write(to: dir.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test func presentAbsentAndBroken() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("tc-empty-\(UUID())")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        #expect(try ChatTemplateConfig.loadIfPresent(folder: empty) == nil)
        #expect(try ChatTemplateConfig.loadIfPresent(folder: try folder(#"{"eos_token": "</s>"}"#)) == nil)
        #expect(try ChatTemplateConfig.loadIfPresent(folder: try folder(#"{"chat_template": "{{ messages[0].content }}"}"#)) != nil)
        #expect(throws: ChatTemplateError.self) { try ChatTemplateConfig.loadIfPresent(folder: try folder(#"{"chat_template": "#)) }
        #expect(throws: ChatTemplateError.self) {
            try ChatTemplateConfig.loadIfPresent(folder: try folder(#"{"chat_template": "{% for m in messages %}"}"#))
        }
    }
}
