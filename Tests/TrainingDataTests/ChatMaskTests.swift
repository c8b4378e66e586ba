import Foundation
import Testing
import TestSupport
import Tokenization
import TrainingData

/// Assistant-only masks against transformers' `return_assistant_tokens_mask=True`, from `{% generation %}` tags and,
/// on the stock templates, from incremental rendering.
@Suite struct ChatMaskTests {
    static let families = ["chatml", "llama31", "qwen25"]

    func renderer(_ family: String, generation: Bool, extra: JSON) throws -> ExampleRenderer {
        let folder = repoRoot.appendingPathComponent("Tests/Reference/fixtures/chat-masks/\(family)")
        let tokenizer = try Tokenizer.load(path: folder.path)
        var chat = try ChatTemplateConfig.load(from: folder.appendingPathComponent(
            generation ? "tokenizer_config.generation.json" : "tokenizer_config.json"))
        var tokens = chat.specialTokens
        if case .string(let date) = extra["date_string"] { tokens["date_string"] = date }
        chat = ChatTemplateConfig(templates: chat.templates, specialTokens: tokens)
        return try ExampleRenderer(tokenizer: tokenizer, chat: chat)
    }

    /// The fixture's conversations as Whittle's chat examples (messages with tool calls, and tools), read with the
    /// order-keeping parser so tool schemas reach the template in their original key order.
    func conversations(_ family: String) throws -> [(turns: [ChatTurn], tools: JSONValue?)] {
        let text = try String(contentsOf: repoRoot.appendingPathComponent("Tests/Reference/fixtures/chat-masks/\(family).json"), encoding: .utf8)
        return (try JSONParser.parse(text)["cases"]?.arrayValue ?? []).map { c in
            let turns = (c["messages"]?.arrayValue ?? []).map {
                ChatTurn(role: $0["role"]?.stringValue ?? "", content: $0["content"]?.stringValue ?? "", toolCalls: $0["tool_calls"])
            }
            if case .array? = c["tools"] { return (turns, c["tools"]) }
            return (turns, nil)
        }
    }

    @Test(arguments: families, [true, false])
    func masksMatchTransformers(_ family: String, generationTags: Bool) throws {
        let f = try loadFixture("chat-masks/\(family).json")
        let r = try renderer(family, generation: generationTags, extra: f["extra"])
        let convs = try conversations(family)
        #expect(convs.count == f["cases"].array.count)
        for (i, c) in f["cases"].array.enumerated() {
            let out = try r.render(LocatedExample(file: "case", line: i + 1, example: .chat(turns: convs[i].turns, tools: convs[i].tools)))
            let ids = c["input_ids"].array.map { Int32($0.int) }
            let mask = c["assistant_masks"].array.map { $0.int == 1 }
            #expect(out.tokens == ids, "\(family) case \(i): ids differ at \(zip(out.tokens, ids).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(out.tokens.count, ids.count))")
            #expect(out.trained.count == mask.count)
            if let k = zip(out.trained, mask).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                let piece = r.tokenizer.token(forID: Int(ids[k])) ?? "?"
                let how = generationTags ? "tags" : "incremental"
                Issue.record(Comment(rawValue: "\(family) \(how) case \(i): mask differs at token \(k) (\(piece)): ours \(out.trained[k]), transformers \(mask[k])"))
            }
        }
    }

    @Test func everythingAndFailClosedCases() throws {
        let f = try loadFixture("chat-masks/chatml.json")
        let r = try renderer("chatml", generation: false, extra: f["extra"])
        let noAssistant = LocatedExample(file: "c.jsonl", line: 3, example: .chat(turns: [ChatTurn(role: "user", content: "hi")], tools: nil))
        #expect { try r.render(noAssistant) } throws: { ($0 as? DataError)?.description.contains("c.jsonl:3") ?? false }
        // A template that ends assistant turns with plain text trains no end-of-turn token: an error, not a silent mask.
        func plain(_ source: String) throws -> ExampleRenderer {
            try ExampleRenderer(tokenizer: r.tokenizer, chat: ChatTemplateConfig(templates: [("default", source)], specialTokens: [:]))
        }
        let conv = LocatedExample(file: "c.jsonl", line: 5, example: .chat(turns: [ChatTurn(role: "user", content: "hi"),
                                                                                  ChatTurn(role: "assistant", content: "hello")], tools: nil))
        let noStop = try plain("{% for m in messages %}{{ m.role }}:\n{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:\n{% endif %}")
        #expect { try noStop.render(conv) } throws: { ($0 as? DataError)?.message.contains("never learn to stop") ?? false }
        // A generation prompt ending in a space merges with the answer's first word when tokenized whole:
        // the prefix check refuses it instead of mis-masking.
        let merging = try plain("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}")
        #expect { try merging.render(conv) } throws: { ($0 as? DataError)?.message.contains("does not tokenize as a prefix") ?? false }
        // Tool calls on a template that ignores them (ChatML here) would train an empty answer: refused.
        let call = JSONValue.array([.object([("type", .string("function")),
                                             ("function", .object([("name", .string("get_weather")), ("arguments", .object([]))]))])])
        let toolTurn = LocatedExample(file: "t.json", line: 2, example: .chat(turns: [ChatTurn(role: "user", content: "Weather?"),
                                                                                    ChatTurn(role: "assistant", content: "", toolCalls: call)], tools: nil))
        #expect { try r.render(toolTurn) } throws: { ($0 as? DataError)?.message.contains("does not render tool calls") ?? false }
        // Prompt/completion through the chat template: the completion is the assistant turn.
        let viaChat = try ExampleRenderer(tokenizer: r.tokenizer, chat: r.chat, options: RenderOptions(promptFormat: .chatTemplate))
        let pc = try viaChat.render(LocatedExample(file: "p.jsonl", line: 1, example: .promptCompletion(prompt: "2+2?", completion: "4")))
        let direct = try r.render(LocatedExample(file: "p.jsonl", line: 1, example: .chat(turns: [ChatTurn(role: "user", content: "2+2?"),
                                                                                                  ChatTurn(role: "assistant", content: "4")], tools: nil)))
        #expect(pc == direct)
    }
}
