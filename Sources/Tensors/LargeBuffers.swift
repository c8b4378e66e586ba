#if canImport(Glibc)
import Glibc
#endif

/// Memory for large tensors (`threshold` bytes and up): anonymous mappings, returned to the kernel when released, so
/// the process's resident memory follows the tensors alive. (glibc's heap keeps freed blocks resident and reuses them
/// only where a later request fits: in SmolLM2-135M full fine-tuning about 300 MB of a 2.5 GB peak was such memory.)
///
/// Released mappings are kept and handed out again for the same size, most recent first: training and inference
/// allocate the same shapes over and over, and a fresh mapping costs the kernel a page fault and a zeroing pass per
/// page. The cache may hold `cacheBytes`, or more while memory in use is below its high-water mark: up to that mark
/// minus what is in use, so kept buffers never lift the process above the peak its live tensors already reached (plus
/// `cacheBytes`). Oldest buffers are unmapped first. In training this keeps what backward frees for the next forward.
/// A fresh mapping reads as zeros, so zeroed requests skip the memset unless the memory comes from the cache.
///
/// Measured with `whittle bench train` on SmolLM2-135M, one thread: full fine-tuning batch 1 peaked at ~2480 MB on the
/// heap and ~2130 MB here; a plain 64 MB cache (no high-water allowance) made LoRA batch 4 ~8% slower than the heap,
/// re-faulting every activation each update.
enum LargeBuffers {
    static let threshold = 1 << 20
    static let cacheBytes = 64 << 20

    nonisolated(unsafe) private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()
    /// Released buffers, oldest first: (mapped size, address).
    nonisolated(unsafe) private static var cache: [(size: Int, pointer: UnsafeMutableRawPointer)] = []
    nonisolated(unsafe) private static var cached = 0
    /// Bytes handed out and not yet released, and the most there ever were.
    nonisolated(unsafe) private static var inUse = 0
    nonisolated(unsafe) private static var highWater = 0

    /// Unmaps the oldest cached buffers until the cache fits its allowance; call with the mutex held, then unmap what
    /// this returns after unlocking.
    private static func evict() -> [(size: Int, pointer: UnsafeMutableRawPointer)] {
        let allowance = max(cacheBytes, highWater - inUse)
        var drop = 0, total = cached
        while total > allowance {
            total -= cache[drop].size
            drop += 1
        }
        guard drop > 0 else { return [] }
        let evicted = Array(cache[..<drop])
        cache.removeFirst(drop)
        cached = total
        return evicted
    }

    /// The mapping size for `bytes`: whole pages.
    static func mappedSize(_ bytes: Int) -> Int { (bytes + 4095) & ~4095 }

    /// Page-aligned memory for `bytes`, zero-filled when `zeroed`; nil when the mapping fails (callers use the heap).
    static func obtain(_ bytes: Int, zeroed: Bool) -> UnsafeMutableRawPointer? {
        let n = mappedSize(bytes)
        pthread_mutex_lock(mutex)
        var reused: UnsafeMutableRawPointer?
        if let i = cache.lastIndex(where: { $0.size == n }) {
            reused = cache.remove(at: i).pointer
            cached -= n
        }
        inUse += n
        highWater = max(highWater, inUse)
        let evicted = evict()
        pthread_mutex_unlock(mutex)
        for (size, q) in evicted { munmap(q, size) }
        if let reused {
            if zeroed { memset(reused, 0, bytes) }
            return reused
        }
        let p = mmap(nil, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        // 2 MiB pages where the mapping can hold them: one fault (and one kernel zeroing pass) per 2 MiB.
        if n >= 2 << 20 { madvise(p, n, MADV_HUGEPAGE) }
        return p
    }

    /// Gives back memory from `obtain(bytes, …)`: kept for reuse while the cache has room, else unmapped.
    static func release(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let n = mappedSize(bytes)
        pthread_mutex_lock(mutex)
        inUse -= n
        cache.append((n, p))
        cached += n
        let evicted = evict()
        pthread_mutex_unlock(mutex)
        for (size, q) in evicted { munmap(q, size) }
    }
}
