import Foundation
import ModelFormats
import Models
import Tensors
import Tokenization

/// A model ready to run: the model, its tokenizer, its chat template (if any) and the ids that end a generation
/// (config.json, generation_config.json and the tokenizer's EOS, as transformers merges them).
///
/// The model is a Hugging Face folder or a `.gguf` file (weights through `GGUFModelReader`; vocabulary, EOS/EOT ids
/// and chat template from its `tokenizer.*` keys, see Tokenization's limits for GGUF vocabularies), optionally with
/// PEFT adapters run unmerged on top, each with its own weight (`PEFTAdapter.stacked`).
public struct LoadedModel: Sendable {
    /// The base model folder or GGUF file.
    public let folder: String
    public let model: any LanguageModel
    public let tokenizer: Tokenizer
    public let chat: ChatTemplateConfig?
    public let eosTokenIDs: [Int]
    /// The adapters applied (empty: the base model).
    public let adapters: [AdapterChoice]
    /// The base weights held as Float32, shared (copy-on-write) with `model`, so other adapters can be applied without
    /// re-reading. With 16-bit weights the matrices are in `baseHalfParameters` instead.
    public let baseParameters: [String: Tensor]
    /// The base matrices held in 16 bits (empty unless `weights` asked for them); shared with `model`.
    public let baseHalfParameters: [String: HalfMatrix]
    /// How the matrices are held (`WeightFormat`).
    public let weights: WeightFormat

    /// `randomInitSeed`: build fresh parameters from config.json (`ModelInit`, for pretraining) instead of reading weights.
    /// `weights`: which matrices stay 16-bit in memory (inference only; training needs the default `.f32`).
    public init(folder: String, adapters: [AdapterChoice] = [], randomInitSeed: UInt64? = nil,
                weights: WeightFormat = .f32) throws {
        self.folder = folder
        var isDirectory: ObjCBool = false
        let config: ModelConfig
        if folder.lowercased().hasSuffix(".gguf"), FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), !isDirectory.boolValue {
            let (ggufConfig, ggufParameters) = try GGUFModelReader.read(path: folder)
            config = ggufConfig
            let held = weights.apply(to: ggufParameters)
            (baseParameters, baseHalfParameters) = (held.parameters, held.half)
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
            eosTokenIDs = (config.eosTokenIDs + (special.eosID.map { [$0] } ?? [])).filter { seen.insert($0).inserted }
        } else {
            if randomInitSeed != nil && !FileManager.default.fileExists(atPath: folder + "/config.json") {
                throw ModelFormatError(file: folder + "/config.json",
                                       "model.init: random needs config.json in the model folder (the architecture to initialise)")
            }
            config = try HFConfig.read(path: folder + "/config.json")
            if let seed = randomInitSeed {
                do { try config.validate() } catch { throw ModelFormatError(file: folder + "/config.json", error.message) }
                let held = weights.apply(to: ModelInit.parameters(config: config, seed: seed))
                (baseParameters, baseHalfParameters) = (held.parameters, held.half)
            } else {
                let held = try HFFolder.readWeights(folder: folder, config: config, format: weights)
                (baseParameters, baseHalfParameters) = (held.parameters, held.half)
            }
            tokenizer = try Tokenizer.load(path: folder)
            chat = try ChatTemplateConfig.loadIfPresent(folder: URL(fileURLWithPath: folder))
            var eos = config.eosTokenIDs
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
        self.adapters = adapters
        self.weights = weights
        model = try PEFTAdapter.applying(adapters, config: config, weights: ModelWeights(parameters: baseParameters, half: baseHalfParameters),
                                         modelPath: folder)
    }

    private init(_ other: LoadedModel, adapters: [AdapterChoice]) throws {
        folder = other.folder
        tokenizer = other.tokenizer
        chat = other.chat
        eosTokenIDs = other.eosTokenIDs
        baseParameters = other.baseParameters
        baseHalfParameters = other.baseHalfParameters
        weights = other.weights
        self.adapters = adapters
        model = try PEFTAdapter.applying(adapters, config: other.model.config,
                                         weights: ModelWeights(parameters: other.baseParameters, half: other.baseHalfParameters),
                                         modelPath: other.folder)
    }

    /// The same base (weights shared, not re-read) with other adapters on top; `[]` is the base model itself.
    public func with(adapters: [AdapterChoice]) throws -> LoadedModel { try LoadedModel(self, adapters: adapters) }
}
