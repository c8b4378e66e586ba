import Foundation
import ModelFormats
import Models
import Tokenization

/// A model folder ready to run: the model, its tokenizer, its chat template (if any) and the ids that end a
/// generation (config.json, generation_config.json and the tokenizer's EOS, as transformers merges them).
public struct LoadedModel: Sendable {
    public let folder: String
    public let model: any LanguageModel
    public let tokenizer: Tokenizer
    public let chat: ChatTemplateConfig?
    public let eosTokenIDs: [Int]

    public init(folder: String) throws {
        self.folder = folder
        model = try HFFolder.load(folder)
        tokenizer = try Tokenizer.load(path: folder)
        chat = try ChatTemplateConfig.loadIfPresent(folder: URL(fileURLWithPath: folder))
        var eos = model.config.eosTokenIDs
        if let data = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent("generation_config.json")),
           let gen = try? JSONParser.parse(String(decoding: data, as: UTF8.self)) {
            switch gen["eos_token_id"] {
            case .integer(let i)?: eos.append(i)
            case .array(let a)?: eos += a.compactMap { if case .integer(let i) = $0 { i } else { nil } }
            default: break
            }
        }
        if let t = tokenizer.specialTokens.eosID { eos.append(t) }
        var seen = Set<Int>()
        eosTokenIDs = eos.filter { seen.insert($0).inserted }
    }
}
