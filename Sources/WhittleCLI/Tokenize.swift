import ArgumentParser
import Benchmarking
import Foundation
import Tokenization

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text.",
        discussion: """
        --tokenizer is a folder holding tokenizer.json, a tokenizer.json file, a llama2.c tokenizer.bin, or a .gguf file.
        Special tokens (BOS/EOS from the post-processor) are added unless --no-special is given.
        """
    )

    @Option(help: "Tokenizer folder or file (tokenizer.json, tokenizer.bin, .gguf).")
    var tokenizer: String

    @Option(help: "The text to tokenize.")
    var text: String?

    @Option(help: "A file whose whole contents are tokenized.")
    var file: String?

    @Flag(help: "Do not add special tokens (BOS/EOS).")
    var noSpecial = false

    @Flag(help: "Print JSON with ids and token strings.")
    var json = false

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give exactly one of --text or --file") }
    }

    func run() throws {
        let input: String
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read --file \(file)") }
            input = String(decoding: data, as: UTF8.self)
        } else {
            input = text ?? ""
        }
        let tok = try Tokenization.Tokenizer.load(path: tokenizer)
        let ids = tok.encode(input, addSpecialTokens: !noSpecial)
        if json {
            struct Output: Encodable { let ids: [Int]; let tokens: [String] }
            print(try JSONOutput.encode(Output(ids: ids, tokens: ids.map { tok.token(forID: $0) ?? "" })))
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}

struct BenchTokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Single-thread encode MB/s and tokens/s, line by line like shared/bench/tokenizers_anchor.py."
    )

    @Option(help: "Tokenizer folder or file (tokenizer.json, tokenizer.bin, .gguf).")
    var tokenizer: String

    @Option(help: "UTF-8 text file, encoded one line per call.")
    var file: String

    @Option(help: "Timed passes (the best is reported).")
    var passes = 5

    @Flag(help: "Print one JSON document instead of a line of text.")
    var json = false

    func run() throws {
        let r = try TokenizeBenchmark.run(tokenizerPath: tokenizer, textFile: file, passes: passes, version: WhittleVersion.string)
        if json {
            print(try JSONOutput.encode(r))
        } else {
            print(String(format: "%@: %d lines, %d bytes, %d tokens in %.4f s: %.2f MB/s, %.0f tokens/s (best of %d)",
                         r.tokenizer, r.lines, r.bytes, r.tokens, r.seconds, r.MB_per_s, r.tokens_per_s, r.passes))
        }
    }
}
