/// Vector math on 16 lanes, used by the elementwise kernels. Accuracy is stated per function and tested
/// against the scalar libm twins in `NaiveKernels`.
public typealias Vec16 = SIMD16<Float>

@usableFromInline let vecWidth = 16

/// 16 floats from `p` (no alignment needed).
@inlinable @inline(__always)
public func load16(_ p: UnsafePointer<Float>) -> Vec16 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec16.self)
}

/// Stores 16 floats at `p` (no alignment needed).
@inlinable @inline(__always)
public func store16(_ v: Vec16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec16.self)
}

/// Loads `n < 16` floats into the low lanes (others `fill`), for loop tails.
@inlinable @inline(__always)
func loadPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float = 0) -> Vec16 {
    var v = Vec16(repeating: fill)
    for i in 0..<n { v[i] = p[i] }
    return v
}

@inlinable @inline(__always)
func storePartial(_ v: Vec16, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { p[i] = v[i] }
}

/// `e^x` per lane: Cephes-style range reduction `x = n·ln2 + r` and a degree-6 polynomial; relative error
/// within 2 ulp for results in the normal range; 0 below ln(FLT_MIN) (no subnormals); +inf above ln(FLT_MAX); NaN stays NaN.
@inlinable @inline(__always)
public func vexp(_ x: Vec16) -> Vec16 {
    let hi: Float = 88.72283, lo: Float = -87.33654
    var xc = x.replacing(with: lo, where: x .< lo)   // (pointwiseMin/Max scalarize)
    xc.replace(with: hi, where: xc .> hi)
    // Round x·log2(e) to an integer by adding 1.5·2²³: the sum's low mantissa bits are that integer.
    // (SIMD's rounding initializers scalarize and cost 50× more.)
    let magic: Float = 12_582_912
    let t = xc * 1.44269504088896341 + magic
    let fx = t - magic
    var r = xc - fx * 0.693359375
    r = r + fx * 2.12194440e-4
    let z = r * r
    var y: Vec16 = Vec16(repeating: 1.9875691500e-4) * r + 1.3981999507e-3
    y = y * r + 8.3334519073e-3
    y = y * r + 4.1665795894e-2
    y = y * r + 1.6666665459e-1
    y = y * r + 5.0000001201e-1
    y = y * z + r + 1
    // 2^n as two factors so n = 128 (x near ln FLT_MAX) and n = -126 both stay representable.
    let n = unsafeBitCast(t, to: SIMD16<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
    let n1 = n &>> 1
    let n2 = n &- n1
    let p1 = Vec16(bitPattern: (n1 &+ 127) &<< 23)
    let p2 = Vec16(bitPattern: (n2 &+ 127) &<< 23)
    var result = y * p1 * p2
    result.replace(with: Float.infinity, where: x .> hi)
    result.replace(with: Float(0), where: x .< lo)
    result.replace(with: x, where: x .!= x)
    return result
}

/// `x·σ(x) = x / (1 + e^(−x))` (SiLU).
@inlinable @inline(__always)
public func vsilu(_ x: Vec16) -> Vec16 {
    x / (1 + vexp(-x))
}

/// GELU with the tanh approximation, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, computed as
/// `x / (1 + e^(−2u))`, which is the same function without cancellation.
@inlinable @inline(__always)
public func vgeluTanh(_ x: Vec16) -> Vec16 {
    let u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
    return x / (1 + vexp(-2 * u))
}

/// The derivative of SiLU, `σ(x)·(1 + x·(1 − σ(x)))` with `σ(x) = 1 / (1 + e^(−x))`.
/// `1 − σ` is computed as `e^(−x)·σ` (no cancellation when σ is near 1), and as 1 where `e^(−x)` overflows.
@inlinable @inline(__always)
public func vsiluDerivative(_ x: Vec16) -> Vec16 {
    let e = vexp(-x)
    let s = 1 / (1 + e)
    var oneMinusS = e * s
    oneMinusS.replace(with: 1, where: s .== 0)
    return s * (1 + x * oneMinusS)
}

/// The derivative of `vgeluTanh`: with `u = √(2/π)·(x + 0.044715·x³)` and `t = tanh u`,
/// `0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)`. Written with `s = σ(2u) = (1 + t)/2`, so
/// `1 + t = 2s` and `1 − t² = 4s(1 − s)`: `s + 2√(2/π)·x·s(1 − s)·(1 + 0.134145·x²)`, where
/// `s(1 − s) = e^(−2u)·s²` (no cancellation near s = 1; 0 where `e^(−2u)` overflows).
@inlinable @inline(__always)
public func vgeluTanhDerivative(_ x: Vec16) -> Vec16 {
    let k: Float = 0.7978845608028654
    let x2 = x * x
    let u = k * (x + 0.044715 * x2 * x)
    let e = vexp(-2 * u)
    let s = 1 / (1 + e)
    var spread = e * s * s
    spread.replace(with: 0, where: s .== 0)
    return s + (2 * k) * x * spread * (1 + 0.134145 * x2)
}

extension SIMD16 where Scalar == Float {
    @inlinable @inline(__always)
    init(bitPattern v: SIMD16<Int32>) {
        self = unsafeBitCast(v, to: SIMD16<Float>.self)
    }
}
