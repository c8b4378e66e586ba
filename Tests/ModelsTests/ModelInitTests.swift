import Models
import Tensors
import Testing

/// ModelInit: shapes exactly `config.parameterShapes()`, the distribution transformers' `_init_weights` uses (each
/// tensor's mean and standard deviation within 5 standard errors of the target), and bit-exact determinism per seed.
@Suite struct ModelInitTests {
    static let qwen = ModelConfig(family: .llama, modelType: "qwen2", vocabSize: 301, hiddenSize: 48, intermediateSize: 80,
                                  numLayers: 3, numHeads: 6, numKVHeads: 2, headDim: 8, maxPositionEmbeddings: 64,
                                  normEps: 1e-6, qkvBias: true, tieWordEmbeddings: false)
    static let llamaTied = ModelConfig(family: .llama, modelType: "llama", vocabSize: 257, hiddenSize: 40, intermediateSize: 72,
                                       numLayers: 2, numHeads: 5, numKVHeads: 5, headDim: 8, maxPositionEmbeddings: 32,
                                       normEps: 1e-5, tieWordEmbeddings: true)
    static let gpt2 = ModelConfig(family: .gpt2, modelType: "gpt2", vocabSize: 263, hiddenSize: 36, intermediateSize: 144,
                                  numLayers: 4, numHeads: 3, numKVHeads: 3, headDim: 12, maxPositionEmbeddings: 48,
                                  normEps: 1e-5, tieWordEmbeddings: true)

    static func values(_ t: Tensor) -> [Float] { t.withUnsafeBufferPointer { Array($0) } }

    @Test(arguments: [qwen, llamaTied, gpt2])
    func shapesAndDistribution(_ config: ModelConfig) throws {
        let p = ModelInit.parameters(config: config, seed: 11)
        let shapes = config.parameterShapes()
        #expect(Set(p.keys) == Set(shapes.map(\.name)))
        for (name, shape) in shapes {
            let t = try #require(p[name])
            #expect(t.shape == shape, "\(name): \(t.shape) vs \(shape)")
            let v = Self.values(t).map(Double.init)
            switch ModelInit.kind(of: name, family: config.family) {
            case .zero: #expect(v.allSatisfy { $0 == 0 }, "\(name) must be zero")
            case .one: #expect(v.allSatisfy { $0 == 1 }, "\(name) must be one")
            case .normal, .residualNormal:
                let target = ModelInit.kind(of: name, family: config.family) == .normal
                    ? 0.02 : 0.02 / (2 * Double(config.numLayers)).squareRoot()
                let n = Double(v.count)
                let mean = v.reduce(0, +) / n
                let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot()
                #expect(abs(mean) < 5 * target / n.squareRoot(), "\(name): mean \(mean), target 0 ± \(5 * target / n.squareRoot())")
                #expect(abs(std / target - 1) < 5 / (2 * n).squareRoot(), "\(name): std \(std) vs \(target)")
            }
        }
        // Which rule each name gets: norms are ones, biases zero, GPT-2's residual projections scaled.
        #expect(ModelInit.kind(of: "model.layers.0.input_layernorm.weight", family: .llama) == .one)
        #expect(ModelInit.kind(of: "model.norm.weight", family: .llama) == .one)
        #expect(ModelInit.kind(of: "model.layers.0.self_attn.q_proj.bias", family: .llama) == .zero)
        #expect(ModelInit.kind(of: "model.layers.0.mlp.down_proj.weight", family: .llama) == .normal)
        #expect(ModelInit.kind(of: "transformer.h.1.mlp.c_proj.weight", family: .gpt2) == .residualNormal)
        #expect(ModelInit.kind(of: "transformer.h.1.attn.c_proj.weight", family: .gpt2) == .residualNormal)
        #expect(ModelInit.kind(of: "transformer.ln_f.weight", family: .gpt2) == .one)
        #expect(ModelInit.kind(of: "transformer.wpe.weight", family: .gpt2) == .normal)
    }

    @Test func seedFixesEveryBit() {
        let a = ModelInit.parameters(config: Self.qwen, seed: 5), b = ModelInit.parameters(config: Self.qwen, seed: 5)
        let c = ModelInit.parameters(config: Self.qwen, seed: 6)
        for name in a.keys {
            #expect(Self.values(a[name]!) == Self.values(b[name]!), "\(name) differs between two draws with seed 5")
        }
        let emb = "model.embed_tokens.weight"
        #expect(Self.values(a[emb]!) != Self.values(c[emb]!), "seeds 5 and 6 drew the same embedding")
    }

    /// A random-initialised model runs: its next-token loss is near ln(V) (uniform guessing), as expected at init.
    @Test func freshModelPredictsNearUniform() throws {
        let config = Self.llamaTied
        let model = try makeLanguageModel(config: config, parameters: ModelInit.parameters(config: config, seed: 1))
        let tokens = (0..<16).map { ($0 * 37) % config.vocabSize }
        let logits = try model.forward(tokens: tokens, batch: 1)
        let v = Self.values(logits)
        var loss = 0.0
        for t in 0..<(tokens.count - 1) {
            let row = v[(t * config.vocabSize)..<((t + 1) * config.vocabSize)].map(Double.init)
            let m = row.max()!
            let lse = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
            loss += lse - row[tokens[t + 1]]
        }
        loss /= Double(tokens.count - 1)
        let uniform = Foundation.log(Double(config.vocabSize))
        #expect(abs(loss - uniform) < 0.1 * uniform, "loss \(loss) vs ln V = \(uniform)")
    }
}

import Foundation
