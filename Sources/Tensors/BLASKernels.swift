import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Which OpenBLAS kernel family runs Whittle's products, chosen once before the first one.
///
/// A `DYNAMIC_ARCH` OpenBLAS picks its kernels from the CPU model number when it loads. An OpenBLAS older than
/// the CPU does not know the model and falls back to "Prescott" (SSE3): Debian 12's OpenBLAS 0.3.21 does this on
/// Intel Emerald Rapids (family 6, model 207), where every GEMM then runs ~4.5× below the AVX-512 kernels the
/// same library carries (measured 32 vs 144–160 GFLOP/s on one thread with `../shared/bench/sgemm.c`).
///
/// So when OpenBLAS reports the Prescott fallback, `OPENBLAS_CORETYPE` is unset and the CPU's flags show AVX-512
/// (or AVX2 + FMA), Whittle asks OpenBLAS to re-select with the family the flags support, exactly as if the user
/// had started it with `OPENBLAS_CORETYPE=…`. A user's own `OPENBLAS_CORETYPE` is always left alone, and so is a
/// library without runtime kernel selection (the two entry points are looked up, not linked).
public enum BLASKernels {
    /// The kernel family OpenBLAS uses now (e.g. "SkylakeX", "Haswell", "Zen").
    public static var core: String {
        _ = selection
        return String(cString: openblas_get_corename())
    }

    /// What happened at start-up: nil when OpenBLAS's own choice was kept, else a sentence naming both families.
    public static var override: String? { selection }

    /// Runs once, before the first product (`BLAS.gemm` and `Threading` touch it).
    @usableFromInline static let selection: String? = select()

    /// The user's `OPENBLAS_CORETYPE` as the process started (before any re-selection).
    public static let userCoreType: String? = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }

    static func select() -> String? {
        if userCoreType != nil { return nil }
        let detected = String(cString: openblas_get_corename())
        guard detected.lowercased() == "prescott", let flags = cpuFlags() else { return nil }
        let avx512: Set<String> = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        let target: String
        if avx512.isSubset(of: flags) {
            target = flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX"
        } else if flags.isSuperset(of: ["avx2", "fma"]) {
            target = "Haswell"
        } else {
            return nil   // a CPU Prescott really is the best family for
        }
        let process = dlopen(nil, RTLD_NOW)   // the process's global symbols (RTLD_DEFAULT)
        guard let quit = dlsym(process, "gotoblas_dynamic_quit"),
              let initialize = dlsym(process, "gotoblas_dynamic_init") else { return nil }
        typealias Entry = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", target, 1)
        unsafeBitCast(quit, to: Entry.self)()
        unsafeBitCast(initialize, to: Entry.self)()
        let now = String(cString: openblas_get_corename())
        return "OpenBLAS fell back to \(detected) on this CPU; re-selected \(now) kernels from its flags"
    }

    /// The flags line of /proc/cpuinfo (Linux), nil elsewhere or when unreadable.
    public static func cpuFlags() -> Set<String>? {
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { break }
            let text = String(cString: line)
            if text.hasPrefix("flags") {
                guard let colon = text.firstIndex(of: ":") else { return nil }
                return Set(text[text.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
            }
        }
        return nil
    }
}
