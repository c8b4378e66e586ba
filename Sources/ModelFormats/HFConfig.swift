import Foundation
import Layers
import Models

/// Reads a Hugging Face `config.json` (transformers v4 and v5 spellings) into a `ModelConfig`.
///
/// config.json is a foreign file, so unknown keys are ignored; a required key that is missing or has the wrong
/// type is an error naming the file and the key. Supported `model_type`s: llama, mistral, qwen2, gpt2.
public enum HFConfig {
    public static let supportedModelTypes = ["llama", "mistral", "qwen2", "gpt2"]

    public static func read(path: String) throws(ModelFormatError) -> ModelConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelFormatError(file: path, "cannot read the file") }
        let object: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ModelFormatError(file: path, "not a JSON object")
            }
            object = o
        } catch let e as ModelFormatError { throw e } catch {
            throw ModelFormatError(file: path, "invalid JSON (\(error.localizedDescription))")
        }
        return try parse(object, file: path)
    }

    public static func parse(_ j: [String: Any], file: String) throws(ModelFormatError) -> ModelConfig {
        func fail(_ m: String) -> ModelFormatError { ModelFormatError(file: file, m) }
        func int(_ key: String, default d: Int? = nil) throws(ModelFormatError) -> Int {
            switch j[key] {
            case let n as NSNumber where Double(n.intValue) == n.doubleValue: return n.intValue
            case nil, is NSNull:
                if let d { return d }
                throw fail("missing required key '\(key)'")
            default: throw fail("key '\(key)' must be an integer, got \(String(describing: j[key]!))")
            }
        }
        func optInt(_ key: String) throws(ModelFormatError) -> Int? {
            if j[key] == nil || j[key] is NSNull { return nil }
            return try int(key)
        }
        func double(_ key: String, in dict: [String: Any]? = nil, default d: Double? = nil) throws(ModelFormatError) -> Double {
            let v = (dict ?? j)[key]
            if let n = v as? NSNumber { return n.doubleValue }
            if v == nil || v is NSNull, let d { return d }
            throw fail(v == nil || v is NSNull ? "missing required key '\(key)'" : "key '\(key)' must be a number")
        }
        func bool(_ key: String, default d: Bool) throws(ModelFormatError) -> Bool {
            switch j[key] {
            case nil, is NSNull: return d
            case let b as Bool: return b
            default: throw fail("key '\(key)' must be true or false")
            }
        }
        guard let modelType = j["model_type"] as? String else { throw fail("missing required key 'model_type'") }
        guard supportedModelTypes.contains(modelType) else {
            throw fail("unsupported model_type '\(modelType)' (supported: \(supportedModelTypes.joined(separator: ", ")))")
        }
        let eos: [Int]
        switch j["eos_token_id"] {
        case let n as NSNumber: eos = [n.intValue]
        case let a as [NSNumber]: eos = a.map(\.intValue)
        default: eos = []
        }
        let bos = try optInt("bos_token_id")

        if modelType == "gpt2" {
            let c = try int("n_embd"), heads = try int("n_head")
            guard heads > 0, c % heads == 0 else { throw fail("n_embd \(c) is not divisible by n_head \(heads)") }
            if try bool("scale_attn_by_inverse_layer_idx", default: false) {
                throw fail("scale_attn_by_inverse_layer_idx = true is not supported")
            }
            if try !bool("scale_attn_weights", default: true) { throw fail("scale_attn_weights = false is not supported") }
            let act = (j["activation_function"] as? String) ?? "gelu_new"
            guard ["gelu_new", "gelu_pytorch_tanh"].contains(act) else {
                throw fail("activation_function '\(act)' is not supported (gelu_new only)")
            }
            let config = ModelConfig(
                family: .gpt2, modelType: modelType, vocabSize: try int("vocab_size"), hiddenSize: c,
                intermediateSize: try optInt("n_inner") ?? 4 * c, numLayers: try int("n_layer"), numHeads: heads,
                numKVHeads: heads, headDim: c / heads, maxPositionEmbeddings: try int("n_positions"),
                normEps: try double("layer_norm_epsilon", default: 1e-5),
                tieWordEmbeddings: try bool("tie_word_embeddings", default: true), bosTokenID: bos, eosTokenIDs: eos)
            do { try config.validate() } catch { throw fail(error.message) }
            return config
        }

        // llama, mistral, qwen2
        let act = (j["hidden_act"] as? String) ?? "silu"
        guard act == "silu" else { throw fail("hidden_act '\(act)' is not supported (silu only)") }
        let c = try int("hidden_size"), heads = try int("num_attention_heads")
        let kvHeads = try optInt("num_key_value_heads") ?? heads
        guard heads > 0 else { throw fail("num_attention_heads must be positive") }
        let headDim = try optInt("head_dim") ?? c / heads
        // RoPE: v5 `rope_parameters`, else top-level `rope_theta` + `rope_scaling` (key `rope_type` or legacy `type`).
        var theta = 10000.0
        var scalingDict: [String: Any]? = nil
        if let rp = j["rope_parameters"] as? [String: Any] {
            theta = try double("rope_theta", in: rp, default: 10000)
            scalingDict = rp
        } else {
            theta = try double("rope_theta", default: 10000)
            scalingDict = j["rope_scaling"] as? [String: Any]
        }
        var scaling = RoPEScaling.none
        if let s = scalingDict {
            let type = (s["rope_type"] as? String) ?? (s["type"] as? String) ?? "default"
            switch type {
            case "default": break
            case "linear": scaling = .linear(factor: try double("factor", in: s))
            case "llama3":
                guard let orig = (s["original_max_position_embeddings"] as? NSNumber)?.intValue else {
                    throw fail("rope scaling llama3 needs 'original_max_position_embeddings'")
                }
                scaling = .llama3(factor: try double("factor", in: s), lowFreqFactor: try double("low_freq_factor", in: s),
                                  highFreqFactor: try double("high_freq_factor", in: s), originalMaxPositions: orig)
            default: throw fail("rope_type '\(type)' is not supported (default, linear, llama3)")
            }
        }
        if let f = (scalingDict?["partial_rotary_factor"] as? NSNumber)?.doubleValue ?? (j["partial_rotary_factor"] as? NSNumber)?.doubleValue,
           f != 1 { throw fail("partial_rotary_factor \(f) is not supported") }
        let isQwen = modelType == "qwen2"
        let attentionBias = try bool("attention_bias", default: false)
        let mlpBias = try bool("mlp_bias", default: false)
        var window: Int? = nil
        if modelType == "mistral" { window = try optInt("sliding_window") }
        if isQwen, try bool("use_sliding_window", default: false) { window = try optInt("sliding_window") }
        let config = ModelConfig(
            family: .llama, modelType: modelType, vocabSize: try int("vocab_size"), hiddenSize: c,
            intermediateSize: try int("intermediate_size"), numLayers: try int("num_hidden_layers"),
            numHeads: heads, numKVHeads: kvHeads, headDim: headDim,
            maxPositionEmbeddings: try int("max_position_embeddings"),
            normEps: try double("rms_norm_eps", default: 1e-6), ropeTheta: theta, ropeScaling: scaling,
            qkvBias: isQwen || attentionBias, outputProjBias: !isQwen && attentionBias,
            mlpBias: !isQwen && mlpBias,
            tieWordEmbeddings: try bool("tie_word_embeddings", default: false), slidingWindow: window,
            bosTokenID: bos, eosTokenIDs: eos)
        do { try config.validate() } catch { throw fail(error.message) }
        return config
    }

    /// config.json for `config` in transformers v5 spelling (dtype, rope_parameters, explicit head_dim).
    public static func json(for config: ModelConfig, dtype: String = "float32") -> [String: Any] {
        var j: [String: Any] = [
            "model_type": config.modelType, "vocab_size": config.vocabSize, "dtype": dtype,
            "tie_word_embeddings": config.tieWordEmbeddings,
        ]
        if let b = config.bosTokenID { j["bos_token_id"] = b }
        if config.eosTokenIDs.count == 1 { j["eos_token_id"] = config.eosTokenIDs[0] } else if !config.eosTokenIDs.isEmpty { j["eos_token_id"] = config.eosTokenIDs }
        switch config.family {
        case .gpt2:
            j["architectures"] = ["GPT2LMHeadModel"]
            j["n_embd"] = config.hiddenSize; j["n_layer"] = config.numLayers; j["n_head"] = config.numHeads
            j["n_inner"] = config.intermediateSize; j["n_positions"] = config.maxPositionEmbeddings
            j["layer_norm_epsilon"] = config.normEps; j["activation_function"] = "gelu_new"
        case .llama:
            j["architectures"] = [config.modelType == "qwen2" ? "Qwen2ForCausalLM" : config.modelType == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM"]
            j["hidden_size"] = config.hiddenSize; j["intermediate_size"] = config.intermediateSize
            j["num_hidden_layers"] = config.numLayers; j["num_attention_heads"] = config.numHeads
            j["num_key_value_heads"] = config.numKVHeads; j["head_dim"] = config.headDim
            j["max_position_embeddings"] = config.maxPositionEmbeddings; j["rms_norm_eps"] = config.normEps
            j["hidden_act"] = "silu"
            if config.modelType != "qwen2" {
                j["attention_bias"] = config.qkvBias; j["mlp_bias"] = config.mlpBias
            }
            var rope: [String: Any] = ["rope_theta": config.ropeTheta, "rope_type": "default"]
            switch config.ropeScaling {
            case .none: break
            case .linear(let f): rope["rope_type"] = "linear"; rope["factor"] = f
            case .llama3(let f, let lo, let hi, let orig):
                rope = ["rope_theta": config.ropeTheta, "rope_type": "llama3", "factor": f, "low_freq_factor": lo,
                        "high_freq_factor": hi, "original_max_position_embeddings": orig]
            }
            j["rope_parameters"] = rope
            if let w = config.slidingWindow { j["sliding_window"] = w }
        }
        return j
    }
}
