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
        permuted from llama2.c's interleaved RoPE to Hugging Face's rotate-half layout. With --tokenizer, also \
        tokenizer.json and tokenizer_config.json converted from tokenizer.bin as transformers' LlamaConverter \
        makes them, so the folder runs in Whittle and in transformers.
        """
    )

    @Option(help: "The llama2.c checkpoint (.bin).")
    var model: String

    @Option(help: "The llama2.c tokenizer.bin that goes with the checkpoint.")
    var tokenizer: String?

    @Option(help: "The folder to write (created if missing; existing files with the same names are replaced).")
    var out: String

    func run() throws {
        let imported = try Llama2C.importFolder(model: model, tokenizer: tokenizer, out: out)
        let c = imported.config
        print("wrote \(out): llama, \(c.numLayers) layers, hidden \(c.hiddenSize), heads \(c.numHeads)/\(c.numKVHeads), vocab \(c.vocabSize)")
    }
}
