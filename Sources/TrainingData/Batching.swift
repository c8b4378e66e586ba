import Tensors

/// How examples become rows.
public enum SequenceLayout: String, Sendable, Codable {
    /// One example per row, padded to the batch's longest example.
    case pad
    /// Several examples per row (first fit, in order), each attending only to itself, positions restarting.
    case pack
}

/// Where an epoch-based data stream is: enough to reproduce the exact next batch after a resume.
public struct DataCursor: Sendable, Codable, Equatable {
    public var epoch = 0
    /// Examples of this epoch's order already consumed.
    public var offset = 0
    public init(epoch: Int = 0, offset: Int = 0) { self.epoch = epoch; self.offset = offset }
}

/// Turns prepared examples into batches, epoch after epoch, in a seeded order that depends only on
/// (seed, epoch), so a run resumed from a saved `DataCursor` sees exactly the batches it would have seen.
public struct BatchStream: Sendable {
    public let examples: [TokenizedExample]
    public let batchSize: Int
    public let maxLength: Int
    public let layout: SequenceLayout
    public let padID: Int32
    public let seed: UInt64
    public let shuffle: Bool
    public var cursor: DataCursor

    public init(examples: [TokenizedExample], batchSize: Int, maxLength: Int, layout: SequenceLayout, padID: Int32,
                seed: UInt64, shuffle: Bool = true, cursor: DataCursor = DataCursor()) {
        precondition(batchSize >= 1 && maxLength >= 2, "batch size ≥ 1 and max length ≥ 2")
        precondition(examples.allSatisfy { $0.tokens.count <= maxLength }, "prepare examples (truncate) before batching")
        precondition(!examples.isEmpty, "no examples to batch")
        self.examples = examples
        self.batchSize = batchSize
        self.maxLength = maxLength
        self.layout = layout
        self.padID = padID
        self.seed = seed
        self.shuffle = shuffle
        self.cursor = cursor
    }

    /// The order of example indices in `epoch` (Fisher–Yates with a generator seeded by seed and epoch).
    public func order(epoch: Int) -> [Int] {
        var indices = Array(examples.indices)
        guard shuffle else { return indices }
        var rng = RandomGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1))
        for i in stride(from: indices.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            indices.swapAt(i, j)
        }
        return indices
    }

    /// The next batch; an epoch's last batch may be smaller. The cursor moves to the next epoch at its end.
    public mutating func next() -> TokenBatch {
        let order = order(epoch: cursor.epoch)
        var rows: [[TokenizedExample]] = []
        var i = cursor.offset
        switch layout {
        case .pad:
            while rows.count < batchSize && i < order.count { rows.append([examples[order[i]]]); i += 1 }
        case .pack:
            var row: [TokenizedExample] = [], used = 0
            while i < order.count {
                let e = examples[order[i]]
                if used + e.tokens.count > maxLength {
                    rows.append(row)
                    row = []
                    used = 0
                    if rows.count == batchSize { break }
                }
                row.append(e)
                used += e.tokens.count
                i += 1
            }
            if !row.isEmpty && rows.count < batchSize { rows.append(row) }
        }
        cursor.offset = i
        if i >= order.count { cursor = DataCursor(epoch: cursor.epoch + 1, offset: 0) }
        let length = layout == .pad ? rows.map { $0[0].tokens.count }.max()! : maxLength
        return Self.assemble(rows, length: length, padID: padID)
    }

    /// Lays rows of documents into a batch: inputs, shifted targets (−1 at document ends, padding and masked
    /// tokens), positions restarting per document, and segment starts for block-diagonal attention.
    public static func assemble(_ rows: [[TokenizedExample]], length T: Int, padID: Int32) -> TokenBatch {
        let B = rows.count
        var inputs = [Int32](repeating: padID, count: B * T)
        var targets = [Int32](repeating: TokenBatch.ignore, count: B * T)
        var positions = [Int32](repeating: 0, count: B * T)
        var starts = [Int32](repeating: 0, count: B * T)
        var supervised = 0
        var sources: [String] = []
        for (b, docs) in rows.enumerated() {
            var at = 0
            for d in docs {
                precondition(at + d.tokens.count <= T, "row \(b) overflows length \(T)")
                sources.append(d.place)
                for (k, token) in d.tokens.enumerated() {
                    let p = b * T + at + k
                    inputs[p] = token
                    positions[p] = Int32(k)
                    starts[p] = Int32(at)
                    if k + 1 < d.tokens.count && d.trained[k + 1] {
                        targets[p] = d.tokens[k + 1]
                        supervised += 1
                    }
                }
                at += d.tokens.count
            }
            // Padding: each pad position is its own segment (attends to itself only) with no target.
            for t in at..<T {
                positions[b * T + t] = 0
                starts[b * T + t] = Int32(t)
            }
        }
        return TokenBatch(batchSize: B, length: T, inputs: inputs, targets: targets, positions: positions,
                          segmentStarts: starts, supervisedTokens: supervised, sources: sources)
    }
}

/// Train / validation / test splits.
public enum DataSplit {
    /// Splits by ratio after a seeded shuffle: the first `valid` fraction is validation, the next `test`
    /// fraction is test, the rest train. Deterministic for a seed; every example lands in exactly one split.
    public static func byRatio<T>(_ items: [T], valid: Double, test: Double, seed: UInt64) -> (train: [T], valid: [T], test: [T]) {
        precondition(valid >= 0 && test >= 0 && valid + test < 1, "split ratios must be ≥ 0 and leave some training data")
        var indices = Array(items.indices)
        var rng = RandomGenerator(seed: seed)
        for i in stride(from: indices.count - 1, to: 0, by: -1) {
            indices.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        let nValid = Int((Double(items.count) * valid).rounded()), nTest = Int((Double(items.count) * test).rounded())
        let v = indices[0..<nValid].sorted().map { items[$0] }
        let t = indices[nValid..<(nValid + nTest)].sorted().map { items[$0] }
        let tr = indices[(nValid + nTest)...].sorted().map { items[$0] }
        return (tr, v, t)
    }
}
