import ArgumentParser
import Foundation
import ModelFormats

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model folder to another format (GGUF for llama.cpp and Ollama).",
        discussion: """
        --format gguf writes one GGUF v3 file with the weights, the vocabulary, the special tokens and the chat \
        template, as llama.cpp's convert_hf_to_gguf.py would (llama and mistral as 'llama' with the q/k row \
        permutation, qwen2, gpt2). --dtype picks the matrix encoding: f32, f16, or q8_0 (rows that are not a \
        multiple of 32 fall back to f16); norms, biases and positions stay f32. An Ollama Modelfile is written \
        beside it (<name>.Modelfile) unless --no-modelfile.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case gguf }

    @Option(help: "Hugging Face model folder (config.json, safetensors, tokenizer files).") var model: String
    @Option(help: "Output format: \(Format.allCases.map(\.rawValue).joined(separator: ", ")).") var format: Format
    @Option(help: "Matrix encoding: f32, f16 or q8_0.") var dtype: String = "f16"
    @Option(help: "The file to write (.gguf).") var out: String
    @Option(help: "general.name in the file (default: the model folder's name).") var name: String?
    @Flag(help: "Do not write the Ollama Modelfile.") var noModelfile = false

    func validate() throws {
        guard GGUFExport.DType(rawValue: dtype) != nil else {
            throw ValidationError("--dtype must be one of \(GGUFExport.DType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(dtype)'")
        }
        guard out.lowercased().hasSuffix(".gguf") else { throw ValidationError("--out must name a .gguf file, got '\(out)'") }
    }

    func run() throws {
        let type = GGUFExport.DType(rawValue: dtype) ?? .f16
        let report = try GGUFExport.model(folder: model, dtype: type, to: out, name: name)
        let counts = Dictionary(grouping: report.tensors, by: \.type).map { "\($0.value.count) \($0.key.rawValue)" }.sorted()
        print("wrote \(report.path): \(report.architecture), \(report.tensors.count) tensors (\(counts.joined(separator: ", "))), "
              + "\(report.metadataKeys.count) metadata keys, \(report.bytes) bytes")
        for w in report.warnings { print("warning: \(w)") }
        if !noModelfile {
            let url = URL(fileURLWithPath: out)
            let modelfilePath = url.deletingPathExtension().path + ".Modelfile"
            let modelfile = try OllamaModelfile.make(ggufFileName: url.lastPathComponent, tokenizerFolder: model, addsBOS: report.addsBOS)
            try modelfile.write(to: modelfilePath)
            print("wrote \(modelfilePath) (chat format: \(modelfile.family.rawValue)); ollama create <name> -f \(modelfilePath)")
            for w in modelfile.warnings { print("warning: \(w)") }
        }
    }
}
