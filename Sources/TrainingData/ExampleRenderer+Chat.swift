import Foundation
import Tokenization

/// Chat rendering with assistant-only loss masks, on any chat template.
///
/// The text is exactly transformers' `apply_chat_template(..., tokenize=False)`, tokenized without adding special
/// tokens (as transformers does: templates write their own BOS). Assistant spans come from `{% generation %}` tags
/// when the template has them; otherwise incrementally, as a stock template allows: for assistant turn i, the
/// conversation before it rendered with the generation prompt marks where the answer starts, and the conversation
/// through it marks where the turn (with its end-of-turn tokens) ends. Both must be prefixes of the whole
/// rendering, as text and as tokens; when a template or tokenizer breaks that, the example is an error — never a
/// silently wrong mask. Every assistant span must train a special token (EOS or an end-of-turn marker), or the
/// model would never learn to stop.
extension ExampleRenderer {
    func renderChat(_ turns: [ChatTurn], tools: JSONValue?, _ e: LocatedExample) throws(DataError) -> TokenizedExample {
        func fail(_ message: String) -> DataError { DataError(.badValue, file: e.file, line: e.line, message) }
        guard let chat else { throw needsTemplateError(e) }
        guard turns.contains(where: { $0.role == "assistant" }) || options.trainOn == .everything else {
            throw fail("the conversation has no assistant turn, so nothing would train")
        }
        let messages = turns.map(Self.message)
        let toolList = tools?.arrayValue.map { $0.map(JinjaValue.init(json:)) }
        let template: ChatTemplate
        do { template = try chat.template(forTools: toolList != nil) } catch {
            throw fail("no usable chat template: \(error)")
        }
        func render(_ upTo: Int, generationPrompt: Bool) throws(DataError) -> RenderedChat {
            do {
                return try template.render(messages: Array(messages[..<upTo]), tools: toolList,
                                           addGenerationPrompt: generationPrompt, specialTokens: chat.specialTokens)
            } catch {
                throw fail("the chat template failed on this conversation: \(error)")
            }
        }
        let full = try render(messages.count, generationPrompt: false)
        let fullScalars = Array(full.text.unicodeScalars)
        let tokens = tokenizer.encode32(full.text, addSpecialTokens: false)

        // Assistant spans as scalar offsets into the full text.
        var spans: [Range<Int>] = full.generationSpans
        let assistantTurns = turns.indices.filter { turns[$0].role == "assistant" }
        if spans.isEmpty && options.trainOn == .completions {
            for i in assistantTurns {
                let before = Array(try render(i, generationPrompt: true).text.unicodeScalars)
                let through = Array(try render(i + 1, generationPrompt: false).text.unicodeScalars)
                guard fullScalars.starts(with: before), fullScalars.starts(with: through), through.count >= before.count else {
                    throw fail("the chat template renders the conversation before assistant turn \(i + 1) differently from the "
                               + "whole conversation, so its answer cannot be located; give the template {% generation %} tags")
                }
                spans.append(before.count..<through.count)
            }
        } else if !spans.isEmpty && spans.count < assistantTurns.count && options.trainOn == .completions {
            throw fail("the template's {% generation %} tags cover \(spans.count) of \(assistantTurns.count) assistant turns")
        }

        // A template that ignores `tool_calls` would train the model to answer a tool turn with nothing.
        if spans.count == assistantTurns.count {
            for (span, i) in zip(spans, assistantTurns) {
                guard let calls = turns[i].toolCalls?.arrayValue else { continue }
                let text = String(String.UnicodeScalarView(fullScalars[span]))
                for call in calls {
                    if let name = call["function"]?["name"]?.stringValue, !text.contains(name) {
                        throw fail("the chat template does not render tool calls (assistant turn \(i + 1) calls \"\(name)\", "
                                   + "which does not appear in its text); use a model whose template renders tool_calls")
                    }
                }
            }
        }

        // Token boundaries: the text before each boundary must tokenize as a prefix of the whole.
        var prefixTokenCount: [Int: Int] = [0: 0, fullScalars.count: tokens.count]
        func tokenIndex(_ offset: Int) throws(DataError) -> Int {
            if let n = prefixTokenCount[offset] { return n }
            let text = String(String.UnicodeScalarView(fullScalars[..<offset]))
            let prefix = tokenizer.encode32(text, addSpecialTokens: false)
            guard tokens.starts(with: prefix) else {
                throw fail("the rendered text up to an assistant answer does not tokenize as a prefix of the whole "
                           + "conversation (the tokenizer merges across the boundary), so the mask would be wrong")
            }
            prefixTokenCount[offset] = prefix.count
            return prefix.count
        }
        var trained = [Bool](repeating: options.trainOn == .everything, count: tokens.count)
        if options.trainOn == .completions {
            let tagged = !full.generationSpans.isEmpty
            for (n, span) in spans.enumerated() {
                let a = try tokenIndex(span.lowerBound), b = try tokenIndex(span.upperBound)
                // The turn must train a special token (end-of-turn or EOS), or the model never learns to stop.
                guard let lastSpecial = (a..<b).last(where: { tokenizer.isSpecial(Int(tokens[$0])) }) else {
                    throw fail("assistant turn \(n + 1) trains no end-of-turn or EOS token, so the model would never learn "
                               + "to stop; the template must end assistant turns with a special token")
                }
                // Incremental spans run to the next turn; what follows the end-of-turn token (ChatML's "\n") is
                // template glue, not the answer — as `{% generation %}` tags on the same templates mark it.
                let end = tagged ? b : lastSpecial + 1
                for k in a..<end { trained[k] = true }
            }
        }
        return TokenizedExample(tokens: tokens, trained: trained, file: e.file, line: e.line)
    }

    func needsTemplateError(_ e: LocatedExample) -> DataError {
        DataError(.badValue, file: e.file, line: e.line,
                  "this example needs the model's chat template, and the model has none (tokenizer_config.json "
                  + "chat_template); use prompt_format plain or alpaca for non-chat data")
    }

    static func message(_ t: ChatTurn) -> JinjaValue {
        var pairs: [(String, JinjaValue)] = [("role", .string(t.role)), ("content", .string(t.content))]
        if let calls = t.toolCalls { pairs.append(("tool_calls", JinjaValue(json: calls))) }
        return .dict(JinjaDict(pairs))
    }
}
