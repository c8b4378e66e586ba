import Foundation
import Models

extension HFFolder {
    /// A model from `folder`'s config.json with fresh parameters (`ModelInit`, seeded); weight files, if any, are
    /// not read. This is how pretraining from scratch starts: the folder is a "skeleton" of config and tokenizer.
    public static func loadRandomlyInitialized(_ folder: String, seed: UInt64) throws -> any LanguageModel {
        let configPath = (folder as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw ModelFormatError(file: configPath, "model.init: random needs config.json in the model folder (the architecture to initialise)")
        }
        let config = try HFConfig.read(path: configPath)
        do { return try makeLanguageModel(config: config, parameters: ModelInit.parameters(config: config, seed: seed)) } catch {
            throw ModelFormatError(file: configPath, error.message)
        }
    }
}
