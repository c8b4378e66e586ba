import Layers
import Tensors

/// Training for GPT-2: the forward keeps every layer's `Saved` value; the backward calls the layers in exactly the
/// reverse order. The two LayerNorms' outputs are recomputed in backward from their saved inputs (same bits), not kept. Packed rows use the batch's positions (learned position embeddings restart per document) and
/// segment starts (block-diagonal causal attention).
extension GPT2Model: TrainableModel {
    struct BlockSaved {
        let ln1: LayerNorm.Saved
        let attn: Linear.Saved
        let attention: CausalAttention.TrainingSaved
        let proj: Linear.Saved
        let ln2: LayerNorm.Saved
        let mlp: GELUMLP.Saved
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
        let h = config.numHeads, d = config.headDim, c = config.hiddenSize
        let scale = 1 / Float(d).squareRoot()
        let pre = "transformer."
        func lin(_ l: Linear, _ x: Tensor) -> (Tensor, Linear.Saved) {
            backward ? l.forward(x, dropoutRNG: &rng) : l.forward(x)
        }
        /// Hands complete gradients to `finished` (see `TrainableModel.lossAndGradients`).
        func done(_ names: [String]) {
            let present = names.filter { g[$0] != nil }
            if !present.isEmpty { finished(present, &g) }
        }
        let wteName = pre + "wte.weight", wpeName = pre + "wpe.weight"
        let embedTrains = g[wteName] != nil || g[wpeName] != nil
        let lowest = embedTrains ? 0 : (0..<blocks.count).first { i in g.keys.contains { $0.hasPrefix(pre + "h.\(i).") } }
        let keepFrom = backward ? (lowest ?? blocks.count) : blocks.count

        // MARK: forward
        let (tokens, wteSaved) = wte.forward(batch.inputs.map(Int.init))
        let (pos, wpeSaved) = wpe.forward(batch.positions.map(Int.init))
        var x = tokens
        x.addScaled(pos)
        var saved: [BlockSaved?] = []
        saved.reserveCapacity(blocks.count)
        for (i, block) in blocks.enumerated() {
            let (hn, s1) = block.ln1.forward(x)
            let (qkv, sAttn) = lin(block.attn, hn)
            // c_attn's output columns are q | k | v, each C wide and head-major.
            let q = Self.columns(qkv, from: 0, width: c).reshaped([b, t, h, d])
            let k = Self.columns(qkv, from: c, width: c).reshaped([b, t, h, d])
            let v = Self.columns(qkv, from: 2 * c, width: c).reshaped([b, t, h, d])
            let (a, sa) = CausalAttention.forward(queries: q, keys: k, values: v, scale: scale, segmentStarts: batch.segmentStarts)
            let (o, sProj) = lin(block.proj, a.reshaped([n, c]))
            x.addScaled(o)
            let (hm, s2) = block.ln2.forward(x)
            let (m, sm) = backward ? block.mlp.forward(hm, dropoutRNG: &rng) : block.mlp.forward(hm)
            x.addScaled(m)
            saved.append(i < keepFrom ? nil : BlockSaved(ln1: s1, attn: sAttn.droppingInput(), attention: sa, proj: sProj, ln2: s2,
                                                         mlp: sm.droppingInput()))
        }
        let (xn, lnFSaved) = lnF.forward(x)
        let headName = config.tieWordEmbeddings ? pre + "wte" : "lm_head"
        let (lossSum, count, dxn) = headLoss(xn, targets: batch.targets, head: lmHead, weightName: headName + ".weight",
                                             loraName: "lm_head", gradScale: gradScale, gradients: &g, rng: &rng,
                                             backward: backward)
        guard backward, let dxn else { return (lossSum, count) }
        done(linearNames("lm_head"))   // a tied head adds into the embedding, which is complete only at the end

        // MARK: backward (reverse order)
        var lnFGrads = LayerNorm.Gradients(weight: g.removeValue(forKey: pre + "ln_f.weight"), bias: g.removeValue(forKey: pre + "ln_f.bias"))
        var dx = lnF.backward(dxn, saved: lnFSaved, into: &lnFGrads)
        put(&lnFGrads.weight, pre + "ln_f.weight", &g); put(&lnFGrads.bias, pre + "ln_f.bias", &g)
        done([pre + "ln_f.weight", pre + "ln_f.bias"])
        guard let lowest else { return (lossSum, count) }
        for i in stride(from: blocks.count - 1, through: lowest, by: -1) {
            let block = blocks[i], s = saved[i]!, p = pre + "h.\(i)."
            saved[i] = nil   // this block's activations are freed as soon as its backward ends
            let needsInput = i > lowest || embedTrains
            // x += mlp(ln_2(x))
            var mlpGrads = GELUMLP.Gradients(fc: take(p + "mlp.c_fc", &g), proj: take(p + "mlp.c_proj", &g))
            let (hm, _) = block.ln2.forward(s.ln2.input)
            let dhm = block.mlp.backward(dx, saved: s.mlp.with(input: hm), into: &mlpGrads)!
            put(&mlpGrads.fc, p + "mlp.c_fc", &g); put(&mlpGrads.proj, p + "mlp.c_proj", &g)
            done(linearNames(p + "mlp.c_fc") + linearNames(p + "mlp.c_proj"))
            var ln2Grads = LayerNorm.Gradients(weight: g.removeValue(forKey: p + "ln_2.weight"), bias: g.removeValue(forKey: p + "ln_2.bias"))
            dx.addScaled(block.ln2.backward(dhm, saved: s.ln2, into: &ln2Grads))
            put(&ln2Grads.weight, p + "ln_2.weight", &g); put(&ln2Grads.bias, p + "ln_2.bias", &g)
            done([p + "ln_2.weight", p + "ln_2.bias"])
            // x += c_proj(attention(split(c_attn(ln_1(x)))))
            var projGrads = take(p + "attn.c_proj", &g)
            let da = block.proj.backward(dx, saved: s.proj, into: &projGrads)!
            put(&projGrads, p + "attn.c_proj", &g)
            done(linearNames(p + "attn.c_proj"))
            let (dq, dk, dv) = CausalAttention.backward(da.reshaped([b, t, c]), saved: s.attention, scale: scale)
            let dqkv = Self.concatenateColumns([dq.reshaped([n, c]), dk.reshaped([n, c]), dv.reshaped([n, c])])
            let ln1Trains = g[p + "ln_1.weight"] != nil || g[p + "ln_1.bias"] != nil
            let wantHidden = needsInput || ln1Trains
            var attnGrads = take(p + "attn.c_attn", &g)
            let (hn, _) = block.ln1.forward(s.ln1.input)
            let dhn = block.attn.backward(dqkv, saved: s.attn.with(input: hn), into: &attnGrads, needsInputGradient: wantHidden)
            put(&attnGrads, p + "attn.c_attn", &g)
            done(linearNames(p + "attn.c_attn"))
            if wantHidden, let dhn {
                var ln1Grads = LayerNorm.Gradients(weight: g.removeValue(forKey: p + "ln_1.weight"), bias: g.removeValue(forKey: p + "ln_1.bias"))
                let dIn = block.ln1.backward(dhn, saved: s.ln1, into: &ln1Grads)
                put(&ln1Grads.weight, p + "ln_1.weight", &g); put(&ln1Grads.bias, p + "ln_1.bias", &g)
                done([p + "ln_1.weight", p + "ln_1.bias"])
                if needsInput { dx.addScaled(dIn) }
            }
        }
        if var w = g.removeValue(forKey: wteName) {
            wte.backward(dx, saved: wteSaved, into: &w)
            g[wteName] = consume w
        }
        if var w = g.removeValue(forKey: wpeName) {
            wpe.backward(dx, saved: wpeSaved, into: &w)
            g[wpeName] = consume w
        }
        return (lossSum, count)
    }

    /// [N, W₁] | [N, W₂] | … → [N, ΣW]: the inverse of `columns`.
    static func concatenateColumns(_ parts: [Tensor]) -> Tensor {
        let n = parts[0].matrixShape.rows
        let widths = parts.map { $0.matrixShape.cols }, total = widths.reduce(0, +)
        var out = Tensor(zeros: [n, total])
        out.withUnsafeMutableBufferPointer { o in
            var at = 0
            for (part, w) in zip(parts, widths) {
                part.withUnsafeBufferPointer { src in
                    for r in 0..<n { (o.baseAddress! + r * total + at).update(from: src.baseAddress! + r * w, count: w) }
                }
                at += w
            }
        }
        return out
    }
}
