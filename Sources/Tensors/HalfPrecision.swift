/// Conversions between Float32 and the 16-bit formats model files use: bfloat16 (BF16) and IEEE half (F16).
///
/// Narrowing rounds to nearest, ties to even, like PyTorch's `.to(torch.bfloat16)` / `.to(torch.float16)`;
/// NaN stays NaN (quiet), ±inf stays ±inf, values beyond the target range become ±inf.
public enum HalfPrecision {
    // MARK: - bfloat16

    @inlinable @inline(__always)
    public static func bf16ToFloat(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    @inlinable @inline(__always)
    public static func floatToBF16(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    public static func bf16ToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        ThreadPool.shared.parallelFor(count, grain: Kernels.parallelGrain) { r in
            for i in r { dst[i] = bf16ToFloat(src[i]) }
        }
    }

    public static func floatToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        ThreadPool.shared.parallelFor(count, grain: Kernels.parallelGrain) { r in
            for i in r { dst[i] = floatToBF16(src[i]) }
        }
    }

    // MARK: - IEEE half

    @inlinable @inline(__always)
    public static func f16ToFloat(_ h: UInt16) -> Float { Float(Float16(bitPattern: h)) }

    @inlinable @inline(__always)
    public static func floatToF16(_ f: Float) -> UInt16 { Float16(f).bitPattern }

    public static func f16ToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        ThreadPool.shared.parallelFor(count, grain: Kernels.parallelGrain) { r in
            for i in r { dst[i] = f16ToFloat(src[i]) }
        }
    }

    public static func floatToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        ThreadPool.shared.parallelFor(count, grain: Kernels.parallelGrain) { r in
            for i in r { dst[i] = floatToF16(src[i]) }
        }
    }
}
