import COpenBLAS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How many threads Whittle's kernels and OpenBLAS use.
///
/// The default is the number of online processors, or `WHITTLE_THREADS` when set. `configure(threads:)`
/// sets both Whittle's pool and OpenBLAS's thread count (benchmarks run at 1 and 2 threads).
public enum Threading {
    private static let state = Mutex<ThreadPool?>(nil)

    /// The thread count used when nothing was configured.
    public static var defaultThreadCount: Int {
        if let text = getenv("WHITTLE_THREADS").map({ String(cString: $0) }), let n = Int(text), n >= 1 {
            return n
        }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    static var pool: ThreadPool {
        state.withLock { current in
            if let current { return current }
            _ = BLASKernels.selection
            let made = ThreadPool(threadCount: defaultThreadCount)
            openblas_set_num_threads(Int32(made.threadCount))
            current = made
            return made
        }
    }

    /// The number of threads kernels use now.
    public static var threadCount: Int { pool.threadCount }

    /// Uses `threads` threads from now on, for Whittle's pool and for OpenBLAS.
    /// Call it between kernels, not while one runs.
    public static func configure(threads: Int) {
        precondition(threads >= 1, "thread count must be at least 1, got \(threads)")
        let old: ThreadPool? = state.withLock { current in
            if current?.threadCount == threads { return nil }
            let previous = current
            current = ThreadPool(threadCount: threads)
            return previous
        }
        old?.shutdown()
        _ = BLASKernels.selection
        openblas_set_num_threads(Int32(threads))
    }

    /// OpenBLAS's build configuration and the kernel family it picked for this CPU.
    public static var blasDescription: (config: String, core: String) {
        (String(cString: openblas_get_config()), BLASKernels.core)
    }
}
