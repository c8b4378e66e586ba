import Models
import Tokenization

/// Text in, text out: the prompt (optionally through the chat template) is tokenized, generated from with the
/// model's stop ids, streamed as text, and cut at the first stop string.
public struct TextGeneration {
    public struct Result: Sendable {
        public var promptIDs: [Int]
        public var generatedIDs: [Int]
        public var text: String
        public var stopReason: String
    }

    /// - Parameters:
    ///   - chat: render `prompt` as a user turn (after an optional system turn) with the chat template and the
    ///     generation prompt, as `apply_chat_template(..., add_generation_prompt=True)`.
    ///   - onText: receives each new piece of text as soon as it is complete UTF-8.
    public static func run(_ m: LoadedModel, prompt: String, chat: Bool = false, system: String? = nil,
                           options: GenerationOptions, stopStrings: [String] = [],
                           onText: (String) -> Void = { _ in }) throws -> Result {
        if chat {
            var messages: [(role: String, content: String)] = []
            if let system { messages.append(("system", system)) }
            messages.append(("user", prompt))
            return try reply(m, messages: messages, options: options, stopStrings: stopStrings, onText: onText)
        }
        return try generateText(m, promptIDs: m.tokenizer.encode(prompt, addSpecialTokens: true), options: options,
                                stopStrings: stopStrings, onText: onText)
    }

    /// The assistant's next turn in a conversation, rendered with the chat template and its generation prompt
    /// (as `apply_chat_template(messages, add_generation_prompt=True)`), tokenized without added special tokens.
    public static func reply(_ m: LoadedModel, messages: [(role: String, content: String)], options: GenerationOptions,
                             stopStrings: [String] = [], onText: (String) -> Void = { _ in }) throws -> Result {
        guard let config = m.chat else {
            throw ModelError("\(m.folder) has no chat template (tokenizer_config.json chat_template); use a plain prompt")
        }
        let values = messages.map { JinjaValue.dict(JinjaDict([("role", .string($0.role)), ("content", .string($0.content))])) }
        let text = try config.template().render(messages: values, addGenerationPrompt: true, specialTokens: config.specialTokens).text
        return try generateText(m, promptIDs: m.tokenizer.encode(text, addSpecialTokens: false), options: options,
                                stopStrings: stopStrings, onText: onText)
    }

    static func generateText(_ m: LoadedModel, promptIDs: [Int], options: GenerationOptions, stopStrings: [String],
                             onText: (String) -> Void) throws -> Result {
        var opts = options
        opts.eosTokenIDs = opts.eosTokenIDs.isEmpty ? m.eosTokenIDs : opts.eosTokenIDs
        var ids: [Int] = []
        var emitted = ""
        var stopped = false
        let result = try generate(model: m.model, prompt: promptIDs, options: opts) { id in
            ids.append(id)
            if opts.eosTokenIDs.contains(id) { return false }
            var text = m.tokenizer.decode(ids, skipSpecialTokens: true)
            if let stop = stopStrings.compactMap({ text.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
                text = String(text[..<stop.lowerBound])
                stopped = true
            }
            // Emit only complete characters (a byte-level token can end inside a UTF-8 sequence).
            if !text.hasSuffix("\u{FFFD}") && text.hasPrefix(emitted) && text.count > emitted.count {
                onText(String(text.dropFirst(emitted.count)))
                emitted = text
            }
            return !stopped
        }
        var text = m.tokenizer.decode(result.tokens, skipSpecialTokens: true)
        if let stop = stopStrings.compactMap({ text.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            text = String(text[..<stop.lowerBound])
        }
        if text.hasPrefix(emitted) && text.count > emitted.count { onText(String(text.dropFirst(emitted.count))) }
        let reason: String = switch result.stopReason {
        case .eos(let id): "eos \(id)"
        case .maxNewTokens: "max_tokens"
        case .contextLength: "context_length"
        case .stoppedByCaller: stopped ? "stop_string" : "eos"
        }
        return Result(promptIDs: promptIDs, generatedIDs: result.tokens, text: text, stopReason: reason)
    }
}
