import Tensors

// Small SIMD helpers for the row loops in this target (Tensors keeps its own internal).

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> Vec16 {
    UnsafeRawPointer(p).loadUnaligned(as: Vec16.self)
}

@inline(__always) func store16(_ v: Vec16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec16.self)
}

/// Rows handled per parallel chunk so a chunk has at least ~32K elements of work.
@inline(__always) func rowGrain(_ cols: Int) -> Int { max(1, (1 << 15) / max(cols, 1)) }
