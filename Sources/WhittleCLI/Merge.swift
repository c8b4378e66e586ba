import ArgumentParser
import ModelFormats

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge a PEFT LoRA adapter into its base model and write a Hugging Face model folder.",
        discussion: """
        Computes W + scale·B·A in float32 for every adapted layer (scale = alpha/r, or alpha/√r with rsLoRA). A LoRA \
        on a tied lm_head unties it: lm_head becomes embeddings + delta and the embeddings stay unchanged. --out is \
        written in one step (a temporary folder renamed into place) and must not exist or be empty; it gets \
        config.json, the weights (sharded past --max-shard-size), the base folder's generation and tokenizer files, \
        and merge_receipt.json with the change of every merged tensor.
        """
    )

    enum DType: String, ExpressibleByArgument, CaseIterable {
        case f32, bf16, f16
        var writer: SafetensorsWriter.DType { self == .f32 ? .F32 : self == .bf16 ? .BF16 : .F16 }
    }

    @Option(help: "The base model: a Hugging Face folder (config.json + safetensors).") var model: String
    @Option(name: .customLong("adapter"), help: "A PEFT adapter folder (adapter_config.json + adapter_model.safetensors), DIR or DIR:WEIGHT; repeat to merge the weighted sum of several.")
    var adapters: [String]
    @Option(help: "The folder to write (must not exist, or be empty).") var out: String
    @Option(help: "Weight type of the written folder: f32, bf16 or f16 (the merge itself is always f32).") var dtype: DType = .f32
    @Option(help: "Largest weight file before sharding, e.g. 2GB, 500MB, 123456 (bytes).") var maxShardSize = "2GB"

    func validate() throws {
        guard Self.bytes(maxShardSize) != nil else {
            throw ValidationError("--max-shard-size '\(maxShardSize)' is not a size such as 2GB, 500MB, 64KB or a byte count")
        }
    }

    func run() throws {
        let receipt = try LoRAMerge.mergeFolder(model: model, adapters: adapters.map { try AdapterChoice(parsing: $0) }, out: out, dtype: dtype.writer,
                                                maxShardSize: Self.bytes(maxShardSize)!)
        print(receipt.summary)
        print("wrote \(out) (receipt: \(out)/\(MergeReceipt.fileName))")
    }

    /// "2GB" → 2_000_000_000 (decimal units, as transformers' max_shard_size), "1GiB" → 2^30; a plain number is bytes.
    static func bytes(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int)] = [("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1_000_000_000),
                                      ("MB", 1_000_000), ("KB", 1000), ("B", 1)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            guard let n = Int(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n > 0 else { return nil }
            return n * factor
        }
        guard let n = Int(t), n > 0 else { return nil }
        return n
    }
}
