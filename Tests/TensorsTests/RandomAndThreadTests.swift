import Foundation
import Synchronization
import Testing
import Tensors
import TestSupport

@Suite struct RandomGeneratorTests {
    /// The raw stream and doubles equal NumPy's PCG64 for the same (state, increment).
    @Test func matchesNumPyPCG64() throws {
        let f = try loadFixture("kernels/pcg64.json")
        for c in f["cases"].array {
            func word(_ key: String) -> UInt64 { UInt64(c[key].string) ?? 0 }
            let state = RandomGenerator.State(stateHigh: word("state_hi"), stateLow: word("state_lo"),
                                              incrementHigh: word("inc_hi"), incrementLow: word("inc_lo"))
            var rng = try #require(RandomGenerator(state: state))
            let raw = c["raw"].array.map { UInt64($0.string) ?? 0 }
            for (i, expected) in raw.enumerated() {
                let got = rng.next()
                #expect(got == expected, "output \(i): \(got), NumPy \(expected)")
            }
            var rng2 = try #require(RandomGenerator(state: state))
            for (i, expected) in c["doubles"].doubles.enumerated() {
                let got = rng2.uniform()
                #expect(got == expected, "double \(i): \(got), NumPy \(expected)")
            }
        }
    }

    @Test func stateRestoresTheStream() throws {
        var a = RandomGenerator(seed: 42)
        for _ in 0..<17 { _ = a.next() }
        let saved = a.state
        let data = try JSONEncoder().encode(saved)
        let expected = (0..<100).map { _ in a.normal() }
        var b = try #require(RandomGenerator(state: try JSONDecoder().decode(RandomGenerator.State.self, from: data)))
        #expect((0..<100).map { _ in b.normal() } == expected)
        var s1 = RandomGenerator(seed: 1), s2 = RandomGenerator(seed: 2)
        #expect(s1.next() != s2.next())
        #expect(RandomGenerator(state: .init(stateHigh: 0, stateLow: 0, incrementHigh: 0, incrementLow: 2)) == nil)
    }

    @Test func distributionsHaveTheRightMoments() {
        var rng = RandomGenerator(seed: 7)
        var t = Tensor(zeros: [200_000])
        rng.fillNormal(&t, mean: 1, std: 2)
        let n = Double(t.count)
        let mean = Double(t.sum()) / n
        let variance = Double(t.sumOfSquares()) / n - mean * mean
        #expect(abs(mean - 1) < 0.02, "normal mean \(mean)")
        #expect(abs(variance.squareRoot() - 2) < 0.02, "normal std \(variance.squareRoot())")
        rng.fillUniform(&t, low: -3, high: 5)
        #expect(t.scalars.allSatisfy { $0 >= -3 && $0 < 5 })
        #expect(abs(Double(t.sum()) / n - 1) < 0.03)
    }

    /// The Kaiming-uniform bound equals PyTorch's `gain·√(3/fan_in)` and the fill stays within it.
    @Test func kaimingUniformMatchesPyTorch() throws {
        let f = try loadFixture("kernels/kaiming.json")
        var rng = RandomGenerator(seed: 3)
        for c in f["cases"].array {
            let fanIn = c["fan_in"].int, a = c["a"].double
            let bound = c["bound"].double
            let ours = RandomGenerator.kaimingUniformBound(fanIn: fanIn, a: a)
            #expect(abs(ours - bound) <= 1e-12 * bound, "fan_in \(fanIn) a \(a): \(ours) vs torch \(bound)")
            var w = Tensor(zeros: [4096, fanIn])
            rng.fillKaimingUniform(&w, fanIn: fanIn, a: a)
            let maxAbs = w.scalars.map(abs).max()!
            #expect(Double(maxAbs) <= bound && Double(maxAbs) > 0.99 * bound, "fan_in \(fanIn): max |w| \(maxAbs), bound \(bound)")
        }
    }
}

@Suite struct ThreadPoolTests {
    @Test func parallelForVisitsEveryIndexOnce() {
        let pool = ThreadPool(threadCount: 3)
        defer { pool.shutdown() }
        for count in [0, 1, 2, 7, 100, 12_345] {
            for grain in [1, 16, 1000] {
                // Ranges must be disjoint, so plain increments suffice; an overlap shows up as a count of 2.
                let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
                defer { hits.deallocate() }
                hits.initialize(repeating: 0)
                pool.parallelFor(count, grain: grain) { range in
                    for i in range { hits[i] += 1 }
                }
                let bad = (0..<count).filter { hits[$0] != 1 }
                #expect(bad.isEmpty, "count \(count) grain \(grain): indices visited ≠ once: \(bad.prefix(5))")
            }
        }
    }

    /// Thousands of back-to-back jobs (spin then block) and nested calls (run serially) never deadlock or lose work.
    @Test func manyJobsAndNestedCalls() {
        let pool = ThreadPool(threadCount: 2)
        defer { pool.shutdown() }
        let total = Atomic<Int>(0)
        for _ in 0..<5000 {
            pool.run(chunks: 4) { _ in total.wrappingAdd(1, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 20_000)
        let nested = Atomic<Int>(0)
        pool.run(chunks: 4) { _ in
            pool.run(chunks: 3) { _ in nested.wrappingAdd(1, ordering: .relaxed) }
        }
        #expect(nested.load(ordering: .relaxed) == 12)
        // Jobs after idle periods long enough for the workers to block.
        for _ in 0..<3 {
            usleep(20_000)
            let n = Atomic<Int>(0)
            pool.run(chunks: 8) { _ in n.wrappingAdd(1, ordering: .relaxed) }
            #expect(n.load(ordering: .relaxed) == 8)
        }
    }

    /// `Threading.forEachUnit` runs every unit exactly once, with a worker index below the thread count, and
    /// BLAS calls made inside it (single-threaded there) give the same product as outside.
    @Test func forEachUnitRunsEveryUnitOnce() {
        for units in [0, 1, 2, 9, 100] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(units, 1))
            defer { hits.deallocate() }
            hits.initialize(repeating: 0)
            let badWorker = Atomic<Int>(0)
            Threading.forEachUnit(units) { worker, u in
                if worker < 0 || worker >= Threading.threadCount { badWorker.wrappingAdd(1, ordering: .relaxed) }
                hits[u] += 1
            }
            #expect((0..<units).allSatisfy { hits[$0] == 1 }, "\(units) units: some not run exactly once")
            #expect(badWorker.load(ordering: .relaxed) == 0)
        }
        let a = Tensor(shape: [70, 33], data: (0..<(70 * 33)).map { Float($0 % 17) / 8 - 1 })
        let b = Tensor(shape: [33, 41], data: (0..<(33 * 41)).map { Float($0 % 13) / 6 - 1 })
        let outside = a.matmul(.normal, b, .normal).scalars
        let inside = UnsafeMutableBufferPointer<Float>.allocate(capacity: 4 * 70 * 41)
        defer { inside.deallocate() }
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
            Threading.forEachUnit(4) { _, u in
                BLAS.gemm(.normal, .normal, m: 70, n: 41, k: 33, a: ap.baseAddress!, lda: 33, b: bp.baseAddress!, ldb: 41,
                          c: inside.baseAddress! + u * 70 * 41, ldc: 41)
            }
        } }
        let size = 70 * 41
        for u in 0..<4 {
            let part: [Float] = Array(inside[(u * size)..<((u + 1) * size)])
            #expect(part == outside, "unit \(u)")
        }
    }

    /// Re-configuring with the current count keeps the pool; OpenBLAS stays on one thread. (Other counts are not
    /// set here: tests run in parallel, and a product's bits depend on the thread count.)
    @Test func threadingConfiguresPoolAndBLAS() {
        let before = Threading.threadCount
        let pool = ThreadPool.shared
        Threading.configure(threads: before)
        #expect(Threading.threadCount == before)
        #expect(ThreadPool.shared === pool)
        #expect(Threading.blasThreadCount == 1)
        #expect(!Threading.blasDescription.core.isEmpty)
    }
}
