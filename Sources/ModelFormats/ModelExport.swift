import Foundation
import Models
import Tensors

/// `whittle export`: a model folder, optionally with adapters, written in another layout.
///
/// - `hf`: a Hugging Face folder in f32, bf16 or f16; with adapters, their merge (and a merge receipt), without, a
///   re-encoding of the base (e.g. f32 → f16).
/// - `gguf`: one GGUF file (f32, f16 or q8_0 matrices); with adapters, of the merged weights (merged in fp32 first).
/// - `gguf-lora`: the adapters alone as a GGUF-LoRA file for llama.cpp's `--lora` (several adapters are stacked into
///   one, `PEFTAdapter.stacked`).
public enum ModelExport {
    public enum Format: String, Sendable, CaseIterable {
        case hf, gguf
        case ggufLoRA = "gguf-lora"
    }

    /// What was written, for the terminal.
    public struct Result: Sendable {
        public var path: String
        public var lines: [String]
        public var gguf: GGUFExport.Report?
        public var receipt: MergeReceipt?
    }

    /// The dtypes each format takes.
    public static func dtypes(for format: Format) -> [String] {
        switch format {
        case .hf: ["f32", "bf16", "f16"]
        case .gguf, .ggufLoRA: GGUFExport.DType.allCases.map(\.rawValue)
        }
    }

    public static func run(model: String, adapters: [AdapterChoice], format: Format, dtype: String, out: String,
                           name: String? = nil, maxShardSize: Int = HFWriteOptions.defaultMaxShardSize) throws -> Result {
        guard dtypes(for: format).contains(dtype) else {
            throw ModelFormatError(file: out, "dtype \(dtype) is not available for --format \(format.rawValue) (use \(dtypes(for: format).joined(separator: ", ")))")
        }
        let displayName = name ?? URL(fileURLWithPath: model).standardizedFileURL.lastPathComponent
        switch format {
        case .hf:
            let type: SafetensorsWriter.DType = dtype == "f32" ? .F32 : dtype == "bf16" ? .BF16 : .F16
            if !adapters.isEmpty {
                let receipt = try LoRAMerge.mergeFolder(model: model, adapters: adapters, out: out, dtype: type, maxShardSize: maxShardSize)
                return Result(path: out, lines: [receipt.summary, "wrote \(out) (receipt: \(out)/\(MergeReceipt.fileName))"], gguf: nil, receipt: receipt)
            }
            let config = try HFConfig.read(path: model + "/config.json")
            let parameters = try HFFolder.readParameters(folder: model, config: config)
            try HFFolder.writeNewFolder(parameters: parameters, config: config, to: out,
                                        options: HFWriteOptions(dtype: type, maxShardSize: maxShardSize, baseFolder: model))
            return Result(path: out, lines: ["wrote \(out): \(parameters.count) tensors as \(type.torchName)"], gguf: nil, receipt: nil)
        case .gguf:
            let type = GGUFExport.DType(rawValue: dtype) ?? .f16
            guard !adapters.isEmpty else {
                let report = try GGUFExport.model(folder: model, dtype: type, to: out, name: name)
                return Result(path: out, lines: [], gguf: report, receipt: nil)
            }
            let config = try HFConfig.read(path: model + "/config.json")
            let parameters = try HFFolder.readParameters(folder: model, config: config)
            let merged = try LoRAMerge.mergedWithProbe(parameters: parameters, config: config, adapters: adapters, dtype: .F32, modelPath: model)
            let report = try GGUFExport.model(config: merged.config, parameters: merged.parameters, tokenizerFolder: model,
                                              dtype: type, name: displayName, to: out)
            return Result(path: out, lines: [merged.receipt.summary], gguf: report, receipt: merged.receipt)
        case .ggufLoRA:
            guard !adapters.isEmpty else { throw ModelFormatError(file: out, "--format gguf-lora writes an adapter: name it with --adapter") }
            let config = try HFConfig.read(path: model + "/config.json")
            let stacked = try PEFTAdapter.readStacked(adapters, config: config)
            if let (i, a) = stacked.adapters.enumerated().map({ ($0.offset, $0.element.adapter) }).first(where: { !$0.1.savedModules.isEmpty }) {
                throw ModelFormatError(file: adapters[i].path, "the adapter also trained modules_to_save \(a.modulesToSave) in full; a GGUF-LoRA "
                                       + "carries LoRA deltas only: export the merged model with --format gguf instead")
            }
            let type = GGUFExport.DType(rawValue: dtype) ?? .f32
            let adapterName = name ?? URL(fileURLWithPath: adapters[0].path).standardizedFileURL.lastPathComponent
            let report = try GGUFExport.adapter(config: config, lora: stacked.spec, parameters: stacked.tensors, dtype: type,
                                                name: adapterName, to: out)
            return Result(path: out, lines: [], gguf: report, receipt: nil)
        }
    }
}
