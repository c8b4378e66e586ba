import ArgumentParser
import Evaluation
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a model on {\"text\": …} records: token-weighted next-token loss and perplexity.",
        discussion: "Each record is tokenized alone with the tokenizer's special-token policy and scored as one sequence."
    )

    @Option(help: "Hugging Face model folder.") var model: String
    @Option(help: "JSONL (or JSON array) of {\"text\": …} records.") var data: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let m = try LoadedModel(folder: model)
        let records = try RecordTexts.read(data)
        let result = try Scoring.score(m, texts: records)
        if json {
            struct Out: Encodable { var model: String; var data: String; var meanLoss: Double; var perplexity: Double; var tokens: Int; var texts: Int }
            print(try JSONOutput.encode(Out(model: model, data: data, meanLoss: result.meanLoss, perplexity: result.perplexity,
                                            tokens: result.tokens, texts: result.texts)))
        } else {
            print(String(format: "%@: loss %.6f · perplexity %.4f · %d tokens in %d texts", data, result.meanLoss, result.perplexity,
                         result.tokens, result.texts))
        }
    }
}

