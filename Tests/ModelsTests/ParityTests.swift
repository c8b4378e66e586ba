import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// Tiny random HF models written by Tests/Reference/gen_models.py (transformers 5.23, fp32 reference).
let parityFixtures = ["llama_untied", "llama_tied_bf16", "llama3_rope_sharded", "qwen2_f16", "gpt2_tied"]

func modelFolder(_ name: String) throws -> String {
    let path = repoRoot.appendingPathComponent("Tests/Reference/fixtures/models/\(name)").path
    guard FileManager.default.fileExists(atPath: path + "/config.json") else {
        Issue.record("missing fixture \(path): run Tests/Reference/make_fixtures.py --only models/\(name)")
        throw CocoaError(.fileNoSuchFile)
    }
    return path
}


@Suite struct ParityTests {
    @Test(arguments: parityFixtures)
    func logitsMatchTransformers(_ name: String) throws {
        let folder = try modelFolder(name)
        let model = try HFFolder.load(folder)
        let expected = try loadFixture("models/\(name)/expected.json")
        let ids = expected["input_ids"].array.map { $0.array.map(\.int) }
        let reference = try SafetensorsFile(path: folder + "/expected_logits.safetensors").tensor("logits")
        let logits = try model.forward(tokens: ids.flatMap { $0 }, batch: ids.count)
        let rel = expectRelativeMax(logits, reference, tolerance: 1e-4, "\(name) logits")
        print("parity \(name): max |Δ| / max |ref| = \(rel)")
    }

    @Test(arguments: parityFixtures)
    func greedyMatchesTransformers(_ name: String) throws {
        let model = try HFFolder.load(try modelFolder(name))
        let expected = try loadFixture("models/\(name)/expected.json")
        let result = try generate(model: model, prompt: expected["prompt"].array.map(\.int),
                                  options: GenerationOptions(maxNewTokens: 40))
        #expect(result.tokens == expected["greedy"].array.map(\.int), "\(name) greedy tokens")
        #expect(result.stopReason == .maxNewTokens)
    }

    /// Decoding one token at a time through the KV cache gives the same logits as one full forward.
    @Test(arguments: ["llama_untied", "gpt2_tied"])
    func cachedDecodeEqualsFullForward(_ name: String) throws {
        let model = try HFFolder.load(try modelFolder(name))
        let tokens = [5, 17, 300, 0, 42, 7, 99]
        let full = try model.forward(tokens: tokens, batch: 1)
        var cache = model.makeCache(batch: 1, capacity: tokens.count)
        var rows: [Float] = try model.forward(tokens: Array(tokens.prefix(3)), batch: 1, cache: &cache).scalars
        for t in tokens.dropFirst(3) { rows += try model.forward(tokens: [t], batch: 1, cache: &cache).scalars }
        expectRelativeMax(Tensor(shape: full.shape, data: rows), full, tolerance: 1e-5, "\(name) cached decode")
    }
}
