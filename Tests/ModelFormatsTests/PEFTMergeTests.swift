import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

@Suite struct PEFTMergeTests {
    /// Whittle's merge equals the state dict of peft's merge_and_unload (every tensor, ≤ 1e-6 of its largest value),
    /// and the merged config equals the config of peft's merged folder (untied for a tied lm_head).
    @Test(arguments: peftCases)
    func mergeEqualsPEFT(_ name: String) throws {
        let c = try PEFTCase(name)
        let adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        let result = try LoRAMerge.merged(parameters: c.baseParameters, config: c.config, adapter: adapter)
        let peftConfig = try HFConfig.read(path: c.mergedFolder + "/config.json")
        #expect(result.config == peftConfig, "\(name): merged config")
        #expect(result.config.tieWordEmbeddings == isTrue(c.expected["merged_tie_word_embeddings"]))
        let reference = try HFFolder.readParameters(folder: c.mergedFolder, config: peftConfig)
        #expect(Set(result.parameters.keys) == Set(reference.keys))
        var worst = 0.0
        for (tensorName, ref) in reference {
            guard let ours = result.parameters[tensorName] else { continue }
            worst = max(worst, expectRelativeMax(ours, ref, tolerance: 1e-6, "\(name): \(tensorName)"))
        }
        // Only adapted tensors changed: the rest are the base's own values.
        let changed = Set(result.receipt.entries.map(\.name))
        for (tensorName, base) in c.baseParameters where !changed.contains(tensorName) {
            #expect(result.parameters[tensorName]?.scalars == base.scalars, "\(name): \(tensorName) must not change")
        }
        print("peft merge \(name): max |Δ| / max |ref| over tensors = \(worst)")
    }

    /// The merged folder written by `whittle merge` loads with HFFolder.load and gives peft's merged logits, and the
    /// logits of base + adapter run unmerged by peft (1e-4 of the largest logit).
    @Test(arguments: peftCases)
    func mergedFolderGivesPEFTsLogits(_ name: String) throws {
        let c = try PEFTCase(name)
        let scratch = try Scratch()
        let exportRoot = ProcessInfo.processInfo.environment["WHITTLE_PEFT_EXPORT"]
        let out = (exportRoot ?? scratch.path) + "/\(name)/merged"
        if exportRoot != nil { try? FileManager.default.removeItem(atPath: out) }
        let receipt = try LoRAMerge.mergeFolder(model: c.baseFolder, adapter: c.adapterFolder, out: out)
        let model = try HFFolder.load(out)
        let ids = c.inputIDs
        let logits = try model.forward(tokens: ids.flatMap { $0 }, batch: ids.count)
        let vsMerged = expectRelativeMax(logits, try c.logits("merged_logits"), tolerance: 1e-4, "\(name): logits vs peft's merged model")
        let vsAdapter = expectRelativeMax(logits, try c.logits("adapter_logits"), tolerance: 1e-4, "\(name): logits vs peft base + adapter (unmerged)")
        print("peft merged folder \(name): logits rel. error vs merged \(vsMerged), vs unmerged \(vsAdapter)")
        // The receipt is in the folder and matches the returned one.
        let saved = try jsonObject(out + "/" + MergeReceipt.fileName)
        #expect((saved["tensors"] as? [[String: Any]])?.count == receipt.entries.count)
        // The probe ran (the merged f32 model against base + adapter unmerged) and found them equal to rounding.
        let probe = try #require(saved["probe"] as? [String: Any])
        let meanKL = try #require(probe["mean_kl"] as? Double), maxKL = try #require(probe["max_kl"] as? Double)
        #expect(probe["sequences"] as? Int == 4 && maxKL < 1e-6, "\(name): probe \(probe)")
        #expect(abs(meanKL - (receipt.probe?.meanKL ?? .nan)) <= 1e-12 * max(meanKL, 1e-300) + 1e-300)
        let pm = try #require(probe["perplexity_merged"] as? Double), pu = try #require(probe["perplexity_unmerged"] as? Double)
        #expect(abs(pm - pu) <= 1e-5 * pu, "\(name): perplexity merged \(pm) vs unmerged \(pu)")
        #expect(saved["untied_lm_head"] as? Bool == receipt.untiedLMHead)
    }

    /// The receipt's numbers are the change between peft's merged weights and the base: max |Δ| per tensor, and the
    /// Frobenius norm of the delta.
    @Test(arguments: peftCases)
    func receiptMeasuresTheChange(_ name: String) throws {
        let c = try PEFTCase(name)
        let adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        let result = try LoRAMerge.merged(parameters: c.baseParameters, config: c.config, adapter: adapter)
        let peftConfig = try HFConfig.read(path: c.mergedFolder + "/config.json")
        let reference = try HFFolder.readParameters(folder: c.mergedFolder, config: peftConfig)
        let receipt = result.receipt
        // Saved modules (modules_to_save) first, in name order, then the LoRA deltas in parameter order.
        #expect(receipt.entries.map(\.name) == adapter.savedModules.keys.sorted() + adapter.spec.targets(in: c.config).map { $0.module + ".weight" })
        #expect(receipt.entries.filter(\.savedModule).map(\.name) == adapter.savedModules.keys.sorted())
        #expect(receipt.scale == adapter.spec.scale && receipt.rank == adapter.spec.rank)
        #expect(receipt.untiedLMHead == (c.config.tieWordEmbeddings && !isTrue(c.expected["merged_tie_word_embeddings"])))
        for e in receipt.entries {
            let merged = try #require(reference[e.name]).scalars, base = try #require(c.baseParameters[e.base]).scalars
            var maxChange = 0.0, squares = 0.0
            for i in merged.indices {
                let d = Double(merged[i]) - Double(base[i])
                maxChange = max(maxChange, abs(d)); squares += d * d
            }
            #expect(maxChange > 0, "\(e.name): the adapter changes the tensor")
            #expect(abs(e.maxAbsChange - maxChange) <= 1e-6 * maxChange + 1e-7, "\(e.name): receipt max|Δ| \(e.maxAbsChange), peft's \(maxChange)")
            #expect(abs(e.deltaNorm - squares.squareRoot()) <= 1e-5 * squares.squareRoot(), "\(e.name): receipt ‖ΔW‖ \(e.deltaNorm), peft's \(squares.squareRoot())")
        }
        #expect(receipt.unchangedTensors == c.baseParameters.count - receipt.entries.filter { $0.name == $0.base }.count)
        #expect(receipt.summary.contains("merged \(adapter.spec.targets(in: c.config).count) LoRA deltas"))
        #expect(receipt.summary.contains("probe (KL / perplexity of merged vs base + adapter): not run"))
    }

    /// Tied lm_head: the embeddings keep their base values and lm_head becomes embeddings + delta (peft's in-place
    /// merge instead changes the embeddings; the fixture recorded how much).
    @Test func tiedLMHeadIsUntiedNotShared() throws {
        let c = try PEFTCase("llama_tied_lm_head")
        #expect(c.config.tieWordEmbeddings)
        #expect(c.expected["peft_inplace_merge_embedding_change"].double > 0)
        let adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        let result = try LoRAMerge.merged(parameters: c.baseParameters, config: c.config, adapter: adapter)
        #expect(!result.config.tieWordEmbeddings && result.receipt.untiedLMHead)
        #expect(result.parameters["model.embed_tokens.weight"]?.scalars == c.baseParameters["model.embed_tokens.weight"]?.scalars)
        let head = try #require(result.parameters["lm_head.weight"])
        #expect(head.scalars != c.baseParameters["model.embed_tokens.weight"]?.scalars)
        #expect(result.receipt.entries.last?.name == "lm_head.weight" && result.receipt.entries.last?.base == "model.embed_tokens.weight")
    }

    /// An adapter whose embedding copy differs from the base (trained on a changed vocabulary) is refused, naming it.
    @Test func changedEmbeddingCopyIsRefused() throws {
        let c = try PEFTCase("llama_tied_lm_head")
        var adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        var copy = try #require(adapter.embeddingCopies["lm_head.base_layer.weight"])
        copy[3, 5] += 0.25
        adapter.embeddingCopies["lm_head.base_layer.weight"] = copy
        do {
            _ = try LoRAMerge.merged(parameters: c.baseParameters, config: c.config, adapter: adapter)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("base_model.model.lm_head.base_layer.weight") && error.message.contains("model.embed_tokens.weight"), "\(error)")
        }
    }

    /// Written as bf16, a delta far below bf16's resolution is lost, and the receipt says so; f32 keeps it exactly.
    @Test func receiptWarnsWhenRoundingErasesTheDelta() throws {
        let c = try PEFTCase("llama_all_linear")
        var adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        for (k, t) in adapter.tensors where k.hasSuffix("lora_B.weight") && k.contains("layers.0.self_attn.q_proj") {
            adapter.tensors[k] = Tensor(shape: t.shape, data: t.scalars.map { $0 * 1e-6 })
        }
        var result = try LoRAMerge.merged(parameters: c.baseParameters, config: c.config, adapter: adapter)
        result.receipt.recordOutput(dtype: .BF16, base: c.baseParameters, merged: result.parameters)
        #expect(result.receipt.distorted.map(\.name) == ["model.layers.0.self_attn.q_proj.weight"])
        #expect(result.receipt.summary.contains("warning: rounding to bfloat16 distorts the delta of 1 tensor(s)"), "\(result.receipt.summary)")
        result.receipt.recordOutput(dtype: .F32, base: c.baseParameters, merged: result.parameters)
        #expect(result.receipt.distorted.isEmpty && result.receipt.entries.allSatisfy { $0.writtenDeltaError == 0 })
        #expect(result.receipt.summary.contains("written as float32") && !result.receipt.summary.contains("warning"))
    }

    /// Base weights or adapter tensors that do not fit are listed together, naming the tensors.
    @Test func mismatchedInputsAreListed() throws {
        let c = try PEFTCase("gpt2_conv1d")
        var adapter = try PEFTAdapter.read(from: c.adapterFolder, config: c.config)
        adapter.tensors.removeValue(forKey: "transformer.h.1.mlp.c_fc.lora_B.weight")
        var base = c.baseParameters
        base["transformer.h.0.attn.c_attn.weight"] = Tensor(zeros: [48, 144])
        do {
            _ = try LoRAMerge.merged(parameters: base, config: c.config, adapter: adapter)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("missing tensor transformer.h.1.mlp.c_fc.lora_B.weight"), "\(error)")
            #expect(error.message.contains("base tensor transformer.h.0.attn.c_attn.weight has shape [48, 144], expected [144, 48]"), "\(error)")
        }
    }
}
