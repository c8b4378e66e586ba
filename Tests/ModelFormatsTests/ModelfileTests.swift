import Foundation
import ModelFormats
import TestSupport
import Testing
import Tokenization

/// The Ollama Modelfile's TEMPLATE, rendered with a Go-template evaluator, gives the text transformers renders from
/// the model's Jinja template (Tests/Reference/fixtures/chat-templates) for the conversations Ollama sends: a
/// system message or none, user/assistant turns, ending with a user turn and the generation prompt.
@Suite struct ModelfileTests {
    struct Family: Sendable, CustomStringConvertible {
        let fixture: String
        let expected: OllamaModelfile.Family
        let stops: [String]
        var description: String { fixture }
    }

    static let recognised = [
        Family(fixture: "smollm2", expected: .chatml, stops: ["<|im_end|>"]),
        Family(fixture: "qwen25", expected: .chatml, stops: ["<|im_end|>"]),
        Family(fixture: "llama3", expected: .llama3, stops: ["<|eot_id|>"]),
        Family(fixture: "llama31", expected: .llama3, stops: ["<|eot_id|>"]),
        Family(fixture: "llama32", expected: .llama3, stops: ["<|eot_id|>"]),
        Family(fixture: "zephyr", expected: .zephyr, stops: ["</s>"]),
    ]

    static func template(_ doc: JSON) throws -> String {
        if case .string(let t) = doc["template"] { return t }
        return try String(contentsOfFile: try sharedAsset(doc["template_asset"].string.replacingOccurrences(of: "../shared/assets/", with: "")), encoding: .utf8)
    }

    static func specialTokens(_ kwargs: JSON) -> [String: String] {
        var out: [String: String] = [:]
        for key in ["bos_token", "eos_token"] where !kwargs[key].string.isEmpty { out[key] = kwargs[key].string }
        return out
    }

    /// The TEMPLATE """...""" text of a Modelfile.
    static func templateText(_ modelfile: String) -> String? {
        guard let start = modelfile.range(of: "TEMPLATE \"\"\""), let end = modelfile.range(of: "\"\"\"", range: start.upperBound..<modelfile.endIndex) else { return nil }
        return String(modelfile[start.upperBound..<end.lowerBound])
    }

    @Test(arguments: recognised)
    func goTemplateRendersLikeTheJinjaTemplate(_ family: Family) throws {
        let doc = try loadFixture("chat-templates/\(family.fixture).json")
        let cases = doc["cases"].array
        let kwargs = cases[0]["kwargs"]
        var variables: [String: JinjaValue] = [:]
        if !kwargs["date_string"].string.isEmpty { variables["date_string"] = .string(kwargs["date_string"].string) }
        let special = Self.specialTokens(kwargs)
        // addsBOS: the GGUF runtime adds the BOS the template prints (Llama-3 files add <|begin_of_text|>).
        let modelfile = try OllamaModelfile.make(ggufFileName: "m.gguf", chatTemplate: try Self.template(doc), specialTokens: special,
                                                 addsBOS: true, variables: variables.isEmpty ? ["date_string": .string(OllamaModelfile.probeDate)] : variables)
        #expect(modelfile.family == family.expected, "\(family): recognised as \(modelfile.family)")
        #expect(modelfile.stops == family.stops + (special["eos_token"].map { family.stops.contains($0) ? [] : [$0] } ?? []))
        #expect(modelfile.text.contains("FROM ./m.gguf\n") && modelfile.warnings.isEmpty)
        let go = try GoTemplate(try #require(Self.templateText(modelfile.text)))
        var compared = 0
        for c in cases {
            let messages = c["messages"].array
            let roles = messages.map { $0["role"].string }
            guard case .bool(true) = c["add_generation_prompt"], case .null = c["tools"], roles.last == "user", !c["expected"].string.isEmpty,
                  roles.allSatisfy({ ["system", "user", "assistant"].contains($0) }), roles.dropFirst().allSatisfy({ $0 != "system" }) else { continue }
            // The Modelfile holds one date (the one it was made with); the template trims contents, Ollama does not.
            if c["kwargs"]["date_string"].string != kwargs["date_string"].string { continue }
            if family.expected == .llama3, messages.contains(where: { $0["content"].string != $0["content"].string.trimmingCharacters(in: .whitespacesAndNewlines) }) { continue }
            let system = roles.first == "system" ? messages[0]["content"].string : ""
            let data: [String: GoValue] = [
                "System": .string(system),
                "Messages": .list(messages.map { .map(["Role": .string($0["role"].string), "Content": .string($0["content"].string)]) }),
            ]
            var expected = c["expected"].string
            if modelfile.bosLeftToRuntime, let bos = special["bos_token"] {
                #expect(expected.hasPrefix(bos))
                expected = String(expected.dropFirst(bos.count))
            }
            #expect(try go.render(data) == expected, "\(family) \(c["name"].string)")
            compared += 1
        }
        #expect(compared >= 3, "\(family): only \(compared) conversations compared")
    }

    /// Templates of other families get no TEMPLATE, a note in the file and a warning; no template gives plain text.
    @Test(arguments: ["gemma2", "phi35", "mistral-v01"])
    func unrecognisedTemplatesAreFlagged(_ fixture: String) throws {
        let doc = try loadFixture("chat-templates/\(fixture).json")
        let special = Self.specialTokens(doc["cases"].array[0]["kwargs"])
        let modelfile = try OllamaModelfile.make(ggufFileName: "m.gguf", chatTemplate: try Self.template(doc), specialTokens: special, addsBOS: true)
        #expect(modelfile.family == .unrecognised)
        let lines = modelfile.text.split(separator: "\n")
        #expect(!lines.contains { $0.hasPrefix("TEMPLATE") } && lines.contains { $0.hasPrefix("# NOTE:") } && !modelfile.warnings.isEmpty, "\(modelfile.text)")
    }

    @Test func modelfilesOfTheGGUFFixtures() throws {
        let llama = try OllamaModelfile.make(ggufFileName: "llama.gguf", tokenizerFolder: try GGUFFixture.folder("llama"), addsBOS: true)
        #expect(llama.family == .chatml && llama.text.contains("named SmolLM, trained by Hugging Face<|im_end|>"))
        let qwen = try OllamaModelfile.make(ggufFileName: "qwen2.gguf", tokenizerFolder: try GGUFFixture.folder("qwen2"), addsBOS: false)
        #expect(qwen.family == .chatml && qwen.text.contains("You are Qwen, created by Alibaba Cloud."))
        let gpt2 = try OllamaModelfile.make(ggufFileName: "gpt2.gguf", tokenizerFolder: try GGUFFixture.folder("gpt2"), addsBOS: false)
        #expect(gpt2.family == .plain && gpt2.text.contains("TEMPLATE \"\"\"{{ .Prompt }}\"\"\"") && gpt2.stops == ["<|endoftext|>"])
        // The file written beside the GGUF is the same text.
        let scratch = try Scratch()
        try gpt2.write(to: scratch.file("gpt2.Modelfile"))
        #expect(try String(contentsOfFile: scratch.file("gpt2.Modelfile"), encoding: .utf8) == gpt2.text)
    }

    /// The evaluator itself follows Go on the constructs the templates use (trim markers, else-if chains, range
    /// variables, slice/len), so a passing comparison means something.
    @Test func goEvaluatorBasics() throws {
        let t = try GoTemplate("{{- if .A }}a{{ else if eq .B \"x\" }}b{{ else }}c{{ end -}}  |{{ range $i, $m := .L }}{{ $last := eq (len (slice $.L $i)) 1 }}{{ $i }}{{ .N }}{{ if not $last }},{{ end }}{{ end }}")
        #expect(try t.render(["A": .bool(false), "B": .string("x"), "L": .list([.map(["N": .string("p")]), .map(["N": .string("q")])])]) == "b|0p,1q")
        #expect(try t.render(["A": .string("yes"), "B": .null, "L": .list([])]) == "a|")
        #expect(throws: GoTemplateError.self) { _ = try GoTemplate("{{ if .A }}x").render([:]) }
    }
}
