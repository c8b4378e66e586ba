import Tensors

/// B rows of T positions for training or scoring, as plain arrays (Models never sees the data pipeline).
///
/// - `inputs[b·T + t]`: the token read at position t.
/// - `targets[b·T + t]`: the token to predict from position t, or −1 for no loss.
/// - `positions[b·T + t]`: the position id (restarting at 0 for every packed document).
/// - `segmentStarts[b·T + t]`: the first position of t's document in its row; attention is causal and block-diagonal.
public struct SequenceBatch: Sendable, Equatable {
    public var batch: Int
    public var length: Int
    public var inputs: [Int32]
    public var targets: [Int32]
    public var positions: [Int32]
    public var segmentStarts: [Int32]

    public init(batch: Int, length: Int, inputs: [Int32], targets: [Int32], positions: [Int32], segmentStarts: [Int32]) {
        self.batch = batch
        self.length = length
        self.inputs = inputs
        self.targets = targets
        self.positions = positions
        self.segmentStarts = segmentStarts
    }

    /// One unpacked row per sequence: targets are the next tokens (the last position predicts nothing), positions
    /// 0..<T, one document per row.
    public init(rows: [[Int]]) {
        precondition(!rows.isEmpty && rows.allSatisfy { $0.count == rows[0].count && !$0.isEmpty }, "rows of one length")
        batch = rows.count
        length = rows[0].count
        inputs = rows.flatMap { $0.map(Int32.init) }
        targets = rows.flatMap { r in r.dropFirst().map(Int32.init) + [-1] }
        positions = rows.flatMap { r in r.indices.map(Int32.init) }
        segmentStarts = [Int32](repeating: 0, count: inputs.count)
    }

    /// Targets that count in the loss (≠ −1).
    public var supervisedCount: Int { targets.lazy.filter { $0 >= 0 }.count }
}

/// Loss and its gradient for a model that can be trained. Gradients go to the parameters named in `gradients`
/// (and only those: frozen weights get no buffer and no weight-gradient product).
public protocol TrainableModel: LanguageModel {
    /// Σ cross-entropy over targets ≠ −1 (Double) and their count, without gradients.
    func loss(_ batch: SequenceBatch) throws(ModelError) -> (sum: Double, count: Int)

    /// Forward and backward: adds ∂(gradScale · Σ CE)/∂θ into `gradients[name]` for every name present, and returns
    /// Σ CE and the count. `gradScale` is 1 / (supervised tokens of the whole optimizer step), so accumulated
    /// micro-batches give the token-weighted mean. Adapter dropout masks come from `dropoutRNG`.
    ///
    /// `finished` is called during backward with names whose gradients are complete: no later part of
    /// backward adds to them, and no later part reads those parameters. The caller may then update the parameters
    /// (in place, even though this model shares their storage) and take, reuse or replace those buffers in
    /// `gradients` (the optimizer in backward). A name is passed at most once; names never passed are complete when
    /// the call returns.
    func lossAndGradients(_ batch: SequenceBatch, gradScale: Float, into gradients: inout [String: Tensor],
                          dropoutRNG: inout RandomGenerator, finished: GradientsFinished) throws(ModelError) -> (sum: Double, count: Int)
}

/// See `TrainableModel.lossAndGradients`: names whose gradients backward has completed, and the gradient buffers.
public typealias GradientsFinished = (_ names: [String], _ gradients: inout [String: Tensor]) -> Void

extension TrainableModel {
    /// Forward and backward with every gradient complete only when the call returns.
    public func lossAndGradients(_ batch: SequenceBatch, gradScale: Float, into gradients: inout [String: Tensor],
                                 dropoutRNG: inout RandomGenerator) throws(ModelError) -> (sum: Double, count: Int) {
        try lossAndGradients(batch, gradScale: gradScale, into: &gradients, dropoutRNG: &dropoutRNG) { _, _ in }
    }
}

extension SequenceBatch {
    /// Checks user-supplied ids, positions and document starts before they reach layer preconditions.
    func validate(config: ModelConfig) throws(ModelError) {
        let n = batch * length
        guard batch > 0, length > 0, inputs.count == n, targets.count == n, positions.count == n, segmentStarts.count == n else {
            throw ModelError("a batch of \(batch)×\(length) needs \(n) inputs, targets, positions and segment starts; got "
                             + "\(inputs.count), \(targets.count), \(positions.count), \(segmentStarts.count)")
        }
        let v = Int32(config.vocabSize)
        if let i = inputs.firstIndex(where: { $0 < 0 || $0 >= v }) {
            throw ModelError("token id \(inputs[i]) at index \(i) is outside the vocabulary 0..<\(v)")
        }
        if let i = targets.firstIndex(where: { $0 < -1 || $0 >= v }) {
            throw ModelError("target id \(targets[i]) at index \(i) is outside the vocabulary 0..<\(v) (−1 = ignored)")
        }
        if let i = positions.firstIndex(where: { $0 < 0 || Int($0) >= config.contextLength }) {
            throw ModelError("position \(positions[i]) at index \(i) is outside the context length \(config.contextLength)")
        }
        for i in 0..<n {
            let t = Int32(i % length), s = segmentStarts[i]
            if s < 0 || s > t { throw ModelError("segment start \(s) at index \(i) is not within 0...\(t)") }
        }
    }
}
