import Foundation
import ModelFormats
import Models
import Tensors
import TestSupport
import Testing

/// Models with 16-bit matrices (`--weights`): the same logits and greedy tokens as the Float32 model on the same
/// (exactly widened) weights, the transformers fixtures' bound for BF16/F16 files, half the weight bytes, and no training.
@Suite struct HalfWeightTests {
    /// The fixtures stored as BF16 / F16: `auto` keeps them 16-bit, and they meet the parity bound of the Float32 load.
    @Test(arguments: [("llama_tied_bf16", HalfKind.bf16), ("qwen2_f16", HalfKind.f16)])
    func sixteenBitFilesMatchTransformers(_ name: String, _ kind: HalfKind) throws {
        let folder = try modelFolder(name)
        let model = try HFFolder.load(folder, weights: .auto)
        #expect(model.halfKind == kind)
        let matrices = model.config.parameterShapes().filter { $0.shape.count == 2 }.map(\.name)
        #expect(Set(model.halfParameters.keys) == Set(matrices), "every matrix is 16-bit")
        let expected = try loadFixture("models/\(name)/expected.json")
        let ids = expected["input_ids"].array.map { $0.array.map(\.int) }
        let reference = try SafetensorsFile(path: folder + "/expected_logits.safetensors").tensor("logits")
        let logits = try model.forward(tokens: ids.flatMap { $0 }, batch: ids.count)
        expectRelativeMax(logits, reference, tolerance: 1e-4, "\(name) 16-bit logits")
        let result = try generate(model: model, prompt: expected["prompt"].array.map(\.int), options: GenerationOptions(maxNewTokens: 40))
        #expect(result.tokens == expected["greedy"].array.map(\.int), "\(name) 16-bit greedy tokens")
    }

    /// Every fixture (F32 files rounded on load) in both kinds against the Float32 model of the widened weights:
    /// a batched prefill (widened blocks + sgemm), token-by-token decoding (the 16-bit GEMV), 40 greedy tokens.
    @Test(arguments: parityFixtures)
    func sameAsWidenedFloat32Model(_ name: String) throws {
        let folder = try modelFolder(name)
        for format in [WeightFormat.bf16, .f16] {
            let half = try HFFolder.load(folder, weights: format)
            #expect(half.halfKind?.rawValue == format.rawValue)
            let wide = try makeLanguageModel(config: half.config, parameters: half.parameters)
            #expect(wide.halfParameters.isEmpty)

            let tokens = [39, 274, 119, 66, 25, 298, 25, 80, 186, 171]
            expectRelativeMax(try half.forward(tokens: tokens, batch: 2), try wide.forward(tokens: tokens, batch: 2),
                              tolerance: 1e-5, "\(name) \(format) prefill")

            var cacheHalf = half.makeCache(batch: 1, capacity: tokens.count)
            var cacheWide = wide.makeCache(batch: 1, capacity: tokens.count)
            for t in tokens {
                let a = try half.forward(tokens: [t], batch: 1, cache: &cacheHalf)
                let b = try wide.forward(tokens: [t], batch: 1, cache: &cacheWide)
                expectRelativeMax(a, b, tolerance: 1e-5, "\(name) \(format) decode")
            }

            let prompt = [5, 17, 300, 0, 42]
            let g1 = try generate(model: half, prompt: prompt, options: GenerationOptions(maxNewTokens: 40))
            let g2 = try generate(model: wide, prompt: prompt, options: GenerationOptions(maxNewTokens: 40))
            #expect(g1.tokens == g2.tokens, "\(name) \(format) greedy tokens")
        }
    }

    /// The matrices really are held in 2 bytes per weight.
    @Test func weightBytesAreHalved() throws {
        let folder = try modelFolder("llama_untied")
        let full = try HFFolder.load(folder)
        let half = try HFFolder.load(folder, weights: .bf16)
        let matrixElements = full.config.parameterShapes().filter { $0.shape.count == 2 }.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let otherElements = full.config.parameterShapes().filter { $0.shape.count != 2 }.reduce(0) { $0 + $1.shape.reduce(1, *) }
        #expect(full.weightBytes == 4 * (matrixElements + otherElements))
        #expect(half.weightBytes == 2 * matrixElements + 4 * otherElements)
        #expect(half.halfParameters.values.allSatisfy { $0.byteCount == $0.count * 2 })
    }

    /// Scoring works on a 16-bit model; taking gradients refuses with a ModelError that says how to load for training.
    @Test func trainingRefusesSixteenBitWeights() throws {
        let folder = try modelFolder("gpt2_tied")
        let half = try HFFolder.load(folder, weights: .f16) as! any TrainableModel
        let wide = try makeLanguageModel(config: half.config, parameters: half.parameters)
        let batch = SequenceBatch(rows: [[5, 17, 300, 0, 42, 7]])
        let a = try half.loss(batch), b = try wide.loss(batch)
        #expect(a.count == b.count && abs(a.sum - b.sum) <= 1e-5 * abs(b.sum))
        var grads: [String: Tensor] = [:]
        var rng = RandomGenerator(seed: 1)
        #expect(throws: ModelError.self) { _ = try half.lossAndGradients(batch, gradScale: 1, into: &grads, dropoutRNG: &rng) }
    }

    @Test func weightFormatParsing() throws {
        #expect(try WeightFormat(parsing: "BF16") == .bf16)
        #expect(throws: ModelFormatError.self) { _ = try WeightFormat(parsing: "fp8") }
    }
}
