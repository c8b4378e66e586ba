#ifndef WHITTLE_CBENCHSUPPORT_H
#define WHITTLE_CBENCHSUPPORT_H
// C twins of Whittle's benchmark loops: the same cblas_sgemm calls timed from C, and probes of the
// machine's clock and FMA throughput (which Swift cannot express without inline assembly).

/// Calls cblas_sgemm (row-major, alpha 1, beta 0) `iters` times on OpenBLAS's own `threads` threads and writes
/// each call's seconds to `times`; OpenBLAS is set back to one thread (Whittle's setting) afterwards.
void whittle_c_time_sgemm(int transA, int transB, int m, int n, int k,
                          const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                          int threads, int iters, double *times);

/// Effective clock of one thread in Hz, from a chain of dependent integer adds (1 cycle each on current x86).
/// Runs on `threads` threads at once and returns the mean per-thread figure. 0 where unsupported.
double whittle_c_probe_clock_hz(int threads, double seconds);

/// Measured fp32 FMA throughput (FLOP/s) of `threads` threads together: 12 independent FMA chains, the better
/// of 256-bit and (where present) 512-bit vectors.
/// 0 where the CPU has no FMA.
double whittle_c_probe_fma_flops(int threads, double seconds);

/// Widest fp32 vector the CPU supports (lanes): 16 with AVX-512F, 8 with AVX2/FMA, else 4.
int whittle_c_vector_lanes(void);

#endif
