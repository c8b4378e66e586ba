import CBenchSupport
import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// What the machine can do, measured at the start of a benchmark: effective clock per thread, measured FMA
/// throughput, and the theoretical fp32 peak derived from them.
public struct MachineProbe: Codable, Sendable {
    public var cpu: String
    public var threads: Int
    /// Effective clock per thread with `threads` threads busy (GHz). About half the nominal clock means the
    /// host is time-slicing both vCPUs on one core ("slow mode", see ../shared/bench/README.md).
    public var clockGHz: Double
    /// fp32 FLOP per cycle per core measured with independent FMA chains, rounded to a power of two.
    public var flopsPerCycle: Double
    /// Measured FMA throughput of `threads` threads (GFLOP/s).
    public var measuredFMAGFLOPS: Double
    /// `clockGHz × flopsPerCycle × threads`.
    public var theoreticalPeakGFLOPS: Double
    public var blasConfig: String
    public var blasCore: String
    /// Set when Whittle re-selected OpenBLAS's kernels at start-up (see `BLASKernels`).
    public var blasCoreOverride: String?

    public static func measure(threads: Int) -> MachineProbe {
        let clock = whittle_c_probe_clock_hz(Int32(threads), 0.2)
        let fma = whittle_c_probe_fma_flops(Int32(threads), 0.2)
        let perCycle = clock > 0 ? fma / Double(threads) / clock : 0
        let rounded = perCycle > 0 ? pow(2, log2(perCycle).rounded()) : 0  // FMA pipes × lanes × 2 is a power of two
        let blas = Threading.blasDescription
        return MachineProbe(
            cpu: cpuModelName(), threads: threads, clockGHz: clock / 1e9, flopsPerCycle: rounded,
            measuredFMAGFLOPS: fma / 1e9, theoreticalPeakGFLOPS: clock / 1e9 * rounded * Double(threads),
            blasConfig: blas.config, blasCore: blas.core, blasCoreOverride: BLASKernels.override)
    }

    static func cpuModelName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        let line = text.split(separator: "\n").first { $0.hasPrefix("model name") }
        return line?.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
    }
}

/// Monotonic seconds.
@inline(__always)
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    if s.isEmpty { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
