import ArgumentParser
import Foundation
import ModelFormats

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model (and adapters) as a Hugging Face folder, a GGUF file, or a GGUF-LoRA adapter.",
        discussion: """
        --format hf writes a Hugging Face folder (f32, bf16 or f16): with --adapter the merge of the adapters into the \
        base, with a merge receipt; without, the base re-encoded. \
        --format gguf writes one GGUF v3 file with the weights (merged first when --adapter is given), the vocabulary, \
        the special tokens and the chat template, as llama.cpp's convert_hf_to_gguf.py would (llama and mistral as \
        'llama' with the q/k row permutation, qwen2, gpt2); --dtype f32, f16 or q8_0 (rows that are not a multiple of \
        32 fall back to f16; norms, biases and positions stay f32); an Ollama Modelfile is written beside it \
        (<name>.Modelfile) unless --no-modelfile. \
        --format gguf-lora writes the adapter alone for llama.cpp's --lora (several adapters are summed into one). \
        --adapter takes DIR or DIR:WEIGHT and repeats.
        """
    )

    @Option(help: "Hugging Face model folder (config.json, safetensors, tokenizer files).") var model: String
    @Option(name: .customLong("adapter"), help: "A PEFT adapter folder, DIR or DIR:WEIGHT (repeatable).") var adapters: [String] = []
    @Option(help: "Output format: \(ModelExport.Format.allCases.map(\.rawValue).joined(separator: ", ")).") var format: String
    @Option(help: "Encoding: hf f32|bf16|f16; gguf and gguf-lora f32|f16|q8_0. Default: f16 for hf and gguf, f32 for gguf-lora.")
    var dtype: String?
    @Option(help: "Where to write: a new folder (hf) or a .gguf file.") var out: String
    @Option(help: "general.name in a GGUF file (default: the model or adapter folder's name).") var name: String?
    @Flag(help: "Do not write the Ollama Modelfile (gguf).") var noModelfile = false

    var parsedFormat: ModelExport.Format? { ModelExport.Format(rawValue: format) }
    var resolvedDType: String { dtype ?? (parsedFormat == .ggufLoRA ? "f32" : "f16") }

    func validate() throws {
        guard let f = parsedFormat else {
            throw ValidationError("--format must be one of \(ModelExport.Format.allCases.map(\.rawValue).joined(separator: ", ")), got '\(format)'")
        }
        guard ModelExport.dtypes(for: f).contains(resolvedDType) else {
            throw ValidationError("--dtype for --format \(format) must be one of \(ModelExport.dtypes(for: f).joined(separator: ", ")), got '\(resolvedDType)'")
        }
        if f != .hf && !out.lowercased().hasSuffix(".gguf") { throw ValidationError("--out must name a .gguf file, got '\(out)'") }
        if f == .ggufLoRA && adapters.isEmpty { throw ValidationError("--format gguf-lora needs --adapter") }
    }

    func run() throws {
        let format = parsedFormat ?? .gguf
        let choices = try adapters.map { try AdapterChoice(parsing: $0) }
        let result = try ModelExport.run(model: model, adapters: choices, format: format, dtype: resolvedDType, out: out, name: name)
        for line in result.lines { print(line) }
        if let report = result.gguf {
            let counts = Dictionary(grouping: report.tensors, by: \.type).map { "\($0.value.count) \($0.key.rawValue)" }.sorted()
            print("wrote \(report.path): \(report.architecture), \(report.tensors.count) tensors (\(counts.joined(separator: ", "))), "
                  + "\(report.metadataKeys.count) metadata keys, \(report.bytes) bytes")
            for w in report.warnings { print("warning: \(w)") }
            if format == .gguf && !noModelfile {
                let url = URL(fileURLWithPath: out)
                let modelfilePath = url.deletingPathExtension().path + ".Modelfile"
                let modelfile = try OllamaModelfile.make(ggufFileName: url.lastPathComponent, tokenizerFolder: model, addsBOS: report.addsBOS)
                try modelfile.write(to: modelfilePath)
                print("wrote \(modelfilePath) (chat format: \(modelfile.family.rawValue)); ollama create <name> -f \(modelfilePath)")
                for w in modelfile.warnings { print("warning: \(w)") }
            }
        }
    }
}
