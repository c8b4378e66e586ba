import ArgumentParser
import Evaluation
import Foundation
import Tokenization

/// `whittle tokenizer …`: commands that make tokenizers (`whittle tokenize` applies one).
struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Make tokenizers.",
        subcommands: [TokenizerTrain.self]
    )
}

struct TokenizerTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level BPE tokenizer (GPT-2 style, as HF tokenizers' BpeTrainer) and write a tokenizer folder.",
        discussion: """
        Each --data file is a .jsonl file of {"text": …} records (one training sequence per record) or any other file,
        read whole as one sequence. Writes tokenizer.json and tokenizer_config.json (ChatML chat template,
        add_bos_token false) into --out. Special tokens get ids 0, 1, … in the order given; BOS, EOS, PAD and UNK
        default to the first special token.
        """
    )

    @Option(name: .customLong("data"), parsing: .upToNextOption, help: "Training text files (.jsonl with \"text\" records, or plain text).")
    var data: [String]

    @Option(help: "Vocabulary size, including special tokens and the 256 byte tokens.")
    var vocabSize: Int

    @Option(name: .customLong("special-token"), parsing: .upToNextOption, help: "Special tokens (repeatable), in id order.")
    var specialTokens: [String] = []

    @Option(help: "A pair must occur at least this often to be merged.")
    var minFrequency = 0

    @Option(help: "BOS token name (default: the first special token).")
    var bosToken: String?

    @Option(help: "EOS token name (default: the first special token).")
    var eosToken: String?

    @Option(help: "PAD token name (default: the first special token).")
    var padToken: String?

    @Option(help: "model_max_length written to tokenizer_config.json.")
    var modelMaxLength = 512

    @Option(help: "Output folder.")
    var out: String

    func validate() throws {
        guard !data.isEmpty else { throw ValidationError("give at least one --data file") }
        guard vocabSize >= 256 + specialTokens.count else {
            throw ValidationError("--vocab-size must be at least 256 + the number of special tokens (\(256 + specialTokens.count))")
        }
        guard Set(specialTokens).count == specialTokens.count else { throw ValidationError("--special-token values repeat") }
        for t in [bosToken, eosToken, padToken].compactMap({ $0 }) where !specialTokens.contains(t) {
            throw ValidationError("'\(t)' is not one of the --special-token values")
        }
    }

    func run() throws {
        var counts = BPETrainer.WordCounts()
        var sequences = 0
        for path in data {
            if path.lowercased().hasSuffix(".jsonl") {
                for r in try RecordTexts.read(path) { counts.add(r.text); sequences += 1 }
            } else {
                guard let d = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read --data \(path)") }
                counts.add(String(decoding: d, as: UTF8.self))
                sequences += 1
            }
        }
        let trainer = BPETrainer(vocabularySize: vocabSize, specialTokens: specialTokens, minFrequency: minFrequency)
        let result = trainer.train(wordCounts: counts)
        let first = specialTokens.first
        try result.write(to: out, settings: TokenizerFolderSettings(
            bos: bosToken ?? first, eos: eosToken ?? first, pad: padToken ?? first, unk: first,
            modelMaxLength: modelMaxLength, chatTemplate: TokenizerFolderSettings.chatMLTemplate))
        print("\(sequences) sequences, \(counts.distinctWords) distinct words → \(result.vocabulary.count) tokens, "
              + "\(result.merges.count) merges: \(out)/tokenizer.json")
    }
}
