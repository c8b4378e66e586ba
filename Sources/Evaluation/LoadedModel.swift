import Foundation
import ModelFormats
import Models
import Tokenization

/// A model folder ready to run: the model, its tokenizer, its chat template (if any) and the ids that end a
/// generation (config.json, generation_config.json and the tokenizer's EOS, as transformers merges them).
/// A `.gguf` file works too: weights through `GGUFModelReader`, vocabulary, EOS/EOT ids and chat template from its
/// `tokenizer.*` keys (see Tokenization's limits for GGUF vocabularies).
public struct LoadedModel: Sendable {
    public let folder: String
    public let model: any LanguageModel
    public let tokenizer: Tokenizer
    public let chat: ChatTemplateConfig?
    public let eosTokenIDs: [Int]

    /// `randomInitSeed`: build fresh parameters from config.json (`ModelInit`) instead of reading weights.
    public init(folder: String, randomInitSeed: UInt64? = nil) throws {
        self.folder = folder
        var isDirectory: ObjCBool = false
        if folder.lowercased().hasSuffix(".gguf"), FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), !isDirectory.boolValue {
            model = try GGUFModelReader.load(path: folder)
            tokenizer = try Tokenizer(gguf: folder)
            let special = tokenizer.specialTokens
            if let template = special.chatTemplate {
                var names: [String: String] = [:]
                if let b = special.bos { names["bos_token"] = b }
                if let e = special.eos { names["eos_token"] = e }
                chat = ChatTemplateConfig(templates: [("default", template)], specialTokens: names)
                _ = try chat?.template()  // a broken template fails here, naming its line
            } else {
                chat = nil
            }
            var seen = Set<Int>()
            eosTokenIDs = (model.config.eosTokenIDs + (special.eosID.map { [$0] } ?? [])).filter { seen.insert($0).inserted }
            return
        }
        model = try randomInitSeed.map { try HFFolder.loadRandomlyInitialized(folder, seed: $0) } ?? HFFolder.load(folder)
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
