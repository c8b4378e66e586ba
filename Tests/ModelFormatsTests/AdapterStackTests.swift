import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// Adapters run unmerged on top of a base (`--adapter`), alone or several with weights, and the export paths that
/// take them.
@Suite struct AdapterStackTests {
    /// A peft-made adapter run unmerged by Whittle gives peft's base + adapter logits.
    @Test(arguments: peftCases)
    func unmergedAdapterGivesPEFTsLogits(_ name: String) throws {
        let c = try PEFTCase(name)
        let model = try PEFTAdapter.applying([AdapterChoice(path: c.adapterFolder)], config: c.config, parameters: c.baseParameters,
                                             modelPath: c.baseFolder)
        let ids = c.inputIDs
        let logits = try model.forward(tokens: ids.flatMap { $0 }, batch: ids.count)
        let e = expectRelativeMax(logits, try c.logits("adapter_logits"), tolerance: 1e-4, "\(name): unmerged vs peft")
        print("unmerged adapter \(name): logits rel. error vs peft \(e)")
    }

    /// An adapter (Float32) on a 16-bit base gives the logits of the same adapter on the widened Float32 base, and
    /// still meets peft's bound; LoRA on a tied lm_head sits on the 16-bit embedding.
    @Test(arguments: peftCases)
    func adapterOnSixteenBitBase(_ name: String) throws {
        let c = try PEFTCase(name)
        let half = try HFFolder.readWeights(folder: c.baseFolder, config: c.config, format: .bf16)
        #expect(!half.half.isEmpty)
        let model = try PEFTAdapter.applying([AdapterChoice(path: c.adapterFolder)], config: c.config, weights: half,
                                             modelPath: c.baseFolder)
        var widened = half.parameters
        for (n, h) in half.half { widened[n] = h.widened() }
        let reference = try PEFTAdapter.applying([AdapterChoice(path: c.adapterFolder)], config: c.config, parameters: widened,
                                                 modelPath: c.baseFolder)
        let ids = c.inputIDs.flatMap { $0 }
        expectRelativeMax(try model.forward(tokens: ids, batch: c.inputIDs.count),
                          try reference.forward(tokens: ids, batch: c.inputIDs.count), tolerance: 1e-5, "\(name): 16-bit base + adapter")
        var cache = model.makeCache(batch: 1, capacity: 8), refCache = reference.makeCache(batch: 1, capacity: 8)
        for t in c.inputIDs[0].prefix(6) {
            expectRelativeMax(try model.forward(tokens: [t], batch: 1, cache: &cache),
                              try reference.forward(tokens: [t], batch: 1, cache: &refCache), tolerance: 1e-5,
                              "\(name): 16-bit base + adapter, decode")
        }
    }

    /// Two different adapters with weights, stacked into one rank-(r₁+r₂) LoRA, equal merging them one after the other
    /// (each with alpha × weight) — and weight 0 is the base model.
    @Test func twoWeightedAdaptersEqualSequentialMerges() throws {
        let first = try PEFTCase("llama_all_linear"), second = try PEFTCase("llama_layers_rslora")
        #expect(first.baseFolder == second.baseFolder)
        let weights = (0.7, -1.3)
        let model = try PEFTAdapter.applying([AdapterChoice(path: first.adapterFolder, weight: weights.0),
                                              AdapterChoice(path: second.adapterFolder, weight: weights.1)],
                                             config: first.config, parameters: first.baseParameters, modelPath: first.baseFolder)
        var a1 = try PEFTAdapter.read(from: first.adapterFolder, config: first.config)
        var a2 = try PEFTAdapter.read(from: second.adapterFolder, config: first.config)
        a1.spec.alpha *= weights.0
        a2.spec.alpha *= weights.1
        let once = try LoRAMerge.merged(parameters: first.baseParameters, config: first.config, adapter: a1)
        let twice = try LoRAMerge.merged(parameters: once.parameters, config: once.config, adapter: a2)
        let reference = try makeLanguageModel(config: twice.config, parameters: twice.parameters)
        let ids = first.inputIDs.flatMap { $0 }
        let e = expectRelativeMax(try model.forward(tokens: ids, batch: first.inputIDs.count),
                                  try reference.forward(tokens: ids, batch: first.inputIDs.count), tolerance: 1e-5, "stack vs merges")
        print("two stacked adapters vs sequential merges: rel. error \(e)")

        let off = try PEFTAdapter.applying([AdapterChoice(path: first.adapterFolder, weight: 0)], config: first.config,
                                           parameters: first.baseParameters, modelPath: first.baseFolder)
        let base = try makeLanguageModel(config: first.config, parameters: first.baseParameters)
        #expect(try off.forward(tokens: ids, batch: first.inputIDs.count).scalars == base.forward(tokens: ids, batch: first.inputIDs.count).scalars)
    }

    @Test func adapterChoiceParsing() throws {
        let c = try PEFTCase("llama_all_linear")
        #expect(try AdapterChoice(parsing: c.adapterFolder) == AdapterChoice(path: c.adapterFolder, weight: 1))
        #expect(try AdapterChoice(parsing: c.adapterFolder + ":0.25") == AdapterChoice(path: c.adapterFolder, weight: 0.25))
        let missing = describeError { _ = try AdapterChoice(parsing: "/no/such/adapter:0.5") }
        #expect(missing.contains("/no/such/adapter") && missing.contains("no such adapter folder"), "\(missing)")
        let bare = describeError { _ = try AdapterChoice(parsing: "/no/such/adapter") }
        #expect(bare.contains("DIR:WEIGHT"), "\(bare)")
    }

    /// export --format hf with an adapter is the merge; without, a re-encoding (f16 here) that loads back rounded.
    @Test func exportHFMergesOrReencodes() throws {
        let c = try PEFTCase("qwen2_regex")
        let scratch = try Scratch()
        let merged = try ModelExport.run(model: c.baseFolder, adapters: [AdapterChoice(path: c.adapterFolder)], format: .hf,
                                         dtype: "f32", out: scratch.file("merged"))
        #expect(merged.receipt?.probe != nil)
        let ids = c.inputIDs
        let logits = try HFFolder.load(scratch.file("merged")).forward(tokens: ids.flatMap { $0 }, batch: ids.count)
        _ = expectRelativeMax(logits, try c.logits("merged_logits"), tolerance: 1e-4, "export hf + adapter vs peft merged")

        _ = try ModelExport.run(model: c.baseFolder, adapters: [], format: .hf, dtype: "f16", out: scratch.file("f16"))
        let config = try HFConfig.read(path: scratch.file("f16") + "/config.json")
        let back = try HFFolder.readParameters(folder: scratch.file("f16"), config: config)
        for (k, t) in c.baseParameters {
            #expect(back[k]?.scalars == t.scalars.map { SafetensorsWriter.DType.F16.rounded($0) }, "\(k) rounded to f16")
        }
        let wrong = describeError { _ = try ModelExport.run(model: c.baseFolder, adapters: [], format: .hf, dtype: "q8_0", out: scratch.file("x")) }
        #expect(wrong.contains("q8_0") && wrong.contains("f32, bf16, f16"), "\(wrong)")
    }

    /// export --format gguf with an adapter writes the merged weights (PEFT's merged logits); gguf-lora of a stack
    /// of two adapters has rank r₁ + r₂.
    @Test func exportGGUFMergedAndStackedLoRA() throws {
        let model = try GGUFFixture.folder("llama"), adapter = try GGUFFixture.folder("llama-lora")
        let scratch = try Scratch()
        let result = try ModelExport.run(model: model, adapters: [AdapterChoice(path: adapter)], format: .gguf,
                                         dtype: "f32", out: scratch.file("m.gguf"))
        #expect(result.receipt?.probe != nil)
        let (config, parameters) = try GGUFModelReader.read(path: scratch.file("m.gguf"))
        let ids = try GGUFFixture.expected("llama")["input_ids"].array.flatMap { $0.array.map(\.int) }
        let logits = try makeLanguageModel(config: config, parameters: parameters).forward(tokens: ids, batch: 1)
        _ = expectRelativeMax(logits, try GGUFFixture.logits("llama-lora", "logits"), tolerance: 1e-4, "export gguf + adapter vs peft merged")

        let lora = try ModelExport.run(model: model, adapters: [AdapterChoice(path: adapter), AdapterChoice(path: adapter, weight: 0.5)],
                                       format: .ggufLoRA, dtype: "f32", out: scratch.file("a.gguf"))
        let r = try PEFTAdapter.read(from: adapter, config: try HFConfig.read(path: model + "/config.json")).spec.rank
        let aTensors = try #require(lora.gguf?.tensors.filter { $0.name.hasSuffix(".lora_a") })
        #expect(!aTensors.isEmpty && aTensors.allSatisfy { $0.shape.contains(2 * r) }, "\(aTensors.prefix(2))")
        let noAdapter = describeError { _ = try ModelExport.run(model: model, adapters: [], format: .ggufLoRA, dtype: "f32", out: scratch.file("b.gguf")) }
        #expect(noAdapter.contains("--adapter"), "\(noAdapter)")
    }
}
