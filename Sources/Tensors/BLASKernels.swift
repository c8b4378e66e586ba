import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Which OpenBLAS kernel family runs Whittle's products, chosen once before the first one.
///
/// A `DYNAMIC_ARCH` OpenBLAS picks its kernels from the CPU model number when it loads. Whittle overrides that
/// choice in two measured cases, exactly as if the user had started it with `OPENBLAS_CORETYPE=…`:
///
/// - **Prescott fallback.** An OpenBLAS older than the CPU does not know the model and falls back to "Prescott"
///   (SSE3): Debian 12's OpenBLAS 0.3.21 does this on Intel Emerald Rapids (family 6, model 207), where every GEMM
///   then runs ~4.5× below the AVX-512 kernels the same library carries (measured 32 vs 144–160 GFLOP/s on one
///   thread with `../shared/bench/sgemm.c`). Whittle re-selects the family the CPU's flags support.
/// - **AMD Zen 4** (family 25 with AVX-512). OpenBLAS picks its Cooperlake (or SkylakeX) AVX-512 kernels there,
///   but Zen 4 executes a 512-bit FMA as two 256-bit halves, so those kernels have no width advantage, and the
///   Haswell (AVX2) family's blocking runs faster: `whittle bench gemm`, OpenBLAS 0.3.21, medians of 3 interleaved
///   runs of SmolLM2-135M's products at 512 tokens, 1.03–1.09× on one thread (100–102 → 104–110 GFLOP/s); whole
///   training updates 1.04–1.06× (`whittle bench train`). Whittle re-selects Haswell. (Haswell's kernels round
///   differently depending on how a product is partitioned, which is one reason `BLAS.gemm` partitions products
///   itself, by thread count only.)
///
/// A user's own `OPENBLAS_CORETYPE` is always left alone, and so is a library without runtime kernel selection
/// (the two entry points are looked up, not linked).
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

    /// The CPU as /proc/cpuinfo describes its first processor.
    public struct CPU: Sendable, Equatable {
        public var vendor: String
        public var family: Int?
        public var flags: Set<String>
        public init(vendor: String, family: Int?, flags: Set<String>) {
            self.vendor = vendor
            self.family = family
            self.flags = flags
        }
    }

    /// The kernel family Whittle prefers over OpenBLAS's choice `detected` on `cpu`, or nil to keep it.
    public static func preferredCore(detected: String, cpu: CPU) -> String? {
        let avx512: Set<String> = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        let hasAVX512 = avx512.isSubset(of: cpu.flags), hasAVX2 = cpu.flags.isSuperset(of: ["avx2", "fma"])
        switch detected.lowercased() {
        case "prescott":
            if hasAVX512 && (cpu.vendor != "AuthenticAMD" || cpu.family != 25) {
                return cpu.flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX"
            }
            return hasAVX2 ? "Haswell" : nil   // else a CPU Prescott really is the best family for
        case "skylakex", "cooperlake", "sapphirerapids":
            return cpu.vendor == "AuthenticAMD" && cpu.family == 25 && hasAVX2 ? "Haswell" : nil
        default:
            return nil
        }
    }

    static func select() -> String? {
        if userCoreType != nil { return nil }
        let detected = String(cString: openblas_get_corename())
        guard let cpu = cpuInfo(), let target = preferredCore(detected: detected, cpu: cpu) else { return nil }
        let process = dlopen(nil, RTLD_NOW)   // the process's global symbols (RTLD_DEFAULT)
        guard let quit = dlsym(process, "gotoblas_dynamic_quit"),
              let initialize = dlsym(process, "gotoblas_dynamic_init") else { return nil }
        typealias Entry = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", target, 1)
        unsafeBitCast(quit, to: Entry.self)()
        unsafeBitCast(initialize, to: Entry.self)()
        let now = String(cString: openblas_get_corename())
        let why = detected.lowercased() == "prescott" ? "fell back to \(detected) on this CPU"
                                                      : "chose \(detected) on this AMD Zen 4 CPU"
        return "OpenBLAS \(why); re-selected \(now) kernels (set OPENBLAS_CORETYPE to choose yourself)"
    }

    /// The flags line of /proc/cpuinfo (Linux), nil elsewhere or when unreadable.
    public static func cpuFlags() -> Set<String>? { cpuInfo()?.flags }

    /// Vendor, family and flags of the first processor in /proc/cpuinfo (Linux), nil elsewhere or when unreadable.
    public static func cpuInfo() -> CPU? {
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        var vendor = "", family: Int?
        while getline(&line, &capacity, file) > 0 {
            guard let line else { break }
            let text = String(cString: line)
            guard let colon = text.firstIndex(of: ":") else { continue }
            let key = trimmed(text[..<colon])
            let value = trimmed(text[text.index(after: colon)...])
            switch key {
            case "vendor_id": vendor = value
            case "cpu family": family = Int(value)
            case "flags":
                return CPU(vendor: vendor, family: family, flags: Set(value.split(separator: " ").map(String.init)))
            default: break
            }
        }
        return nil
    }

    private static func trimmed(_ s: Substring) -> String {
        String(s.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
