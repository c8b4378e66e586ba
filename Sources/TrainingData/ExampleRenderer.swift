import Foundation
import Tokenization

/// How prompt/completion and alpaca examples become text when they are not rendered by a chat template.
public enum PromptFormat: String, Sendable, Codable, CaseIterable {
    /// The prompt then the completion, as written (put any separator in the data).
    case plain
    /// Stanford Alpaca's prompt ("Below is an instruction … ### Instruction: … ### Response:"), with and without input.
    case alpaca
    /// The model's chat template: the prompt (or instruction + input) as a user turn, the answer as the assistant's.
    case chatTemplate = "chat_template"
}

/// Which tokens train.
public enum TrainOn: String, Sendable, Codable {
    /// Completions and assistant turns only (the default for every format but text).
    case completions
    /// Every token after the first.
    case everything
}

public struct RenderOptions: Sendable, Equatable {
    public var promptFormat: PromptFormat
    public var trainOn: TrainOn
    /// Append the tokenizer's EOS after text and completions (when the tokenizer did not already), so the model
    /// learns to stop. Chat templates bring their own end-of-turn tokens.
    public var appendEOS: Bool

    public init(promptFormat: PromptFormat = .plain, trainOn: TrainOn = .completions, appendEOS: Bool = true) {
        self.promptFormat = promptFormat
        self.trainOn = trainOn
        self.appendEOS = appendEOS
    }
}

/// Turns examples into token ids and a loss mask.
///
/// Prompt and completion are tokenized separately and concatenated, so the boundary is exactly where
/// generation will start at inference time (tokenizing the joined text can merge across it).
public struct ExampleRenderer: Sendable {
    public let tokenizer: Tokenizer
    public let options: RenderOptions

    /// Fails when EOS should be appended but the tokenizer names no EOS token (the model could never learn to stop).
    public init(tokenizer: Tokenizer, options: RenderOptions = RenderOptions()) throws(DataError) {
        if options.appendEOS && tokenizer.specialTokens.eosID == nil {
            throw DataError(.badValue, file: tokenizer.source,
                            "the tokenizer names no EOS token, so examples cannot end with one; add eos_token to "
                            + "tokenizer_config.json or set append_eos: false")
        }
        self.tokenizer = tokenizer
        self.options = options
    }

    static let alpacaWithInput = "Below is an instruction that describes a task, paired with an input that provides further context. "
        + "Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
    static let alpacaNoInput = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
        + "### Instruction:\n{instruction}\n\n### Response:\n"

    public func render(_ e: LocatedExample) throws(DataError) -> TokenizedExample {
        switch e.example {
        case .text(let text):
            var ids = tokenizer.encode32(text, addSpecialTokens: true)
            appendEOS(&ids, e)
            return TokenizedExample(tokens: ids, trained: [Bool](repeating: true, count: ids.count), file: e.file, line: e.line)
        case .promptCompletion(let prompt, let completion):
            return try promptThenAnswer(prompt: prompt, answer: completion, e)
        case .alpaca(let instruction, let input, let output):
            switch options.promptFormat {
            case .alpaca:
                let template = input.isEmpty ? Self.alpacaNoInput : Self.alpacaWithInput
                let prompt = template.replacingOccurrences(of: "{instruction}", with: instruction)
                    .replacingOccurrences(of: "{input}", with: input)
                return try promptThenAnswer(prompt: prompt, answer: output, e)
            case .plain:
                return try promptThenAnswer(prompt: input.isEmpty ? instruction : instruction + "\n\n" + input, answer: output, e)
            case .chatTemplate:
                throw needsTemplate(e)
            }
        case .chat:
            throw needsTemplate(e)
        }
    }

    private func needsTemplate(_ e: LocatedExample) -> DataError {
        DataError(.badValue, file: e.file, line: e.line,
                  "this example needs the model's chat template (chat rendering), which this renderer was not given")
    }

    private func promptThenAnswer(prompt: String, answer: String, _ e: LocatedExample) throws(DataError) -> TokenizedExample {
        if options.promptFormat == .chatTemplate { throw needsTemplate(e) }
        let p = tokenizer.encode32(prompt, addSpecialTokens: true)
        // The post-processor may end a single sequence with EOS (some templates do); the answer follows the prompt
        // text, so drop a trailing EOS that the post-processor added to the prompt alone.
        var promptIDs = p
        if let eos = tokenizer.specialTokens.eosID, promptIDs.last == Int32(eos), !prompt.hasSuffix(tokenizer.specialTokens.eos ?? "\u{0}") {
            promptIDs.removeLast()
        }
        var answerIDs = tokenizer.encode32(answer, addSpecialTokens: false)
        appendEOS(&answerIDs, e)
        let tokens = promptIDs + answerIDs
        let trainPrompt = options.trainOn == .everything
        let trained = [Bool](repeating: trainPrompt, count: promptIDs.count) + [Bool](repeating: true, count: answerIDs.count)
        return TokenizedExample(tokens: tokens, trained: trained, file: e.file, line: e.line)
    }

    private func appendEOS(_ ids: inout [Int32], _ e: LocatedExample) {
        guard options.appendEOS, let eos = tokenizer.specialTokens.eosID else { return }
        if ids.last != Int32(eos) { ids.append(Int32(eos)) }
    }
}
