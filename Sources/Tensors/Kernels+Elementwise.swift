#if canImport(Glibc)
import Glibc
#endif

/// Vectorized kernels that are not matrix products. Each has a scalar twin in `NaiveKernels` that tests compare
/// against. Inputs and outputs may be the same buffer (in place) but must not otherwise overlap.
public enum Kernels {
    /// Arrays shorter than this run on the calling thread; longer ones are split over the pool.
    public static let parallelGrain = 1 << 15

    // MARK: - Helpers

    // The operation is a generic value, not a closure: each kernel gets its own specialized, inlined loop
    // (a closure here costs half the speed of exp).
    @inlinable @inline(__always)
    static func unary<Op: UnaryOp>(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int,
                                   _ f: Op) {
        ThreadPool.shared.parallelFor(count, grain: parallelGrain) { range in
            var i = range.lowerBound
            let end = range.upperBound
            while i + vecWidth <= end {
                store16(f(load16(x + i)), out + i)
                i += vecWidth
            }
            if i < end { storePartial(f(loadPartial(x + i, end - i)), out + i, end - i) }
        }
    }

    @inlinable @inline(__always)
    static func binary<Op: BinaryOp>(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                     _ count: Int, _ f: Op) {
        ThreadPool.shared.parallelFor(count, grain: parallelGrain) { range in
            var i = range.lowerBound
            let end = range.upperBound
            while i + vecWidth <= end {
                store16(f(load16(a + i), load16(b + i)), out + i)
                i += vecWidth
            }
            if i < end { storePartial(f(loadPartial(a + i, end - i), loadPartial(b + i, end - i)), out + i, end - i) }
        }
    }

    // MARK: - Arithmetic

    /// `out[i] = a[i] + b[i]`
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        binary(a, b, out, count, Add())
    }

    /// `out[i] = a[i] · b[i]`
    public static func mul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        binary(a, b, out, count, Mul())
    }

    /// `out[i] = s · x[i]`
    public static func scale(_ x: UnsafePointer<Float>, by s: Float, into out: UnsafeMutablePointer<Float>, count: Int) {
        unary(x, out, count, Scale(s: s))
    }

    /// `y[i] += s · x[i]` (BLAS axpy; gradient accumulation).
    public static func addScaled(_ x: UnsafePointer<Float>, by s: Float, to y: UnsafeMutablePointer<Float>, count: Int) {
        binary(x, UnsafePointer(y), y, count, AXPY(s: s))
    }

    // MARK: - Activations

    /// `out[i] = e^x[i]` (see `vexp` for accuracy).
    public static func exp(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        unary(x, out, count, Exp())
    }

    /// `out[i] = x[i]·σ(x[i])` (SiLU, the gate of SwiGLU).
    public static func silu(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        unary(x, out, count, SiLU())
    }

    /// GELU, tanh approximation (GPT-2's `gelu_new`, PyTorch `approximate="tanh"`).
    public static func geluTanh(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        unary(x, out, count, GELUTanh())
    }

    // MARK: - Activation gradients

    /// `dx[i] = dy[i] · silu'(x[i])` (backward of `silu`; `x` is the activation's input).
    public static func siluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                                    count: Int) {
        binary(x, dy, dx, count, SiLUBackward())
    }

    /// `dx[i] = dy[i] · gelu_tanh'(x[i])` (backward of `geluTanh`; `x` is the activation's input).
    public static func geluTanhBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                                        count: Int) {
        binary(x, dy, dx, count, GELUTanhBackward())
    }
}

// MARK: - Operations

public protocol UnaryOp { func callAsFunction(_ x: Vec16) -> Vec16 }
public protocol BinaryOp { func callAsFunction(_ a: Vec16, _ b: Vec16) -> Vec16 }

@usableFromInline struct Add: BinaryOp {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ a: Vec16, _ b: Vec16) -> Vec16 { a + b }
}
@usableFromInline struct Mul: BinaryOp {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ a: Vec16, _ b: Vec16) -> Vec16 { a * b }
}
/// `b + s·a`
@usableFromInline struct AXPY: BinaryOp {
    @usableFromInline let s: Float
    @inlinable init(s: Float) { self.s = s }
    @inlinable @inline(__always) func callAsFunction(_ a: Vec16, _ b: Vec16) -> Vec16 { b + s * a }
}
@usableFromInline struct Scale: UnaryOp {
    @usableFromInline let s: Float
    @inlinable init(s: Float) { self.s = s }
    @inlinable @inline(__always) func callAsFunction(_ x: Vec16) -> Vec16 { x * s }
}
@usableFromInline struct Exp: UnaryOp {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ x: Vec16) -> Vec16 { vexp(x) }
}
@usableFromInline struct SiLU: UnaryOp {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ x: Vec16) -> Vec16 { vsilu(x) }
}
@usableFromInline struct GELUTanh: UnaryOp {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ x: Vec16) -> Vec16 { vgeluTanh(x) }
}

/// `dy · silu'(x)` with `a = x`, `b = dy`.
@usableFromInline struct SiLUBackward: BinaryOp {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ a: Vec16, _ b: Vec16) -> Vec16 { b * vsiluDerivative(a) }
}
/// `dy · gelu_tanh'(x)` with `a = x`, `b = dy`.
@usableFromInline struct GELUTanhBackward: BinaryOp {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction(_ a: Vec16, _ b: Vec16) -> Vec16 { b * vgeluTanhDerivative(a) }
}

// MARK: - Tensor conveniences

extension Tensor {
    /// Applies a pointer kernel `f(x, out, count)` to a copy of this tensor's shape.
    @inlinable
    public func map(_ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        var out = Tensor(zeros: shape)
        withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in f(x.baseAddress!, o.baseAddress!, count) }
        }
        return out
    }

    /// Applies a pointer kernel `f(a, b, out, count)` elementwise to two tensors of equal shape.
    @inlinable
    public func zipMap(_ other: Tensor,
                       _ f: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        precondition(shape == other.shape, "elementwise operands differ in shape: \(shape) and \(other.shape)")
        var out = Tensor(zeros: shape)
        withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in f(a.baseAddress!, b.baseAddress!, o.baseAddress!, count) }
            }
        }
        return out
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b) { Kernels.add($0, $1, into: $2, count: $3) } }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.zipMap(b) { Kernels.mul($0, $1, into: $2, count: $3) } }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { Kernels.scale($0, by: s, into: $1, count: $2) } }

    /// `self += s · x` (same shapes).
    public mutating func addScaled(_ x: Tensor, by s: Float = 1) {
        precondition(shape == x.shape, "addScaled operands differ in shape: \(shape) and \(x.shape)")
        let n = count
        x.withUnsafeBufferPointer { px in
            withUnsafeMutableBufferPointer { py in Kernels.addScaled(px.baseAddress!, by: s, to: py.baseAddress!, count: n) }
        }
    }

    /// Sets every element to 0 in place (memset), the pool's threads each clearing a contiguous part.
    public mutating func setZero() {
        let n = count
        // Shared storage: fresh zeros, not a copy of values about to be overwritten.
        if !isUnique() { self = Tensor(zeros: shape); return }
        withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            ThreadPool.shared.parallelFor(n, grain: 1 << 18) { r in
                memset(base + r.lowerBound, 0, r.count * MemoryLayout<Float>.stride)
            }
        }
    }

    public func exp() -> Tensor { map { Kernels.exp($0, into: $1, count: $2) } }
    public func silu() -> Tensor { map { Kernels.silu($0, into: $1, count: $2) } }
    public func geluTanh() -> Tensor { map { Kernels.geluTanh($0, into: $1, count: $2) } }
}
