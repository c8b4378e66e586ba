import Layers
import Tensors

/// Training for Llama-family models: a forward that keeps every layer's `Saved` value, then a backward that calls
/// the layers in exactly the reverse order (architecture.md §4.1). The two norms' outputs (the inputs of q/k/v and of
/// the MLP) are not kept: backward recomputes them from the norms' saved inputs (same bits, a C-wide pass each),
/// which saves 2·C floats per token per layer. Packed rows use the batch's positions (RoPE
/// restarts per document) and segment starts (block-diagonal causal attention).
extension LlamaModel: TrainableModel {
    struct BlockSaved {
        let inputNorm: RMSNorm.Saved
        let q: Linear.Saved, k: Linear.Saved, v: Linear.Saved
        let queryRoPE: RoPE.Saved, keyRoPE: RoPE.Saved
        let attention: CausalAttention.TrainingSaved
        let o: Linear.Saved
        let postNorm: RMSNorm.Saved
        let mlp: SwiGLU.Saved
    }

    public func loss(_ batch: SequenceBatch) throws(ModelError) -> (sum: Double, count: Int) {
        var none: [String: Tensor] = [:]
        var rng = RandomGenerator(seed: 0)
        return try run(batch, gradScale: 0, gradients: &none, dropoutRNG: &rng, backward: false) { _, _ in }
    }

    public func lossAndGradients(_ batch: SequenceBatch, gradScale: Float, into gradients: inout [String: Tensor],
                                 dropoutRNG: inout RandomGenerator, finished: GradientsFinished) throws(ModelError)
        -> (sum: Double, count: Int) {
        try run(batch, gradScale: gradScale, gradients: &gradients, dropoutRNG: &dropoutRNG, backward: true, finished: finished)
    }

    func run(_ batch: SequenceBatch, gradScale: Float, gradients g: inout [String: Tensor],
             dropoutRNG rng: inout RandomGenerator, backward: Bool, finished: GradientsFinished) throws(ModelError)
        -> (sum: Double, count: Int) {
        try batch.validate(config: config)
        if backward && !halfParameters.isEmpty { throw halfTrainingError() }
        try checkGradientNames(g, known: floatParameters)
        let b = batch.batch, t = batch.length, n = b * t
        let h = config.numHeads, kh = config.numKVHeads, d = config.headDim
        let scale = 1 / Float(d).squareRoot()
        let positions = batch.positions.map(Int.init)
        func lin(_ l: Linear, _ x: Tensor) -> (Tensor, Linear.Saved) {
            backward ? l.forward(x, dropoutRNG: &rng) : l.forward(x)
        }
        /// Hands complete gradients to `finished` (see `TrainableModel.lossAndGradients`).
        func done(_ names: [String]) {
            let present = names.filter { g[$0] != nil }
            if !present.isEmpty { finished(present, &g) }
        }

        // Backward stops below the lowest layer that trains anything; layers below it keep no activations.
        let embedName = "model.embed_tokens.weight"
        let embedTrains = g[embedName] != nil
        let lowest = embedTrains ? 0 : (0..<blocks.count).first { i in g.keys.contains { $0.hasPrefix("model.layers.\(i).") } }
        let keepFrom = backward ? (lowest ?? blocks.count) : blocks.count

        // MARK: forward
        let (x0, embedSaved) = embed.forward(batch.inputs.map(Int.init))
        var x = x0
        var saved: [BlockSaved?] = []
        saved.reserveCapacity(blocks.count)
        for (i, block) in blocks.enumerated() {
            let (hn, sIn) = block.inputNorm.forward(x)
            let (q, sq) = lin(block.q, hn)
            let (k, sk) = lin(block.k, hn)
            let (v, sv) = lin(block.v, hn)
            let (qr, sqr) = rope.forward(q.reshaped([n, h, d]), positions: positions)
            let (kr, skr) = rope.forward(k.reshaped([n, kh, d]), positions: positions)
            let (a, sa) = CausalAttention.forward(queries: qr.reshaped([b, t, h, d]), keys: kr.reshaped([b, t, kh, d]),
                                                  values: v.reshaped([b, t, kh, d]), scale: scale,
                                                  segmentStarts: batch.segmentStarts)
            let (o, so) = lin(block.o, a.reshaped([n, h * d]))
            x.addScaled(o)
            let (hm, sPost) = block.postNorm.forward(x)
            let (m, sm) = backward ? block.mlp.forward(hm, dropoutRNG: &rng) : block.mlp.forward(hm)
            x.addScaled(m)
            saved.append(i < keepFrom ? nil : BlockSaved(inputNorm: sIn, q: sq.droppingInput(), k: sk.droppingInput(),
                                                         v: sv.droppingInput(), queryRoPE: sqr, keyRoPE: skr, attention: sa,
                                                         o: so, postNorm: sPost, mlp: sm.droppingInput()))
        }
        let (xn, normSaved) = norm.forward(x)
        let headName = config.tieWordEmbeddings ? "model.embed_tokens" : "lm_head"
        let (lossSum, count, dxn) = headLoss(xn, targets: batch.targets, head: lmHead, weightName: headName + ".weight",
                                             loraName: "lm_head", gradScale: gradScale, gradients: &g, rng: &rng,
                                             backward: backward)
        guard backward, let dxn else { return (lossSum, count) }
        done(linearNames("lm_head"))   // a tied head adds into the embedding, which is complete only at the end

        // MARK: backward (reverse order)
        var normGrads = RMSNorm.Gradients(weight: g.removeValue(forKey: "model.norm.weight"))
        var dx = norm.backward(dxn, saved: normSaved, into: &normGrads)
        put(&normGrads.weight, "model.norm.weight", &g)
        done(["model.norm.weight"])
        guard let lowest else { return (lossSum, count) }
        for i in stride(from: blocks.count - 1, through: lowest, by: -1) {
            let block = blocks[i], s = saved[i]!, p = "model.layers.\(i)."
            saved[i] = nil   // this block's activations are freed as soon as its backward ends
            let needsInput = i > lowest || embedTrains
            // x += mlp(post_norm(x))
            var mlpGrads = SwiGLU.Gradients(gate: take(p + "mlp.gate_proj", &g), up: take(p + "mlp.up_proj", &g),
                                            down: take(p + "mlp.down_proj", &g))
            let (hm, _) = block.postNorm.forward(s.postNorm.input)
            let dhm = block.mlp.backward(dx, saved: s.mlp.with(input: hm), into: &mlpGrads)!
            put(&mlpGrads.gate, p + "mlp.gate_proj", &g); put(&mlpGrads.up, p + "mlp.up_proj", &g)
            put(&mlpGrads.down, p + "mlp.down_proj", &g)
            done(["gate_proj", "up_proj", "down_proj"].flatMap { linearNames(p + "mlp." + $0) })
            var postGrads = RMSNorm.Gradients(weight: g.removeValue(forKey: p + "post_attention_layernorm.weight"))
            dx.addScaled(block.postNorm.backward(dhm, saved: s.postNorm, into: &postGrads))
            put(&postGrads.weight, p + "post_attention_layernorm.weight", &g)
            done([p + "post_attention_layernorm.weight"])
            // x += o_proj(attention(rope(q), rope(k), v)) over input_norm(x)
            var oGrads = take(p + "self_attn.o_proj", &g)
            let da = block.o.backward(dx, saved: s.o, into: &oGrads)!
            put(&oGrads, p + "self_attn.o_proj", &g)
            done(linearNames(p + "self_attn.o_proj"))
            let (dqr, dkr, dv) = CausalAttention.backward(da.reshaped([b, t, h * d]), saved: s.attention, scale: scale)
            let dq = rope.backward(dqr.reshaped([n, h, d]), saved: s.queryRoPE).reshaped([n, h * d])
            let dk = rope.backward(dkr.reshaped([n, kh, d]), saved: s.keyRoPE).reshaped([n, kh * d])
            let inputNormTrains = g[p + "input_layernorm.weight"] != nil
            let wantHidden = needsInput || inputNormTrains
            var qGrads = take(p + "self_attn.q_proj", &g), kGrads = take(p + "self_attn.k_proj", &g)
            var vGrads = take(p + "self_attn.v_proj", &g)
            let (hn, _) = block.inputNorm.forward(s.inputNorm.input)
            let dhq = block.q.backward(dq, saved: s.q.with(input: hn), into: &qGrads, needsInputGradient: wantHidden)
            let dhk = block.k.backward(dk, saved: s.k.with(input: hn), into: &kGrads, needsInputGradient: wantHidden)
            let dhv = block.v.backward(dv.reshaped([n, kh * d]), saved: s.v.with(input: hn), into: &vGrads,
                                       needsInputGradient: wantHidden)
            put(&qGrads, p + "self_attn.q_proj", &g); put(&kGrads, p + "self_attn.k_proj", &g)
            put(&vGrads, p + "self_attn.v_proj", &g)
            done(["q_proj", "k_proj", "v_proj"].flatMap { linearNames(p + "self_attn." + $0) })
            if wantHidden, var dhn = dhq, let dhk, let dhv {
                dhn.addScaled(dhk)
                dhn.addScaled(dhv)
                var inGrads = RMSNorm.Gradients(weight: g.removeValue(forKey: p + "input_layernorm.weight"))
                let dIn = block.inputNorm.backward(dhn, saved: s.inputNorm, into: &inGrads)
                put(&inGrads.weight, p + "input_layernorm.weight", &g)
                done([p + "input_layernorm.weight"])
                if needsInput { dx.addScaled(dIn) }
            }
        }
        if embedTrains {
            var w = g.removeValue(forKey: embedName)!
            embed.backward(dx, saved: embedSaved, into: &w)
            g[embedName] = consume w
            done([embedName])
        }
        return (lossSum, count)
    }
}

// MARK: - Shared by the model families

/// Rows of an [N, C] matrix.
func rows(_ m: Tensor, _ range: Range<Int>) -> Tensor {
    let c = m.shape[m.rank - 1]
    var out = Tensor(zeros: [range.count, c])
    out.withUnsafeMutableBufferPointer { o in
        m.withUnsafeBufferPointer { src in o.baseAddress!.update(from: src.baseAddress! + range.lowerBound * c, count: range.count * c) }
    }
    return out
}

/// Rows of the LM head processed at once: the logits of a chunk ([rows, V]) are the largest activation, so the head
/// and the cross-entropy run chunk by chunk and never hold [N, V]. About 8M logits (32 MB) per chunk: small chunks
/// would re-read and re-write the whole [V, C] weight gradient for every chunk (k = rows in its product).
func headChunkRows(vocabulary v: Int) -> Int { max(64, (8 << 20) / max(v, 1)) }

/// LM head + softmax cross-entropy, chunk by chunk; rows without a target are skipped (no logits, zero gradient).
/// Returns Σ CE, the count and, when `backward`, ∂/∂xn [N, C] with the head's gradients added into `gradients`.
func headLoss(_ xn: Tensor, targets: [Int32], head: Linear, weightName: String, loraName: String, gradScale: Float,
              gradients g: inout [String: Tensor], rng: inout RandomGenerator, backward: Bool)
    -> (sum: Double, count: Int, dInput: Tensor?) {
    let (n, c) = xn.matrixShape
    var dxn = backward ? Tensor(zeros: [n, c]) : nil
    var grads = Linear.Gradients(weight: g.removeValue(forKey: weightName), loraA: g.removeValue(forKey: loraName + ".lora_A.weight"),
                                 loraB: g.removeValue(forKey: loraName + ".lora_B.weight"))
    var sum = 0.0, count = 0
    var start = 0
    while start < n {
        let end = min(n, start + headChunkRows(vocabulary: head.outFeatures))
        defer { start = end }
        let tg = Array(targets[start..<end])
        guard tg.contains(where: { $0 >= 0 }) else { continue }
        let xc = rows(xn, start..<end)
        let (logits, sl) = backward ? head.forward(xc, dropoutRNG: &rng) : head.forward(xc)
        let (s, k, sce) = SoftmaxCrossEntropy.forward(logits: consume logits, targets: tg)
        sum += s
        count += k
        guard backward else { continue }
        let dl = SoftmaxCrossEntropy.backward(saved: consume sce, scale: gradScale)
        let dxc = head.backward(dl, saved: sl, into: &grads)!
        dxn!.withUnsafeMutableBufferPointer { d in
            dxc.withUnsafeBufferPointer { src in (d.baseAddress! + start * c).update(from: src.baseAddress!, count: (end - start) * c) }
        }
    }
    if let w = grads.weight { g[weightName] = w }
    if let a = grads.loraA { g[loraName + ".lora_A.weight"] = a }
    if let b = grads.loraB { g[loraName + ".lora_B.weight"] = b }
    return (sum, count, dxn)
}

/// The gradient buffers of the linear layer `module` (nil where frozen), removed from `g` so they are uniquely
/// referenced while the layer adds into them.
func take(_ module: String, _ g: inout [String: Tensor]) -> Linear.Gradients {
    Linear.Gradients(weight: g.removeValue(forKey: module + ".weight"), bias: g.removeValue(forKey: module + ".bias"),
                     loraA: g.removeValue(forKey: module + ".lora_A.weight"), loraB: g.removeValue(forKey: module + ".lora_B.weight"))
}

/// The parameter names a linear layer `module` may train: weight, bias and its adapter's two matrices.
func linearNames(_ module: String) -> [String] {
    [module + ".weight", module + ".bias", module + ".lora_A.weight", module + ".lora_B.weight"]
}

/// Returns a linear layer's gradient buffers to `g`, leaving `lg` empty: `g` then holds the only reference, so
/// whoever `done` hands them to can reuse them in place (a copy left in the caller's variable, alive to the end
/// of its scope, made each zeroing copy the buffer first: ~0.5 GB of copies per SmolLM2-135M update).
func put(_ lg: inout Linear.Gradients, _ module: String, _ g: inout [String: Tensor]) {
    put(&lg.weight, module + ".weight", &g)
    put(&lg.bias, module + ".bias", &g)
    put(&lg.loraA, module + ".lora_A.weight", &g)
    put(&lg.loraB, module + ".lora_B.weight", &g)
}

/// Moves `t` (if any) into `g[name]`.
func put(_ t: inout Tensor?, _ name: String, _ g: inout [String: Tensor]) {
    guard let x = t else { return }
    t = nil
    g[name] = x
}

/// Every gradient buffer must name a parameter of the model, with its shape.
func checkGradientNames(_ g: [String: Tensor], known: [String: Tensor]) throws(ModelError) {
    for (name, t) in g {
        guard let p = known[name] else { throw ModelError("gradient for unknown parameter \(name)") }
        if p.shape != t.shape { throw ModelError("gradient for \(name) has shape \(t.shape), parameter \(p.shape)") }
    }
}
