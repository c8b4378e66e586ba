#if canImport(Glibc)
import Glibc
#endif

extension Kernels {
    // MARK: - Reductions

    /// Splits `0..<count` into chunks, reduces each with `partial` (in Float, 16 lanes), and adds the chunk
    /// results in Double so the order of summation is fixed for a given thread count and length.
    @inlinable
    static func reduceSum(_ count: Int, _ partial: (Range<Int>) -> Float) -> Float {
        let grain = parallelGrain
        let chunks = Swift.min(ThreadPool.shared.threadCount * 4, Swift.max(1, count / grain))
        if chunks <= 1 { return partial(0..<count) }
        var results = [Double](repeating: 0, count: chunks)
        let base = count / chunks, extra = count % chunks
        results.withUnsafeMutableBufferPointer { r in
            let out = r.baseAddress!
            ThreadPool.shared.run(chunks: chunks) { c in
                let start = c * base + min(c, extra)
                out[c] = Double(partial(start..<(start + base + (c < extra ? 1 : 0))))
            }
        }
        return Float(results.reduce(0, +))
    }

    /// Σ x[i].
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        reduceSum(count) { range in
            var acc0 = Vec16(), acc1 = Vec16()
            var i = range.lowerBound
            let end = range.upperBound
            while i + 2 * vecWidth <= end {
                acc0 += load16(x + i)
                acc1 += load16(x + i + vecWidth)
                i += 2 * vecWidth
            }
            while i + vecWidth <= end { acc0 += load16(x + i); i += vecWidth }
            if i < end { acc1 += loadPartial(x + i, end - i) }
            return (acc0 + acc1).sum()
        }
    }

    /// Σ a[i]·b[i].
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        reduceSum(count) { range in
            var acc0 = Vec16(), acc1 = Vec16()
            var i = range.lowerBound
            let end = range.upperBound
            while i + 2 * vecWidth <= end {
                acc0 = acc0.addingProduct(load16(a + i), load16(b + i))
                acc1 = acc1.addingProduct(load16(a + i + vecWidth), load16(b + i + vecWidth))
                i += 2 * vecWidth
            }
            while i + vecWidth <= end { acc0 = acc0.addingProduct(load16(a + i), load16(b + i)); i += vecWidth }
            if i < end { acc1 = acc1.addingProduct(loadPartial(a + i, end - i), loadPartial(b + i, end - i)) }
            return (acc0 + acc1).sum()
        }
    }

    /// Σ x[i]² (gradient norms, RMSNorm).
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        dot(x, x, count: count)
    }

    /// max x[i]; −inf for an empty array; NaN if any element is NaN.
    /// (Written with masked `replace`: `pointwiseMax` and `any(_:)` scalarize and run 100× slower.)
    public static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var m = Vec16(repeating: -.infinity)
        var nan = Vec16()
        var i = 0
        while i + vecWidth <= count {
            let v = load16(x + i)
            nan.replace(with: 1, where: v .!= v)
            m.replace(with: v, where: v .> m)
            i += vecWidth
        }
        if i < count {
            let v = loadPartial(x + i, count - i, fill: -.infinity)
            nan.replace(with: 1, where: v .!= v)
            m.replace(with: v, where: v .> m)
        }
        return nan.max() > 0 ? .nan : m.max()
    }

    // MARK: - Softmax

    /// Row softmax of a [rows, cols] matrix: `out[r, j] = e^(x[r, j] − max_r) / Σ_j e^(x[r, j] − max_r)`.
    public static func softmaxRows(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        ThreadPool.shared.parallelFor(rows, grain: Swift.max(1, parallelGrain / Swift.max(cols, 1))) { range in
            for r in range {
                let xr = x + r * cols, or = out + r * cols
                let m = max(xr, count: cols)
                let s = expShiftedSum(xr, shift: m, into: or, count: cols)
                let inv = Float(1 / s)
                var i = 0
                while i + vecWidth <= cols { store16(load16(or + i) * inv, or + i); i += vecWidth }
                while i < cols { or[i] *= inv; i += 1 }
            }
        }
    }

    /// Row log-softmax: `out[r, j] = (x[r, j] − max_r) − log Σ_j e^(x[r, j] − max_r)`.
    public static func logSoftmaxRows(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        ThreadPool.shared.parallelFor(rows, grain: Swift.max(1, parallelGrain / Swift.max(cols, 1))) { range in
            for r in range {
                let xr = x + r * cols, or = out + r * cols
                let m = max(xr, count: cols)
                let s = expShiftedSum(xr, shift: m, into: or, count: cols)
                // (x − m) − log s, not x − (m + log s): m + log s would round log s to m's ulp.
                let logSum = Float(log(s))
                var i = 0
                while i + vecWidth <= cols { store16((load16(xr + i) - m) - logSum, or + i); i += vecWidth }
                while i < cols { or[i] = (xr[i] - m) - logSum; i += 1 }
            }
        }
    }

    /// Writes `e^(x − shift)` to `out` and returns its sum (one row, on the calling thread). The sum is
    /// compensated (Kahan, per lane): in plain Float the row's largest term (1) swallows the low bits of
    /// thousands of small ones. (Converting lanes to Double instead scalarizes and costs 4×.)
    /// Public for row kernels elsewhere (cross-entropy) that need the sum itself, not only the softmax.
    @inlinable
    public static func expShiftedSum(_ x: UnsafePointer<Float>, shift: Float, into out: UnsafeMutablePointer<Float>, count: Int) -> Double {
        var acc = Vec16(), comp = Vec16()
        @inline(__always) func add(_ e: Vec16) {
            let y = e - comp
            let t = acc + y
            comp = (t - acc) - y
            acc = t
        }
        var i = 0
        while i + vecWidth <= count {
            let e = vexp(load16(x + i) - shift)
            store16(e, out + i)
            add(e)
            i += vecWidth
        }
        if i < count {
            let n = count - i
            let e = vexp(loadPartial(x + i, n, fill: -.infinity) - shift)
            storePartial(e, out + i, n)
            add(e)
        }
        var total = 0.0
        for lane in 0..<vecWidth { total += Double(acc[lane]) - Double(comp[lane]) }
        return total
    }
}

extension Tensor {
    /// Σ of all elements.
    public func sum() -> Float { withUnsafeBufferPointer { Kernels.sum($0.baseAddress!, count: count) } }
    /// Largest element.
    public func max() -> Float { withUnsafeBufferPointer { Kernels.max($0.baseAddress!, count: count) } }
    /// Σ x².
    public func sumOfSquares() -> Float { withUnsafeBufferPointer { Kernels.sumOfSquares($0.baseAddress!, count: count) } }

    /// Softmax over the last dimension.
    public func softmax() -> Tensor {
        let (rows, cols) = matrixShape
        return map { x, out, _ in Kernels.softmaxRows(x, into: out, rows: rows, cols: cols) }
    }

    /// Log-softmax over the last dimension.
    public func logSoftmax() -> Tensor {
        let (rows, cols) = matrixShape
        return map { x, out, _ in Kernels.logSoftmaxRows(x, into: out, rows: rows, cols: cols) }
    }
}
