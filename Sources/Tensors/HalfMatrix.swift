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
            gemv(x, rows: n, into: y, accumulate: accumulate)
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

    /// The decode path: four weight rows per pass (each loaded once, used for every input row while in L1), 32
    /// elements per step in two 16-lane accumulators per row, split over the pool by blocks of rows.
    ///
    /// 32 weights are loaded as 16 UInt32 lanes, each holding an even element (low half) and an odd one (high half),
    /// and turned into two Float32 vectors with integer lane operations (`HalfLanes`); `x` is de-interleaved once per
    /// call (per block of 32: its 16 evens, then its 16 odds) to match. (Swift's `SIMD16<Float>(SIMD16<Float16>)` and
    /// `SIMD16<UInt32>(truncatingIfNeeded:)` compile to out-of-line calls here, which spill every accumulator.)
    func gemv(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        switch kind {
        case .bf16: gemv(BF16Lanes.self, x, rows: n, into: y, accumulate: accumulate)
        case .f16: gemv(F16Lanes.self, x, rows: n, into: y, accumulate: accumulate)
        }
    }

    @inline(__always)
    func gemv<L: HalfLanes>(_ lanes: L.Type, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>,
                            accumulate: Bool) {
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
            let quads = (o + 3) / 4
            // At least ~64 K weights per chunk, so small matrices stay on one thread.
            ThreadPool.shared.parallelFor(quads, grain: max(1, (1 << 16) / (4 * i))) { range in
                for q in range {
                    let r0 = q * 4, nr = min(4, o - r0)
                    let wq = w + r0 * i
                    for r in 0..<n {
                        let xr = x + r * i, xdr = UnsafePointer(xd + r * blocks * 32), yr = y + r * o + r0
                        if nr == 4 {
                            let s = Self.dot4(L.self, wq, stride: i, xd: xdr, x: xr, cols: i)
                            if accumulate {
                                yr[0] += s.0; yr[1] += s.1; yr[2] += s.2; yr[3] += s.3
                            } else {
                                yr[0] = s.0; yr[1] = s.1; yr[2] = s.2; yr[3] = s.3
                            }
                        } else {
                            for k in 0..<nr {
                                let d = Self.dot1(L.self, wq + k * i, xd: xdr, x: xr, cols: i)
                                yr[k] = accumulate ? yr[k] + d : d
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: kernels

    @inline(__always)
    static func reduce(_ v: Vec16) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    @inline(__always)
    static func loadWords(_ p: UnsafePointer<UInt16>) -> SIMD16<UInt32> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt32>.self)
    }

    /// Dot products of four rows (`stride` apart) with one input row `x`; `xd` is its de-interleaved copy.
    @inline(__always)
    static func dot4<L: HalfLanes>(_: L.Type, _ w: UnsafePointer<UInt16>, stride: Int, xd: UnsafePointer<Float>,
                                   x: UnsafePointer<Float>, cols: Int) -> (Float, Float, Float, Float) {
        let w0 = w, w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride
        var e0 = Vec16(), e1 = Vec16(), e2 = Vec16(), e3 = Vec16()
        var o0 = Vec16(), o1 = Vec16(), o2 = Vec16(), o3 = Vec16()
        var j = 0
        while j + 32 <= cols {
            let xe = load16(xd + j), xo = load16(xd + j + 16)
            let u0 = loadWords(w0 + j), u1 = loadWords(w1 + j), u2 = loadWords(w2 + j), u3 = loadWords(w3 + j)
            e0.addProduct(L.evens(u0), xe); o0.addProduct(L.odds(u0), xo)
            e1.addProduct(L.evens(u1), xe); o1.addProduct(L.odds(u1), xo)
            e2.addProduct(L.evens(u2), xe); o2.addProduct(L.odds(u2), xo)
            e3.addProduct(L.evens(u3), xe); o3.addProduct(L.odds(u3), xo)
            j += 32
        }
        var s0 = reduce(e0 + o0), s1 = reduce(e1 + o1), s2 = reduce(e2 + o2), s3 = reduce(e3 + o3)
        while j < cols {
            let xv = x[j]
            s0 += L.scalar(w0[j]) * xv
            s1 += L.scalar(w1[j]) * xv
            s2 += L.scalar(w2[j]) * xv
            s3 += L.scalar(w3[j]) * xv
            j += 1
        }
        return (s0, s1, s2, s3)
    }

    @inline(__always)
    static func dot1<L: HalfLanes>(_: L.Type, _ w: UnsafePointer<UInt16>, xd: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                   cols: Int) -> Float {
        var e = Vec16(), o = Vec16()
        var j = 0
        while j + 32 <= cols {
            let u = loadWords(w + j)
            e.addProduct(L.evens(u), load16(xd + j)); o.addProduct(L.odds(u), load16(xd + j + 16))
            j += 32
        }
        var s = reduce(e + o)
        while j < cols { s += L.scalar(w[j]) * x[j]; j += 1 }
        return s
    }
}

/// Turns 16 UInt32 lanes, each two 16-bit elements (even in the low half, odd in the high half), into Float32 vectors,
/// exactly.
protocol HalfLanes {
    static func evens(_ u: SIMD16<UInt32>) -> Vec16
    static func odds(_ u: SIMD16<UInt32>) -> Vec16
    static func scalar(_ h: UInt16) -> Float
}

/// bf16 is the high half of a Float32: `lane << 16` and `lane & 0xFFFF0000` are the two elements' bit patterns.
enum BF16Lanes: HalfLanes {
    @inline(__always) static func evens(_ u: SIMD16<UInt32>) -> Vec16 { unsafeBitCast(u &<< 16, to: Vec16.self) }
    @inline(__always) static func odds(_ u: SIMD16<UInt32>) -> Vec16 {
        unsafeBitCast(u & SIMD16<UInt32>(repeating: 0xFFFF_0000), to: Vec16.self)
    }
    @inline(__always) static func scalar(_ h: UInt16) -> Float { HalfPrecision.bf16ToFloat(h) }
}

/// IEEE half: magnitude bits moved to Float32's place (`<< 13`) and scaled by 2¹¹² (exact for normals and
/// subnormals: the exponent biases differ by 112), infinities and NaNs (exponent 31) rebuilt, sign put back.
enum F16Lanes: HalfLanes {
    @inline(__always) static func convert(_ h: SIMD16<UInt32>) -> Vec16 {
        let mag = (h & SIMD16<UInt32>(repeating: 0x7FFF)) &<< 13
        let sign = (h & SIMD16<UInt32>(repeating: 0x8000)) &<< 16
        let scaled = unsafeBitCast(mag, to: Vec16.self) * Float(bitPattern: 0x7780_0000)
        var bits = unsafeBitCast(scaled, to: SIMD16<UInt32>.self)
        bits.replace(with: mag | SIMD16<UInt32>(repeating: 0x7F80_0000), where: mag .>= SIMD16<UInt32>(repeating: 0x0F80_0000))
        return unsafeBitCast(bits | sign, to: Vec16.self)
    }
    @inline(__always) static func evens(_ u: SIMD16<UInt32>) -> Vec16 { convert(u & SIMD16<UInt32>(repeating: 0xFFFF)) }
    @inline(__always) static func odds(_ u: SIMD16<UInt32>) -> Vec16 { convert(u &>> 16) }
    @inline(__always) static func scalar(_ h: UInt16) -> Float { HalfPrecision.f16ToFloat(h) }
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
