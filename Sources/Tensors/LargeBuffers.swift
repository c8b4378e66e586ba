#if canImport(Glibc)
import Glibc
#endif

/// Memory for large tensors (`threshold` bytes and up): anonymous mappings, returned to the kernel when released, so
/// the process's resident memory follows the tensors alive. (glibc's heap keeps freed blocks resident and reuses them
/// only where a later request fits: in SmolLM2-135M full fine-tuning about 300 MB of a 2.5 GB peak was such memory.)
///
/// The most recently released mappings, up to `cacheBytes` in all (older ones are unmapped first), are kept and
/// handed out again for the same size: training and inference allocate the same shapes over and over, and a fresh
/// mapping costs a page fault per page touched. A fresh mapping reads as zeros, so zeroed requests skip the memset
/// unless the memory comes from the cache.
///
/// Measured on SmolLM2-135M full fine-tuning, batch 1, one thread (`whittle bench train`): the heap peaked at
/// ~2480 MB; these mappings at ~2130 MB, ~2% slower. A 256 MB cache gave ~2310 MB, 1 GB ~2370 MB: the peak grows
/// with what the cache holds, the speed barely.
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
        pthread_mutex_unlock(mutex)
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
        guard n <= cacheBytes else { munmap(p, n); return }
        var evicted: [(size: Int, pointer: UnsafeMutableRawPointer)] = []
        pthread_mutex_lock(mutex)
        cache.append((n, p))
        cached += n
        var drop = 0
        while cached > cacheBytes {
            cached -= cache[drop].size
            drop += 1
        }
        if drop > 0 {
            evicted = Array(cache[..<drop])
            cache.removeFirst(drop)
        }
        pthread_mutex_unlock(mutex)
        for (size, q) in evicted { munmap(q, size) }
    }
}
