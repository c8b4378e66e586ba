import Foundation
import ModelFormats
import Models
import TestSupport
import Testing

@Suite struct InspectionTests {
    @Test func ggufListsKeysAndTensors() throws {
        let text = try ModelInspection.describe(path: try GGUFFixture.gguf("llama.q8_0"))
        #expect(text.contains("general.architecture STRING = \"llama\""))
        #expect(text.contains("llama.block_count UINT32 = 2"))
        #expect(text.contains("tokenizer.ggml.tokens ARRAY[STRING] = [\"<unk>\", \"<s>\", \"</s>\"") && text.contains("(514 elements)"))
        #expect(text.contains("token_embd.weight  Q8_0  [514, 32] [32, 514]"))
        #expect(text.contains("blk.0.ffn_down.weight  F16  [32, 80] [80, 32]"))
        #expect(!text.contains("<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>"),
                "the chat template should be cut")
    }

    @Test func modelFolderCountsParameters() throws {
        let folder = try GGUFFixture.folder("llama")
        let config = try HFConfig.read(path: folder + "/config.json")
        let count = config.parameterShapes().reduce(0) { $0 + $1.shape.reduce(1, *) }
        let text = try ModelInspection.describe(path: folder)
        #expect(text.contains("architecture: llama") && text.contains("parameters: \(count) ") && text.contains("dtypes: F32 \(count)"), "\(text)")
    }

    @Test func adapterFolderListsConfigKeys() throws {
        let text = try ModelInspection.describe(path: try GGUFFixture.folder("llama-lora"))
        #expect(text.hasPrefix("PEFT adapter folder"))
        for key in ["peft_type", "r", "lora_alpha", "target_modules"] { #expect(text.contains("\n  \(key): "), "\(key) in \(text)") }
    }

    @Test func safetensorsAndErrors() throws {
        let text = try ModelInspection.describe(path: try GGUFFixture.folder("llama-lora") + "/adapter_model.safetensors")
        #expect(text.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight  F32  [4, 32]"), "\(text)")
        let m = describeError { _ = try ModelInspection.describe(path: "/nonexistent/whittle.gguf") }
        #expect(m.contains("/nonexistent/whittle.gguf"))
    }
}
