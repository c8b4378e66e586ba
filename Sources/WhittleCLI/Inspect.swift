import ArgumentParser
import ModelFormats

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model folder, a PEFT adapter folder, a GGUF file or a safetensors file.",
        discussion: """
        A Hugging Face folder: architecture, parameter count and dtypes. A folder with adapter_config.json: its keys. \
        A GGUF file: every metadata key and value (long arrays and strings summarised) and every tensor with its type \
        and shape. A .safetensors file: its tensors.
        """
    )

    @Argument(help: "The folder or file.") var path: String

    func run() throws {
        print(try ModelInspection.describe(path: path))
    }
}
