import Synchronization

/// The 16-bit float formats a weight matrix may be held in: bfloat16 or IEEE half.
public enum HalfKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case bf16, f16

    public var description: String { rawValue }

    /// The 16-bit pattern of `f`, rounded to nearest even (`HalfPrecision`).
    @inlinable @inline(__always)
    public func narrow(_ f: Float) -> UInt16 {
        self == .bf16 ? HalfPrecision.floatToBF16(f) : HalfPrecision.floatToF16(f)
    }

    /// The exact Float32 value of the 16-bit pattern `h`.
    @inlinable @inline(__always)
    public func widen(_ h: UInt16) -> Float {
        self == .bf16 ? HalfPrecision.bf16ToFloat(h) : HalfPrecision.f16ToFloat(h)
    }
}

// MARK: - Storage

/// The UInt16 elements of a `HalfMatrix`: owned (64-byte aligned, freed here) or borrowed from an `owner` that keeps
/// the memory alive (a memory-mapped file). Read-only once made, so a borrowed read-only mapping is safe.
public final class HalfStorage: @unchecked Sendable {
    public let pointer: UnsafePointer<UInt16>
    public let count: Int
    private let owner: AnyObject?

    /// Allocates `count` elements and lets `fill` write every one of them (it gets the whole buffer).
    public init(count: Int, fill: (UnsafeMutablePointer<UInt16>) -> Void) {
        precondition(count >= 0, "negative element count \(count)")
        let bytes = max(count, 1) * MemoryLayout<UInt16>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        let p = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
        fill(p)
        pointer = UnsafePointer(p)
        self.count = count
        owner = nil
    }

    /// Wraps memory that `owner` keeps alive; nothing is copied and nothing is freed here.
    public init(borrowing pointer: UnsafePointer<UInt16>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
    }

    deinit {
        if owner == nil { UnsafeMutableRawPointer(mutating: pointer).deallocate() }
    }
}

// MARK: - HalfMatrix

/// A weight matrix W [O, I] (row-major, PyTorch `nn.Linear` layout) held in 16 bits for inference.
///
/// Widening bf16/f16 to Float32 is exact, and every product accumulates in Float32, so `multiply` computes what the
/// same product on `widened()` computes, up to summation order (tests: ≤ 1e-5 relative against a Double twin).
/// Half the bytes of a Float32 matrix are read per product, which is what bounds batch-1 decoding.
public struct HalfMatrix: Sendable {
    /// O and I.
    public let rows: Int, cols: Int
    public let kind: HalfKind
    public let storage: HalfStorage

    /// A matrix whose elements `fill` writes (row-major, `rows·cols` of them).
    public init(rows: Int, cols: Int, kind: HalfKind, fill: (UnsafeMutablePointer<UInt16>) -> Void) {
        precondition(rows >= 0 && cols >= 0, "negative HalfMatrix shape \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.kind = kind
        storage = HalfStorage(count: rows * cols, fill: fill)
    }

    /// Wraps `rows·cols` 16-bit elements that `owner` keeps alive (for example a memory-mapped safetensors file).
    public init(rows: Int, cols: Int, kind: HalfKind, borrowing pointer: UnsafePointer<UInt16>, owner: AnyObject) {
        precondition(rows >= 0 && cols >= 0, "negative HalfMatrix shape \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.kind = kind
        storage = HalfStorage(borrowing: pointer, count: rows * cols, owner: owner)
    }

    /// A 2-D tensor rounded to `kind`, to nearest even (as PyTorch's `.to(torch.bfloat16)` / `.to(torch.float16)`).
    public init(narrowing t: Tensor, kind: HalfKind) {
        precondition(t.rank == 2, "a HalfMatrix holds a 2-D tensor, got shape \(t.shape)")
        self.init(rows: t.shape[0], cols: t.shape[1], kind: kind) { dst in
            t.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, src.count > 0 else { return }
                switch kind {
                case .bf16: HalfPrecision.floatToBF16(s, dst, count: src.count)
                case .f16: HalfPrecision.floatToF16(s, dst, count: src.count)
                }
            }
        }
    }

    /// [O, I].
    public var shape: [Int] { [rows, cols] }
    /// Number of elements.
    public var count: Int { rows * cols }
    /// Bytes the elements occupy (2 per element).
    public var byteCount: Int { count * 2 }

    /// The elements as a Float32 tensor [O, I] (exact).
    public func widened() -> Tensor {
        var t = Tensor(uninitialized: [rows, cols])
        t.withUnsafeMutableBufferPointer { d in
            if let p = d.baseAddress, count > 0 { widen(rows: 0..<rows, into: p) }
        }
        return t
    }

    /// Writes rows `range` as Float32, row-major, to `dst` (`range.count · cols` floats). Split over the pool.
    public func widen(rows range: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) outside 0..<\(rows)")
        let src = storage.pointer + range.lowerBound * cols, n = range.count * cols
        if n == 0 { return }
        switch kind {
        case .bf16: HalfPrecision.bf16ToFloat(src, dst, count: n)
        case .f16: HalfPrecision.f16ToFloat(src, dst, count: n)
        }
    }

    /// Row `r` as Float32 into `dst` (`cols` floats), on the calling thread (an embedding lookup).
    public func widenRow(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows, "row \(r) outside 0..<\(rows)")
        let src = storage.pointer + r * cols
        switch kind {
        case .bf16: for j in 0..<cols { dst[j] = HalfPrecision.bf16ToFloat(src[j]) }
        case .f16: for j in 0..<cols { dst[j] = HalfPrecision.f16ToFloat(src[j]) }
        }
    }

    /// The 16-bit element at row `r`, column `c`.
    public subscript(r: Int, c: Int) -> UInt16 {
        precondition(r >= 0 && r < rows && c >= 0 && c < cols, "index [\(r), \(c)] outside \(rows)×\(cols)")
        return storage.pointer[r * cols + c]
    }
}

// MARK: - Products

extension HalfMatrix {
    /// Up to this many input rows `multiply` streams the 16-bit weights through its own GEMV (decode); above it,
    /// row blocks are widened into a reused Float32 scratch and multiplied with `BLAS.gemm` (prefill).
    public static let gemvMaxRows = 4

    /// Rows per widened block of the GEMM path: about 2 M floats (8 MB of scratch), whole rows.
    static func blockRows(cols: Int) -> Int { max(16, (1 << 21) / max(cols, 1)) }

    /// `y[N, O] = x[N, I]·Wᵀ` (`accumulate: false`) or `y += x·Wᵀ` (`accumulate: true`), all row-major and
    /// contiguous (`x` has row stride I, `y` row stride O). Float32 accumulation; see `gemvMaxRows` for the two paths.
    public func multiply(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        precondition(n >= 0, "negative row count \(n)")
        if n == 0 || rows == 0 { return }
        if cols == 0 {
            if !accumulate { y.update(repeating: 0, count: n * rows) }
            return
        }
        if n <= Self.gemvMaxRows {
            switch kind {
            case .bf16: gemvBF16(x, rows: n, into: y, accumulate: accumulate)
            case .f16: gemvF16(x, rows: n, into: y, accumulate: accumulate)
            }
        } else {
            blockedGEMM(x, rows: n, into: y, accumulate: accumulate)
        }
    }

    /// Widened row blocks through OpenBLAS: the same sgemm a Float32 matrix gets, on exactly the same values.
    func blockedGEMM(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let block = min(rows, Self.blockRows(cols: cols))
        HalfScratch.with(count: block * cols) { buffer in
            var r0 = 0
            while r0 < rows {
                let rb = min(block, rows - r0)
                widen(rows: r0..<(r0 + rb), into: buffer)
                BLAS.gemm(.normal, .transposed, m: n, n: rb, k: cols, a: x, lda: cols, b: buffer, ldb: cols,
                          beta: accumulate ? 1 : 0, c: y + r0, ldc: rows)
                r0 += rb
            }
        }
    }

    /// Rows per pool chunk of the GEMV: at least ~64 K weights, so small matrices stay on one thread.
    static func gemvGrain(cols: Int) -> Int { max(1, (1 << 16) / cols) }

    /// The bf16 decode path. One input row (decode): each pool chunk of rows is cut in four quarters and row k of every
    /// quarter is dotted at once, so the weights are read as four long sequential streams (the hardware prefetchers
    /// follow them; four *adjacent* rows — short streams — were 25–40% slower, and one stream or software prefetching
    /// slower too, `whittle bench kernels` decode sweep on the development machine). Two to four input rows: one row at
    /// a time, dotted with every input row while it is in L1. Two 16-lane Float32 accumulators per row.
    ///
    /// 32 weights are loaded as 16 UInt32 lanes, each holding an even element (low half) and an odd one (high half);
    /// `lane << 16` and `lane & 0xFFFF0000` are their Float32 bit patterns, so `x` is de-interleaved once per call
    /// (per block of 32: its 16 evens, then its 16 odds) to match. (Swift's `SIMD16<UInt32>(truncatingIfNeeded:)`
    /// compiles to an out-of-line call here, which spills every accumulator.)
    func gemvBF16(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let i = cols, o = rows, blocks = i / 32
        let w = storage.pointer
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, n * blocks * 32)) { xdBuffer in
            let xd = xdBuffer.baseAddress!
            for r in 0..<n {
                let src = x + r * i, dst = xd + r * blocks * 32
                for b in 0..<blocks {
                    for j in 0..<16 {
                        dst[b * 32 + j] = src[b * 32 + 2 * j]
                        dst[b * 32 + 16 + j] = src[b * 32 + 2 * j + 1]
                    }
                }
            }
            ThreadPool.shared.parallelFor(o, grain: Self.gemvGrain(cols: i)) { range in
                if n == 1 {
                    let q = range.count / 4, lo = range.lowerBound
                    for k in 0..<q {
                        let rows4 = (lo + k, lo + q + k, lo + 2 * q + k, lo + 3 * q + k)
                        let (da, db) = Self.bf16Dot4(w + rows4.0 * i, w + rows4.1 * i, w + rows4.2 * i, w + rows4.3 * i, xd: xd, x: x, cols: i)
                        y[rows4.0] = accumulate ? y[rows4.0] + da.0 : da.0
                        y[rows4.1] = accumulate ? y[rows4.1] + da.1 : da.1
                        y[rows4.2] = accumulate ? y[rows4.2] + db.0 : db.0
                        y[rows4.3] = accumulate ? y[rows4.3] + db.1 : db.1
                    }
                    for row in (lo + 4 * q)..<range.upperBound {
                        let d = Self.bf16Dot(w + row * i, xd: xd, x: x, cols: i)
                        y[row] = accumulate ? y[row] + d : d
                    }
                    return
                }
                for row in range {
                    let wr = w + row * i
                    for r in 0..<n {
                        let d = Self.bf16Dot(wr, xd: xd + r * blocks * 32, x: x + r * i, cols: i)
                        let yr = y + r * o + row
                        yr.pointee = accumulate ? yr.pointee + d : d
                    }
                }
            }
        }
    }

    /// The f16 decode path: each weight row is widened into an L1-resident Float32 buffer by a plain loop that LLVM
    /// turns into `vcvtph2ps` (Swift's `SIMD16<Float>(SIMD16<Float16>)` compiles to an out-of-line call that spills
    /// every accumulator, and converting with integer lane operations took a dozen instructions per 16 lanes and made
    /// decoding compute-bound), then one Float32 dot product per input row.
    func gemvF16(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let i = cols, o = rows
        let w = storage.pointer
        ThreadPool.shared.parallelFor(o, grain: Self.gemvGrain(cols: i)) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: i) { buffer in
                let wf = buffer.baseAddress!
                for row in range {
                    Self.widenF16(w + row * i, into: wf, count: i)
                    for r in 0..<n {
                        let d = Self.floatDot(wf, x: x + r * i, cols: i)
                        let yr = y + r * o + row
                        yr.pointee = accumulate ? yr.pointee + d : d
                    }
                }
            }
        }
    }

    // MARK: kernels

    @inline(__always)
    static func reduce(_ v: Vec16) -> Float { FloatGEMV.reduce(v) }

    /// One bf16 row · x; `xd` is x de-interleaved per block of 32 (see `gemvBF16`).
    @inline(__always)
    static func bf16Dot(_ w: UnsafePointer<UInt16>, xd: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int) -> Float {
        let high = SIMD16<UInt32>(repeating: 0xFFFF_0000)
        var e = Vec16(), o = Vec16()
        var j = 0
        while j + 32 <= cols {
            let u = UnsafeRawPointer(w + j).loadUnaligned(as: SIMD16<UInt32>.self)
            e.addProduct(unsafeBitCast(u &<< 16, to: Vec16.self), load16(xd + j))
            o.addProduct(unsafeBitCast(u & high, to: Vec16.self), load16(xd + j + 16))
            j += 32
        }
        var s = reduce(e + o)
        while j < cols { s += HalfPrecision.bf16ToFloat(w[j]) * x[j]; j += 1 }
        return s
    }

    /// Four bf16 rows (far apart: four sequential streams) · x; `xd` as in `bf16Dot`.
    @inline(__always)
    static func bf16Dot4(_ wa: UnsafePointer<UInt16>, _ wb: UnsafePointer<UInt16>, _ wc: UnsafePointer<UInt16>,
                         _ wd: UnsafePointer<UInt16>, xd: UnsafePointer<Float>, x: UnsafePointer<Float>,
                         cols: Int) -> ((Float, Float), (Float, Float)) {
        let high = SIMD16<UInt32>(repeating: 0xFFFF_0000)
        var ea = Vec16(), oa = Vec16(), eb = Vec16(), ob = Vec16(), ec = Vec16(), oc = Vec16(), ed = Vec16(), od = Vec16()
        var j = 0
        while j + 32 <= cols {
            let xe = load16(xd + j), xo = load16(xd + j + 16)
            let ua = UnsafeRawPointer(wa + j).loadUnaligned(as: SIMD16<UInt32>.self)
            let ub = UnsafeRawPointer(wb + j).loadUnaligned(as: SIMD16<UInt32>.self)
            let uc = UnsafeRawPointer(wc + j).loadUnaligned(as: SIMD16<UInt32>.self)
            let ud = UnsafeRawPointer(wd + j).loadUnaligned(as: SIMD16<UInt32>.self)
            ea.addProduct(unsafeBitCast(ua &<< 16, to: Vec16.self), xe); oa.addProduct(unsafeBitCast(ua & high, to: Vec16.self), xo)
            eb.addProduct(unsafeBitCast(ub &<< 16, to: Vec16.self), xe); ob.addProduct(unsafeBitCast(ub & high, to: Vec16.self), xo)
            ec.addProduct(unsafeBitCast(uc &<< 16, to: Vec16.self), xe); oc.addProduct(unsafeBitCast(uc & high, to: Vec16.self), xo)
            ed.addProduct(unsafeBitCast(ud &<< 16, to: Vec16.self), xe); od.addProduct(unsafeBitCast(ud & high, to: Vec16.self), xo)
            j += 32
        }
        var sa = reduce(ea + oa), sb = reduce(eb + ob), sc = reduce(ec + oc), sd = reduce(ed + od)
        while j < cols {
            sa += HalfPrecision.bf16ToFloat(wa[j]) * x[j]; sb += HalfPrecision.bf16ToFloat(wb[j]) * x[j]
            sc += HalfPrecision.bf16ToFloat(wc[j]) * x[j]; sd += HalfPrecision.bf16ToFloat(wd[j]) * x[j]
            j += 1
        }
        return ((sa, sb), (sc, sd))
    }

    @inline(__always)
    static func widenF16(_ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0..<count { dst[k] = Float(Float16(bitPattern: src[k])) }
    }

    @inline(__always)
    static func floatDot(_ w: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int) -> Float {
        FloatGEMV.dot(w, x: x, cols: cols)
    }
}

// MARK: - Scratch

/// One reusable Float32 buffer for widened weight blocks, so a prefill does not allocate (and page-fault) 8 MB per
/// product. A caller that finds it taken (a concurrent product) allocates its own for that call.
enum HalfScratch {
    private struct Buffer: @unchecked Sendable { var pointer: UnsafeMutablePointer<Float>; var count: Int }
    private static let cached = Mutex<Buffer?>(nil)

    static func with(count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        var buffer = cached.withLock { b -> Buffer? in
            let taken = b
            b = nil
            return taken
        }
        if buffer == nil || buffer!.count < count {
            if let old = buffer { UnsafeMutableRawPointer(old.pointer).deallocate() }
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            buffer = Buffer(pointer: raw.bindMemory(to: Float.self, capacity: max(count, 1)), count: count)
        }
        body(buffer!.pointer)
        let leftover = cached.withLock { b -> Buffer? in
            if b == nil { b = buffer; return nil }
            return buffer
        }
        if let leftover { UnsafeMutableRawPointer(leftover.pointer).deallocate() }
    }
}
