import Testing
import Tensors
import TrainingData

/// Deterministic examples of varied lengths; token ids encode (example, position) so tests can trace them.
func makeExamples(_ count: Int, maxLen: Int = 9, seed: UInt64 = 1) -> [TokenizedExample] {
    var rng = RandomGenerator(seed: seed)
    return (0..<count).map { e in
        let n = 2 + Int(rng.next() % UInt64(maxLen - 1))
        let tokens = (0..<n).map { Int32(1000 * (e + 1) + $0) }
        // A prompt of random length is masked; the rest is trained.
        let promptLength = 1 + Int(rng.next() % UInt64(n - 1))
        return TokenizedExample(tokens: tokens, trained: (0..<n).map { $0 >= promptLength }, file: "f.jsonl", line: e + 1)
    }
}

@Suite struct BatchingTests {
    /// Every trained token of every example is the target of exactly one position, whose input is its
    /// predecessor in the same document; nothing crosses a document; positions restart; attention stays inside.
    func checkInvariants(_ batches: [TokenBatch], _ examples: [TokenizedExample], padID: Int32) {
        var expected: [Int32: Int32] = [:]   // target token → its predecessor
        for e in examples { for k in 1..<e.tokens.count where e.trained[k] { expected[e.tokens[k]] = e.tokens[k - 1] } }
        var seen: [Int32: Int] = [:]
        var supervised = 0
        for b in batches {
            supervised += b.supervisedTokens
            #expect(b.targets.filter { $0 != TokenBatch.ignore }.count == b.supervisedTokens)
            for row in 0..<b.batchSize {
                for t in 0..<b.length {
                    let p = row * b.length + t
                    let start = Int(b.segmentStarts[p])
                    #expect(start <= t && Int(b.positions[p]) == t - start, "row \(row) pos \(t): start \(start) position \(b.positions[p])")
                    if b.targets[p] != TokenBatch.ignore {
                        let target = b.targets[p]
                        seen[target, default: 0] += 1
                        #expect(expected[target] == b.inputs[p], "target \(target) predicted from \(b.inputs[p])")
                        // Same document: token ids share the example prefix (1000·(e+1)).
                        #expect(target / 1000 == b.inputs[p] / 1000, "target \(target) crosses a document boundary")
                        #expect(b.inputs[Int(b.segmentStarts[p]) + row * b.length] / 1000 == target / 1000)
                    }
                    if b.inputs[p] == padID { #expect(b.targets[p] == TokenBatch.ignore) }
                }
            }
        }
        #expect(seen.count == expected.count && seen.values.allSatisfy { $0 == 1 }, "every supervised token exactly once per epoch")
        #expect(supervised == examples.reduce(0) { $0 + $1.supervisedCount })
    }

    func epoch(_ stream: inout BatchStream) -> [TokenBatch] {
        let e = stream.cursor.epoch
        var out: [TokenBatch] = []
        while stream.cursor.epoch == e { out.append(stream.next()) }
        return out
    }

    @Test(arguments: [SequenceLayout.pad, .pack])
    func oneEpochCoversEverythingWithoutContamination(_ layout: SequenceLayout) {
        let examples = makeExamples(57)
        var stream = BatchStream(examples: examples, batchSize: 4, maxLength: 16, layout: layout, padID: 0, seed: 3)
        let batches = epoch(&stream)
        checkInvariants(batches, examples, padID: 0)
        if layout == .pack { #expect(batches.allSatisfy { $0.length == 16 }) }
        #expect(stream.cursor == DataCursor(epoch: 1, offset: 0))
    }

    /// Stopping after k batches and resuming from the saved cursor gives the same batches as running on.
    @Test(arguments: [SequenceLayout.pad, .pack])
    func resumeFromCursorIsExact(_ layout: SequenceLayout) {
        let examples = makeExamples(40)
        var full = BatchStream(examples: examples, batchSize: 3, maxLength: 20, layout: layout, padID: 0, seed: 9)
        let reference = (0..<30).map { _ in full.next() }   // crosses epoch boundaries
        for k in [1, 7, 13, 29] {
            var first = BatchStream(examples: examples, batchSize: 3, maxLength: 20, layout: layout, padID: 0, seed: 9)
            for _ in 0..<k { _ = first.next() }
            var resumed = BatchStream(examples: examples, batchSize: 3, maxLength: 20, layout: layout, padID: 0, seed: 9,
                                      cursor: first.cursor)
            #expect((k..<30).map { _ in resumed.next() } == Array(reference[k...]), "resume after \(k) batches")
        }
        // Epochs are reshuffled, deterministically.
        let s = BatchStream(examples: examples, batchSize: 3, maxLength: 20, layout: layout, padID: 0, seed: 9)
        #expect(s.order(epoch: 0) != s.order(epoch: 1) && s.order(epoch: 0).sorted() == Array(examples.indices))
    }

    /// pad == eos (SmolLM2 and many others) never masks a real EOS: padding is known by position, not by id.
    @Test func padEqualToEOSKeepsEOSTrained() throws {
        let eos: Int32 = 7
        let a = TokenizedExample(tokens: [1, 20, 21, eos], trained: [false, false, true, true], file: "p.jsonl", line: 1)
        let b = TokenizedExample(tokens: [1, 30, 31, 32, 33, 34, eos], trained: [false, false, false, true, true, true, true], file: "p.jsonl", line: 2)
        for layout in [SequenceLayout.pad, .pack] {
            var stream = BatchStream(examples: [a, b], batchSize: 2, maxLength: 12, layout: layout, padID: eos, seed: 0, shuffle: false)
            let batch = stream.next()
            // Both EOS tokens are targets (from the token before them), whatever the padding looks like.
            let eosTargets = batch.targets.filter { $0 == eos }.count
            #expect(eosTargets == 2, "\(layout): \(eosTargets) EOS targets")
            #expect(batch.supervisedTokens == a.supervisedCount + b.supervisedCount)
        }
    }

    @Test func truncationPoliciesAndFailClosed() throws {
        let e = TokenizedExample(tokens: [1, 2, 3, 4, 5, 6], trained: [false, false, false, false, true, true], file: "d.jsonl", line: 7)
        let end = try SequencePreparation.prepare([e], maxLength: 4, truncation: .keepEnd)
        #expect(end.examples[0].tokens == [3, 4, 5, 6] && end.summary.truncated == 1)
        // Keeping the start removes every supervised token: an error naming the place …
        #expect { try SequencePreparation.prepare([e], maxLength: 4, truncation: .keepStart) } throws: { error in
            (error as? DataError).map { $0.line == 7 && $0.description.contains("d.jsonl:7") && $0.message.contains("removes every supervised") } ?? false
        }
        // … or, when the recipe says so, dropped and counted.
        let dropped = try SequencePreparation.prepare([e], maxLength: 4, truncation: .keepStart, unusable: .dropAndCount)
        #expect(dropped.examples.isEmpty && dropped.summary.droppedUnsupervised == 1)
        #expect(throws: DataError.self) { try SequencePreparation.prepare([e], maxLength: 4, truncation: .drop) }
        let none = TokenizedExample(tokens: [1, 2, 3], trained: [true, false, false], file: "d.jsonl", line: 9)
        #expect { try SequencePreparation.prepare([none], maxLength: 8, truncation: .keepEnd) } throws: { error in
            (error as? DataError)?.line == 9
        }
    }

    @Test func splitsAreDisjointCompleteAndSeeded() {
        let items = Array(0..<1003)
        let a = DataSplit.byRatio(items, valid: 0.1, test: 0.05, seed: 4)
        let b = DataSplit.byRatio(items, valid: 0.1, test: 0.05, seed: 4)
        #expect(a.train == b.train && a.valid == b.valid && a.test == b.test)
        #expect(Set(a.train + a.valid + a.test) == Set(items) && a.train.count + a.valid.count + a.test.count == items.count)
        #expect(a.valid.count == 100 && a.test.count == 50)
        #expect(DataSplit.byRatio(items, valid: 0.1, test: 0.05, seed: 5).valid != a.valid)
    }
}
