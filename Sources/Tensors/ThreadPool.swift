#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A small pool of worker threads that splits loops that are not BLAS calls across the cores.
///
/// Workers spin briefly after a job (so back-to-back kernels start fast) and then block on a condition
/// variable, so a host that time-slices both vCPUs onto one core costs no more than running on one thread.
/// Calls made while the pool is busy (nested or concurrent) run serially on the calling thread.
public final class ThreadPool: @unchecked Sendable {
    /// The pool every kernel uses. Its size is `Threading.threadCount` at first use; see `Threading.configure`.
    public static var shared: ThreadPool { Threading.pool }

    /// Threads that run a job, counting the caller.
    public let threadCount: Int

    private typealias Job = (Int) -> Void

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private let busy = Atomic<Bool>(false)
    private let generation = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let active = Atomic<Int>(0)
    private let callerSleeping = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    nonisolated(unsafe) private var job: Job?
    nonisolated(unsafe) private var chunkCount = 0
    private var threads: [pthread_t] = []

    /// How many polls of the job counter a thread makes before it blocks (a few tens of microseconds).
    private static let spinPolls = 20_000

    public init(threadCount: Int) {
        precondition(threadCount >= 1, "a pool needs at least one thread")
        self.threadCount = threadCount
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(finished, nil)
        for _ in 1..<threadCount {
            let box = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { arg in
                let pool = Unmanaged<ThreadPool>.fromOpaque(arg!).takeRetainedValue()
                pool.workerLoop()
                return nil
            }, box)
            precondition(rc == 0, "pthread_create failed with \(rc)")
            threads.append(thread)
        }
    }

    /// Stops the workers. The shared pool lives for the whole process; tests that make pools call this.
    public func shutdown() {
        pthread_mutex_lock(mutex)
        stopping.store(true, ordering: .sequentiallyConsistent)
        _ = generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        for t in threads { pthread_join(t, nil) }
        threads = []
    }

    /// Runs `body(chunk)` for every chunk in `0..<chunks`, spread over the pool's threads (the caller is one
    /// of them). Returns when all chunks are done. Chunks are handed out dynamically, so a slow core takes fewer.
    public func run(chunks: Int, _ body: (Int) -> Void) {
        if chunks <= 0 { return }
        if chunks == 1 || threadCount == 1 || !busy.compareExchange(
            expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            for c in 0..<chunks { body(c) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            pthread_mutex_lock(mutex)
            job = escapable
            chunkCount = chunks
            nextChunk.store(0, ordering: .relaxed)
            _ = generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)

            work(escapable, chunks: chunks)

            // No new worker may join once every chunk is taken; then wait for the joined ones to leave,
            // spinning briefly before blocking. Only then may `body` go out of scope.
            pthread_mutex_lock(mutex)
            job = nil
            pthread_mutex_unlock(mutex)
            var polls = 0
            while active.load(ordering: .sequentiallyConsistent) > 0 {
                polls += 1
                if polls < Self.spinPolls { continue }
                pthread_mutex_lock(mutex)
                callerSleeping.store(true, ordering: .sequentiallyConsistent)
                while active.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_cond_wait(finished, mutex)
                }
                callerSleeping.store(false, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
            }
        }
        busy.store(false, ordering: .releasing)
    }

    private func work(_ body: Job, chunks: Int) {
        while true {
            let c = nextChunk.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
            if c >= chunks { return }
            body(c)
        }
    }

    /// Takes chunks of the posted job. Every reference to the caller's closure ends when this returns,
    /// before the worker reports that it left (the caller's closure must not outlive `run`).
    @inline(never)
    private func workOnCurrentJob(chunks: Int) {
        pthread_mutex_lock(mutex)
        let body = job
        pthread_mutex_unlock(mutex)
        if let body { work(body, chunks: chunks) }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            // Spin briefly for the next job, then block until one is posted.
            var polls = 0
            while generation.load(ordering: .acquiring) == seen && polls < Self.spinPolls { polls += 1 }
            pthread_mutex_lock(mutex)
            while generation.load(ordering: .sequentiallyConsistent) == seen {
                pthread_cond_wait(wake, mutex)
            }
            seen = generation.load(ordering: .sequentiallyConsistent)
            if stopping.load(ordering: .sequentiallyConsistent) {
                pthread_mutex_unlock(mutex)
                return
            }
            // Join the job only while the caller has not closed it; the caller waits for `active` to drain.
            let chunks = chunkCount
            let joined = job != nil
            if joined { active.wrappingAdd(1, ordering: .sequentiallyConsistent) }
            pthread_mutex_unlock(mutex)
            if !joined { continue }
            workOnCurrentJob(chunks: chunks)
            active.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            if callerSleeping.load(ordering: .sequentiallyConsistent) {
                pthread_mutex_lock(mutex)
                pthread_cond_signal(finished)
                pthread_mutex_unlock(mutex)
            }
        }
    }
}

// MARK: - Splitting loops

extension ThreadPool {
    /// Splits `0..<count` into contiguous ranges of at least `grain` elements and runs `body` on each,
    /// in parallel. Use it for loops that are not BLAS calls; `grain` keeps tiny loops on one thread.
    public func parallelFor(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let maxChunks = threadCount * 4
        let chunks = min(maxChunks, max(1, count / max(grain, 1)))
        if chunks == 1 { body(0..<count); return }
        let base = count / chunks, extra = count % chunks
        run(chunks: chunks) { c in
            let start = c * base + min(c, extra)
            body(start..<(start + base + (c < extra ? 1 : 0)))
        }
    }
}
