import Tensors

// Small SIMD helpers for the row loops in this target (16-lane loads and stores come from Tensors).

/// Rows handled per parallel chunk so a chunk has at least ~32K elements of work.
@inline(__always) func rowGrain(_ cols: Int) -> Int { max(1, (1 << 15) / max(cols, 1)) }

/// How rows are split for a reduction over rows (weight gradients of the norms): at least `rowGrain(cols)` rows
/// per chunk and at most 64 chunks. The split depends only on the shape, never on the thread count, so
/// per-chunk partial sums added in chunk order give the same bits on every machine.
struct RowChunks {
    let rows: Int, size: Int, count: Int

    init(rows: Int, cols: Int) {
        self.rows = rows
        size = max(rowGrain(cols), (rows + 63) / 64)
        count = (rows + size - 1) / size
    }

    func range(_ chunk: Int) -> Range<Int> { (chunk * size)..<min((chunk + 1) * size, rows) }
}

/// `out[j] += Σ_k partials[k·stride + j]` over `chunks` partial rows (stride defaults to `cols`), in chunk
/// order (16 lanes).
func addPartials(_ partials: UnsafePointer<Float>, chunks: Int, cols: Int, stride: Int? = nil,
                 into out: UnsafeMutablePointer<Float>) {
    for k in 0..<chunks {
        let p = partials + k * (stride ?? cols)
        var j = 0
        while j + 16 <= cols { store16(load16(out + j) + load16(p + j), out + j); j += 16 }
        while j < cols { out[j] += p[j]; j += 1 }
    }
}

/// Loads `n < 16` floats into the low lanes (the rest 0), so loop tails go through the same vector code as the
/// body and give the same bits.
@inline(__always) func loadPartial16(_ p: UnsafePointer<Float>, _ n: Int) -> Vec16 {
    var v = Vec16()
    for i in 0..<n { v[i] = p[i] }
    return v
}

@inline(__always) func storePartial16(_ v: Vec16, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { p[i] = v[i] }
}
