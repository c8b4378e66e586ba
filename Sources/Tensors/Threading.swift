import COpenBLAS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How many threads Whittle's kernels use.
///
/// The default is the number of online processors, or `WHITTLE_THREADS` when set. `configure(threads:)` resizes
/// Whittle's pool (benchmarks run at 1 and 2 threads). OpenBLAS itself always runs on one thread: `BLAS.gemm`
/// splits large products over the pool.
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
            quietBLASThreads()
            openblas_set_num_threads(1)
            current = made
            return made
        }
    }

    /// The number of threads kernels use now.
    public static var threadCount: Int { pool.threadCount }

    /// Uses `threads` threads from now on (Whittle's pool; OpenBLAS stays on one).
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
        quietBLASThreads()
        openblas_set_num_threads(1)
    }

    /// OpenBLAS's idle threads spin (yielding) for 2^28 cycles, ~70 ms, after every threaded call, taking a core
    /// from whatever runs next. Whittle never runs OpenBLAS threaded, but `whittle bench gemm` times OpenBLAS's own
    /// threading beside Whittle's, interleaved. `OPENBLAS_THREAD_TIMEOUT=4` (2^4 cycles, the minimum) lets them
    /// sleep at once. OpenBLAS reads the variable when it loads, so it is set here, re-read, and OpenBLAS's threads
    /// restarted (they come back at the next threaded call). A value the user set is kept. Skipped when the library
    /// lacks the calls (non-pthread builds).
    private static func quietBLASThreads() {
        guard !quieted.withLock({ done in defer { done = true }; return done }) else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0)
        guard let read = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "openblas_read_env"),
              let stop = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_") else { return }
        unsafeBitCast(read, to: (@convention(c) () -> Void).self)()
        _ = unsafeBitCast(stop, to: (@convention(c) () -> Int32).self)()
    }
    private static let quieted = Mutex(false)

    /// The threads OpenBLAS runs a call on (always 1 in Whittle; see `BLAS.gemm`).
    public static var blasThreadCount: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's build configuration and the kernel family it picked for this CPU.
    public static var blasDescription: (config: String, core: String) {
        (String(cString: openblas_get_config()), BLASKernels.core)
    }
}

extension Threading {
    /// Runs `body(worker, unit)` for every unit in `0..<units`, the pool's threads taking units one at a time; BLAS
    /// calls in `body` run on the thread that makes them (the pool is busy, so a large `BLAS.gemm` runs its blocks
    /// one after another there).
    ///
    /// For many independent small products (attention's per-head blocks), where OpenBLAS's own threads cost more in
    /// hand-offs than they gain: heads in parallel, each product on one thread. (Nesting OpenBLAS's threads inside
    /// the pool's instead was measured 10–15× slower at 2 threads.) `worker` is in `0..<threadCount` and tells
    /// apart the scratch of units running at the same time; a worker runs its units one after another. Which
    /// worker takes which unit varies from run to run, so a unit's result must not depend on it. Pool loops inside
    /// `body` run on the calling thread. Call it from the thread that drives the kernels, not from inside a pool job.
    public static func forEachUnit(_ units: Int, _ body: (_ worker: Int, _ unit: Int) -> Void) {
        let pool = self.pool
        let workers = min(pool.threadCount, units)
        if workers <= 1 {
            for u in 0..<units { body(0, u) }
            return
        }
        let next = Atomic<Int>(0)
        pool.run(chunks: workers) { worker in
            while true {
                let u = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if u >= units { return }
                body(worker, u)
            }
        }
    }
}
