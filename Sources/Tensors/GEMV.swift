/// The Float32 matrix-vector product of decoding: `y[O] = W[O, I]·x[I]` (`+= ` when accumulating), W row-major.
///
/// Decoding one token reads every weight once, so it is bound by memory bandwidth, not arithmetic. OpenBLAS 0.3.21's
/// `sgemv` reads about 14 GB/s on one thread of the project's Zen 4 machine where this loop reads about 27 GB/s, the
/// rate of the bf16 path (`whittle bench kernels`, "gemv f32" and "decode sweep f32"). It is the same loop as that
/// path: each pool chunk of rows is cut in four quarters and row k of every quarter is dotted at once, so the weights
/// arrive as four long sequential streams the hardware prefetchers follow. Two 16-lane accumulators per row.
public enum FloatGEMV {
    /// Rows per pool chunk: at least ~64 K weights, so small matrices stay on one thread.
    static func grain(cols: Int) -> Int { max(1, (1 << 16) / max(cols, 1)) }

    /// `y = W·x` or `y += W·x` with W [rows, cols] (row stride `ldw` ≥ cols), x and y contiguous.
    public static func multiply(_ w: UnsafePointer<Float>, rows o: Int, cols i: Int, ldw: Int,
                                x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        precondition(o >= 0 && i >= 0 && ldw >= max(i, 1), "GEMV of \(o)×\(i) with row stride \(ldw)")
        if o == 0 { return }
        ThreadPool.shared.parallelFor(o, grain: grain(cols: i)) { range in
            let q = range.count / 4, lo = range.lowerBound
            for k in 0..<q {
                let r = (lo + k, lo + q + k, lo + 2 * q + k, lo + 3 * q + k)
                let (a, b, c, d) = dot4(w + r.0 * ldw, w + r.1 * ldw, w + r.2 * ldw, w + r.3 * ldw, x: x, cols: i)
                y[r.0] = accumulate ? y[r.0] + a : a
                y[r.1] = accumulate ? y[r.1] + b : b
                y[r.2] = accumulate ? y[r.2] + c : c
                y[r.3] = accumulate ? y[r.3] + d : d
            }
            for row in (lo + 4 * q)..<range.upperBound {
                let s = dot(w + row * ldw, x: x, cols: i)
                y[row] = accumulate ? y[row] + s : s
            }
        }
    }

    @inline(__always)
    static func reduce(_ v: Vec16) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    @inline(__always)
    static func dot(_ w: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int) -> Float {
        var a = Vec16(), b = Vec16()
        var j = 0
        while j + 32 <= cols {
            a.addProduct(load16(w + j), load16(x + j)); b.addProduct(load16(w + j + 16), load16(x + j + 16))
            j += 32
        }
        var s = reduce(a + b)
        while j < cols { s += w[j] * x[j]; j += 1 }
        return s
    }

    /// Four rows (far apart: four sequential streams) · x.
    @inline(__always)
    static func dot4(_ wa: UnsafePointer<Float>, _ wb: UnsafePointer<Float>, _ wc: UnsafePointer<Float>,
                     _ wd: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int) -> (Float, Float, Float, Float) {
        var a0 = Vec16(), a1 = Vec16(), b0 = Vec16(), b1 = Vec16(), c0 = Vec16(), c1 = Vec16(), d0 = Vec16(), d1 = Vec16()
        var j = 0
        while j + 32 <= cols {
            let x0 = load16(x + j), x1 = load16(x + j + 16)
            a0.addProduct(load16(wa + j), x0); a1.addProduct(load16(wa + j + 16), x1)
            b0.addProduct(load16(wb + j), x0); b1.addProduct(load16(wb + j + 16), x1)
            c0.addProduct(load16(wc + j), x0); c1.addProduct(load16(wc + j + 16), x1)
            d0.addProduct(load16(wd + j), x0); d1.addProduct(load16(wd + j + 16), x1)
            j += 32
        }
        var sa = reduce(a0 + a1), sb = reduce(b0 + b1), sc = reduce(c0 + c1), sd = reduce(d0 + d1)
        while j < cols {
            sa += wa[j] * x[j]; sb += wb[j] * x[j]; sc += wc[j] * x[j]; sd += wd[j] * x[j]
            j += 1
        }
        return (sa, sb, sc, sd)
    }
}
