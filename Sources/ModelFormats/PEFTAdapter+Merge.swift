import Foundation
import Models
import Tensors
import Tokenization

/// Folding a LoRA adapter into its base weights: `W ← W + scale · B·A` for every adapted module, in fp32.
///
/// This is peft's `merge_and_unload` (`get_delta_weight` = `(B @ A) · scaling`, then `W += delta`), with one
/// deliberate difference: when lm_head is adapted on a model whose lm_head is tied to the token embeddings, peft adds
/// the delta in place to the shared matrix, so the *input* embeddings change too and the merged model no longer
/// computes what base + adapter computed. Whittle unties instead: `lm_head.weight = embeddings + delta`, the embeddings
/// stay as they were, and the config says `tie_word_embeddings: false` (what peft's own warning tells users to do by
/// hand). GPT-2's Conv1D weights are `[out, in]` inside Whittle, so the same formula holds there; the HF writer
/// transposes them back on output.
public enum LoRAMerge {
    /// The merged weights, their configuration and what changed.
    public struct Result: Sendable {
        /// Every parameter of the merged model under Whittle names (untouched ones shared with the input).
        public var parameters: [String: Tensor]
        /// The input configuration, with `tieWordEmbeddings` false when lm_head was untied.
        public var config: ModelConfig
        public var receipt: MergeReceipt
    }

    /// Merges `adapter` into `parameters` (a model with `config`, named as `config.parameterShapes()` lists them).
    ///
    /// Numerics: `B·A` is one fp32 GEMM (OpenBLAS) per module, scaled by `Float(adapter.spec.scale)` and added to `W`
    /// in fp32 — the operations peft performs, so the result agrees with peft's to float32 rounding of the GEMM's
    /// summation order (tests hold it to 1e-6 of the largest weight). Errors name the tensor: parameters or adapter
    /// tensors that do not fit the config, embedding copies that differ from the base, and non-finite merged values.
    public static func merged(parameters: [String: Tensor], config: ModelConfig, adapter: PEFTAdapter) throws(ModelError) -> Result {
        let spec = adapter.spec
        try spec.validate(for: config)
        var problems = adapter.problems(config: config)
        for (name, shape) in config.parameterShapes() {
            guard let t = parameters[name] else { problems.append("missing base tensor \(name) \(shape)"); continue }
            if t.shape != shape { problems.append("base tensor \(name) has shape \(t.shape), expected \(shape)") }
        }
        if !problems.isEmpty {
            throw ModelError("cannot merge: the adapter and the base model do not fit the configuration (\(problems.count) problem(s)):\n  "
                             + problems.joined(separator: "\n  "))
        }
        // peft saves copies of embedding layers beside the adapter (always when lm_head is targeted); they must be the
        // base's own weights, or the adapter was trained on a changed (e.g. resized) vocabulary that merging would lose.
        for (name, copy) in adapter.embeddingCopies.sorted(by: { $0.key < $1.key }) {
            guard let base = PEFTAdapter.embeddingCopyBase(name, config: config), let w = parameters[base.name] else { continue }
            let d = maxAbsDifference(copy, w)
            if d != 0 {
                throw ModelError("cannot merge: the adapter's copy \(PEFTAdapter.namePrefix + name) differs from the base \(base.name) "
                                 + "(max |Δ| \(d)): the adapter was trained with changed embeddings, which Whittle does not merge")
            }
        }

        var out = parameters
        var outConfig = config
        var entries: [MergeReceipt.Entry] = []
        // An adapter that unties a tied LM head (saved copies without ensure_weight_tying) gets its own lm_head,
        // starting from the embeddings.
        if adapter.untiesEmbeddings && config.tieWordEmbeddings {
            out["lm_head.weight"] = parameters[config.embeddingParameterName]!
            outConfig.tieWordEmbeddings = false
        }
        // Saved modules (modules_to_save) take the place of the base's own first; LoRA deltas then add to the rest.
        for (name, copy) in adapter.savedModules.sorted(by: { $0.key < $1.key }) {
            let w = out[name]!
            let baseName = name == "lm_head.weight" && config.tieWordEmbeddings ? config.embeddingParameterName : name
            var maxChange = 0.0, deltaSquares = 0.0, baseSquares = 0.0, nonFinite = false
            copy.withUnsafeBufferPointer { c in
                w.withUnsafeBufferPointer { base in
                    for i in 0..<c.count {
                        if !c[i].isFinite { nonFinite = true }
                        let d = Double(c[i]) - Double(base[i])
                        maxChange = max(maxChange, abs(d))
                        deltaSquares += d * d
                        baseSquares += Double(base[i]) * Double(base[i])
                    }
                }
            }
            if nonFinite { throw ModelError("the adapter's saved \(name) holds non-finite values: the adapter is broken") }
            out[name] = copy
            entries.append(MergeReceipt.Entry(name: name, base: baseName, maxAbsChange: maxChange, deltaNorm: deltaSquares.squareRoot(),
                                              baseNorm: baseSquares.squareRoot(), savedModule: true))
        }
        let scale = Float(spec.scale)
        for target in spec.targets(in: config) {
            let a = adapter.tensors[target.module + ".lora_A.weight"]!
            let b = adapter.tensors[target.module + ".lora_B.weight"]!
            let untie = target.module == "lm_head" && outConfig.tieWordEmbeddings
            let baseName = untie ? config.embeddingParameterName : target.module + ".weight"
            let name = target.module + ".weight"
            let w = out[baseName]!
            // delta = (B·A)·scale, then W + delta: peft's order of operations.
            var delta = b.matmul(.normal, a, .normal)
            var merged = w
            var maxChange = 0.0, deltaSquares = 0.0, baseSquares = 0.0, nonFinite = false
            merged.withUnsafeMutableBufferPointer { m in
                delta.withUnsafeMutableBufferPointer { d in
                    w.withUnsafeBufferPointer { base in
                        for i in 0..<m.count {
                            d[i] *= scale
                            m[i] = base[i] + d[i]
                            if !m[i].isFinite { nonFinite = true }
                            maxChange = max(maxChange, Double(abs(m[i] - base[i])))
                            deltaSquares += Double(d[i]) * Double(d[i])
                            baseSquares += Double(base[i]) * Double(base[i])
                        }
                    }
                }
            }
            if nonFinite { throw ModelError("merging the adapter into \(name) gives non-finite values: the adapter is broken") }
            out[name] = merged
            entries.append(MergeReceipt.Entry(name: name, base: baseName, maxAbsChange: maxChange,
                                              deltaNorm: deltaSquares.squareRoot(), baseNorm: baseSquares.squareRoot()))
            if untie { outConfig.tieWordEmbeddings = false }
        }
        let receipt = MergeReceipt(rank: spec.rank, alpha: spec.alpha, useRSLoRA: spec.useRSLoRA, scale: spec.scale,
                                   entries: entries, unchangedTensors: parameters.count - entries.filter { $0.name == $0.base }.count,
                                   untiedLMHead: outConfig.tieWordEmbeddings != config.tieWordEmbeddings)
        return Result(parameters: out, config: outConfig, receipt: receipt)
    }

    static func maxAbsDifference(_ x: Tensor, _ y: Tensor) -> Double {
        x.withUnsafeBufferPointer { a in
            y.withUnsafeBufferPointer { b in
                var m = 0.0
                for i in 0..<min(a.count, b.count) { m = max(m, Double(abs(a[i] - b[i]))) }
                return m
            }
        }
    }
}

// MARK: - Folders

extension LoRAMerge {
    /// `whittle merge`: reads the HF folder `model` and the PEFT adapter folder `adapter`, merges in fp32 and writes a
    /// new HF folder `out` in one atomic step (weights in `dtype`, sharded past `maxShardSize`, config.json from the
    /// base with `dtype` and `tie_word_embeddings` updated, generation and tokenizer files copied, and
    /// `merge_receipt.json`). `out` must not exist or be empty. Returns the receipt, including how much of each
    /// change survives rounding to `dtype` and the probe of the merged model as written against base + adapter.
    @discardableResult
    public static func mergeFolder(model: String, adapter: String, out: String, dtype: SafetensorsWriter.DType = .F32,
                                   maxShardSize: Int = HFWriteOptions.defaultMaxShardSize) throws -> MergeReceipt {
        try mergeFolder(model: model, adapters: [AdapterChoice(path: adapter)], out: out, dtype: dtype, maxShardSize: maxShardSize)
    }

    /// As above for one or more adapters with weights (`PEFTAdapter.stacked`: their weighted sum is merged).
    @discardableResult
    public static func mergeFolder(model: String, adapters: [AdapterChoice], out: String, dtype: SafetensorsWriter.DType = .F32,
                                   maxShardSize: Int = HFWriteOptions.defaultMaxShardSize) throws -> MergeReceipt {
        let config = try HFConfig.read(path: model + "/config.json")
        let parameters = try HFFolder.readParameters(folder: model, config: config)
        let result = try mergedWithProbe(parameters: parameters, config: config, adapters: adapters, dtype: dtype, modelPath: model)
        var receipt = result.receipt
        receipt.baseModel = model
        try HFFolder.writeNewFolder(parameters: result.parameters, config: result.config, to: out,
                                    options: HFWriteOptions(dtype: dtype, maxShardSize: maxShardSize, baseFolder: model,
                                                            extraFiles: [MergeReceipt.fileName: receipt.json()]))
        return receipt
    }

    /// Reads the adapters, merges their (weighted) sum into `parameters` in fp32, records what rounding to `dtype`
    /// keeps, and probes the merged model as it will be written against base + adapters run unmerged.
    public static func mergedWithProbe(parameters: [String: Tensor], config: ModelConfig, adapters: [AdapterChoice],
                                       dtype: SafetensorsWriter.DType, modelPath: String) throws -> Result {
        guard !adapters.isEmpty else { throw ModelFormatError(file: modelPath, "no adapter to merge") }
        let stack = try PEFTAdapter.readStacked(adapters, config: config)
        let (spec, tensors) = (stack.spec, stack.tensors)
        let names = adapters.map(\.path).joined(separator: ", ")
        var result: Result
        let replaced: [String: Tensor]
        // An untied LM head starts from the embeddings.
        let base: (String) -> Tensor? = { name in
            parameters[name] ?? (name == "lm_head.weight" && config.tieWordEmbeddings ? parameters[config.embeddingParameterName] : nil)
        }
        do { replaced = try PEFTAdapter.savedReplacements(stack.adapters, base: base) } catch {
            throw ModelFormatError(file: names, error.message)
        }
        do {
            // One adapter merges as itself (its embedding copies are checked), at alpha × weight; saved modules merge
            // as their weighted replacements.
            var peft = stack.adapters.count == 1 ? stack.adapters[0].adapter : PEFTAdapter(spec: spec, tensors: tensors)
            peft.spec.alpha = spec.alpha
            peft.modulesToSave = stack.adapters.flatMap(\.adapter.modulesToSave)
            peft.savedModules = replaced
            peft.untiesEmbeddings = stack.adapters.contains(where: \.adapter.untiesEmbeddings)
            result = try merged(parameters: parameters, config: config, adapter: peft)
        } catch { throw ModelFormatError(file: names, error.message) }
        result.receipt.recordOutput(dtype: dtype, base: parameters, merged: result.parameters)
        result.receipt.adapter = names
        // The probe: merged weights rounded as the file will hold them, against the unmerged stack.
        var written = result.parameters
        if dtype != .F32 {
            for (k, t) in written {
                var r = t
                r.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = dtype.rounded(p[i]) } }
                written[k] = r
            }
        }
        do {
            var inference = spec
            inference.dropout = 0
            let (runConfig, run) = try PEFTAdapter.withSavedModules(stack.adapters, config: config, weights: ModelWeights(parameters: parameters))
            let unmerged = try makeLanguageModel(config: runConfig, parameters: run.parameters.merging(tensors) { a, _ in a }, lora: inference)
            let mergedModel = try makeLanguageModel(config: result.config, parameters: written)
            let tokenizerFolder = FileManager.default.fileExists(atPath: modelPath + "/tokenizer.json") ? modelPath : nil
            result.receipt.probe = try MergeProbe.compare(unmerged: unmerged, merged: mergedModel,
                                                          sequences: MergeProbe.sequences(config: config, tokenizerFolder: tokenizerFolder))
        } catch { throw ModelFormatError(file: names, "probe: \(error)") }
        return result
    }
}

// MARK: - Receipt

/// What a merge changed, tensor by tensor: the evidence that the adapter is in the merged weights.
public struct MergeReceipt: Sendable {
    public static let fileName = "merge_receipt.json"

    public struct Entry: Sendable, Equatable {
        /// The merged parameter (Whittle name).
        public var name: String
        /// The base parameter it was computed from: `name` itself, or the embedding matrix for an untied lm_head.
        public var base: String
        /// max |merged − base| over the tensor, in fp32.
        public var maxAbsChange: Double
        /// Frobenius norm of the adapter delta `scale · B·A`.
        public var deltaNorm: Double
        /// Frobenius norm of the base weight (for scale).
        public var baseNorm: Double
        /// A trained copy the adapter saved (`modules_to_save`) put in place of the base tensor, rather than a LoRA
        /// delta added to it; `deltaNorm` is then ‖copy − base‖.
        public var savedModule: Bool = false
        /// max |round(merged) − round(base)| in the written dtype (nil until written).
        public var writtenMaxAbsChange: Double? = nil
        /// How far the change a reader of the written file sees, `round(merged) − round(base)`, is from the fp32
        /// change `merged − base`: ‖difference‖ / ‖merged − base‖ (Frobenius; nil until written). 0 for f32; near or
        /// above 1 when rounding to a 16-bit type swamps the adapter (small deltas on large weights).
        public var writtenDeltaError: Double? = nil
    }

    /// The merged model as written against base + adapter run *unmerged* on probe sequences (`MergeProbe`).
    public struct ProbeComparison: Sendable, Equatable {
        public var sequences: Int
        public var tokens: Int
        /// Mean and largest per-position KL(unmerged ‖ merged) of the next-token distributions, in nats.
        public var meanKL: Double, maxKL: Double
        public var perplexityMerged: Double, perplexityUnmerged: Double
        public init(sequences: Int, tokens: Int, meanKL: Double, maxKL: Double, perplexityMerged: Double, perplexityUnmerged: Double) {
            self.sequences = sequences; self.tokens = tokens; self.meanKL = meanKL; self.maxKL = maxKL
            self.perplexityMerged = perplexityMerged; self.perplexityUnmerged = perplexityUnmerged
        }
    }

    public var rank: Int
    public var alpha: Double
    public var useRSLoRA: Bool
    /// The effective scale applied (alpha/r, or alpha/√r with rsLoRA).
    public var scale: Double
    /// One entry per merged tensor, in parameter order.
    public var entries: [Entry]
    /// Base parameters carried over unchanged.
    public var unchangedTensors: Int
    /// lm_head was tied to the embeddings and is now its own (merged) matrix.
    public var untiedLMHead: Bool
    /// The dtype the merged weights were written in (nil until written).
    public var outputDType: SafetensorsWriter.DType? = nil
    public var baseModel: String? = nil
    public var adapter: String? = nil
    public var probe: ProbeComparison? = nil

    /// Records, per tensor, what is left of the change after rounding merged and base weights to `dtype`.
    public mutating func recordOutput(dtype: SafetensorsWriter.DType, base: [String: Tensor], merged: [String: Tensor]) {
        outputDType = dtype
        for i in entries.indices {
            guard let m = merged[entries[i].name], let b = base[entries[i].base], m.count == b.count else { continue }
            let (worst, error) = m.withUnsafeBufferPointer { mp in
                b.withUnsafeBufferPointer { bp in
                    var worst = 0.0, errorSquares = 0.0, changeSquares = 0.0
                    for j in 0..<mp.count {
                        let written = Double(dtype.rounded(mp[j])) - Double(dtype.rounded(bp[j]))
                        let change = Double(mp[j]) - Double(bp[j])
                        worst = max(worst, abs(written))
                        errorSquares += (written - change) * (written - change)
                        changeSquares += change * change
                    }
                    return (worst, changeSquares > 0 ? (errorSquares / changeSquares).squareRoot() : 0)
                }
            }
            entries[i].writtenMaxAbsChange = worst
            entries[i].writtenDeltaError = error
        }
    }

    /// Tensors whose change, as written, is off by more than half its size (`writtenDeltaError` > 0.5).
    public var distorted: [Entry] { entries.filter { ($0.writtenDeltaError ?? 0) > 0.5 } }

    /// A few lines for a terminal: what was merged, at which scale, the largest and smallest changes, and warnings.
    public var summary: String {
        var lines: [String] = []
        let scaleText = useRSLoRA ? "alpha/√r = \(fmt(alpha))/√\(rank)" : "alpha/r = \(fmt(alpha))/\(rank)"
        let saved = entries.filter(\.savedModule).count
        lines.append("merged \(entries.count - saved) LoRA deltas (r \(rank), scale \(fmt(scale)) = \(scaleText))"
                     + (saved > 0 ? " and \(saved) saved module tensor\(saved == 1 ? "" : "s") (modules_to_save)" : "")
                     + "; \(unchangedTensors) tensors unchanged" + (outputDType.map { "; written as \($0.torchName)" } ?? ""))
        if untiedLMHead {
            lines.append("lm_head was tied to the embeddings: written as its own matrix (embeddings + delta, or the adapter's saved copy), "
                         + "tie_word_embeddings false")
        }
        let byChange = entries.sorted { $0.maxAbsChange > $1.maxAbsChange }
        if let big = byChange.first, let small = byChange.last {
            lines.append("largest change  max|Δ| \(fmt(big.maxAbsChange)) in \(big.name) (‖ΔW‖ \(fmt(big.deltaNorm)), ‖W‖ \(fmt(big.baseNorm)))")
            lines.append("smallest change max|Δ| \(fmt(small.maxAbsChange)) in \(small.name) (‖ΔW‖ \(fmt(small.deltaNorm)), ‖W‖ \(fmt(small.baseNorm)))")
        }
        if let dtype = outputDType, dtype != .F32 {
            let d = distorted
            let worst = entries.compactMap(\.writtenDeltaError).max() ?? 0
            if d.isEmpty {
                lines.append("rounding to \(dtype.torchName) keeps every delta (largest relative error of a written delta \(fmt(worst)))")
            } else {
                lines.append("warning: rounding to \(dtype.torchName) distorts the delta of \(d.count) tensor(s) by more than 50%: "
                             + d.prefix(5).map(\.name).joined(separator: ", ") + (d.count > 5 ? ", …" : "") + " — write f32 to keep them")
            }
        }
        lines.append(probe.map { "probe: \($0.sequences) sequences, mean KL \(fmt($0.meanKL)), max KL \(fmt($0.maxKL)), perplexity merged \(fmt($0.perplexityMerged)) vs unmerged \(fmt($0.perplexityUnmerged))" }
                     ?? "probe (KL / perplexity of merged vs base + adapter): not run")
        return lines.joined(separator: "\n")
    }

    /// `merge_receipt.json`: the numbers above, every tensor, and the probe (null with a note until it exists).
    public func json() -> String {
        func d(_ x: Double) -> JSONValue { x.isFinite ? .double(x) : .string(x.isNaN ? "NaN" : (x > 0 ? "Infinity" : "-Infinity")) }
        var top: [(key: String, value: JSONValue)] = [
            ("base_model", baseModel.map(JSONValue.string) ?? .null),
            ("adapter", adapter.map(JSONValue.string) ?? .null),
            ("r", .integer(rank)), ("lora_alpha", d(alpha)), ("use_rslora", .bool(useRSLoRA)), ("scale", d(scale)),
            ("dtype", outputDType.map { .string($0.torchName) } ?? .null),
            ("untied_lm_head", .bool(untiedLMHead)),
            ("merged_tensors", .integer(entries.count)), ("unchanged_tensors", .integer(unchangedTensors)),
        ]
        top.append(("tensors", .array(entries.map { e in
            var o: [(key: String, value: JSONValue)] = [("name", .string(e.name)), ("base", .string(e.base)),
                                                        ("max_abs_change", d(e.maxAbsChange)), ("delta_norm", d(e.deltaNorm)),
                                                        ("base_norm", d(e.baseNorm)),
                                                        ("kind", .string(e.savedModule ? "modules_to_save" : "lora_delta"))]
            o.append(("written_max_abs_change", e.writtenMaxAbsChange.map(d) ?? .null))
            o.append(("written_delta_relative_error", e.writtenDeltaError.map(d) ?? .null))
            return .object(o)
        })))
        if let p = probe {
            top.append(("probe", .object([("sequences", .integer(p.sequences)), ("tokens", .integer(p.tokens)),
                                          ("mean_kl", d(p.meanKL)), ("max_kl", d(p.maxKL)),
                                          ("perplexity_merged", d(p.perplexityMerged)), ("perplexity_unmerged", d(p.perplexityUnmerged))])))
        } else {
            top.append(("probe", .null))
            top.append(("probe_note", .string("KL / perplexity of merged vs base + adapter not run")))
        }
        return JSONValue.object(top).serialized(indent: 2) + "\n"
    }

    private func fmt(_ x: Double) -> String {
        if x == 0 { return "0" }
        if abs(x) >= 1e-3 && abs(x) < 1e5 { return String(format: "%.4g", x) }
        return String(format: "%.3e", x)
    }
}
