import ArgumentParser
import ModelFormats

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint from another format into a Hugging Face model folder.",
        subcommands: [ImportLlama2C.self]
    )
}

struct ImportLlama2C: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llama2c",
        abstract: "Import a llama2.c checkpoint (v0 legacy or v1 'ak42') as an HF folder.",
        discussion: """
        Writes config.json, generation_config.json and model.safetensors (float32) to --out; q/k rows are \
        permuted from llama2.c's interleaved RoPE to Hugging Face's rotate-half layout.

        Tokenizer files are not written yet: they will be converted from tokenizer.bin once Whittle's \
        tokenizer lands.
        """
    )

    @Option(help: "The llama2.c checkpoint (.bin).")
    var model: String

    @Option(help: "The folder to write (created if missing; existing files with the same names are replaced).")
    var out: String

    func run() throws {
        let imported = try Llama2C.read(path: model)
        try HFFolder.write(imported, to: out)
        let c = imported.config
        print("wrote \(out): llama, \(c.numLayers) layers, hidden \(c.hiddenSize), heads \(c.numHeads)/\(c.numKVHeads), vocab \(c.vocabSize)")
    }
}
