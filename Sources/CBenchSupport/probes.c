#include "CBenchSupport.h"
#include <cblas.h>
#include <pthread.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void whittle_c_time_sgemm(int transA, int transB, int m, int n, int k,
                          const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                          int threads, int iters, double *times) {
    openblas_set_num_threads(threads);
    enum CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
    for (int i = 0; i < iters; i++) {
        double t0 = now_seconds();
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
        times[i] = now_seconds() - t0;
    }
    openblas_set_num_threads(1);
}

// MARK: - Probes run on several threads at once

typedef struct {
    double seconds;
    double result;
    int kind; // 0 clock, 1 fma
} probe_job;

static double clock_probe(double seconds) {
#if defined(__x86_64__)
    unsigned long x = 0;
    long rounds = 0;
    double t0 = now_seconds(), elapsed = 0;
    do {
        for (int r = 0; r < 100000; r++) {
            __asm__ volatile(
                "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                : "+r"(x));
        }
        rounds += 100000;
        elapsed = now_seconds() - t0;
    } while (elapsed < seconds);
    return (double)rounds * 8.0 / elapsed;
#else
    (void)seconds;
    return 0;
#endif
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static double fma_probe(double seconds) {
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m256 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    long rounds = 0;
    double t0 = now_seconds(), elapsed = 0;
    do {
        for (int r = 0; r < 10000; r++) {
            c0 = _mm256_fmadd_ps(a, c0, b); c1 = _mm256_fmadd_ps(a, c1, b);
            c2 = _mm256_fmadd_ps(a, c2, b); c3 = _mm256_fmadd_ps(a, c3, b);
            c4 = _mm256_fmadd_ps(a, c4, b); c5 = _mm256_fmadd_ps(a, c5, b);
            c6 = _mm256_fmadd_ps(a, c6, b); c7 = _mm256_fmadd_ps(a, c7, b);
            c8 = _mm256_fmadd_ps(a, c8, b); c9 = _mm256_fmadd_ps(a, c9, b);
            c10 = _mm256_fmadd_ps(a, c10, b); c11 = _mm256_fmadd_ps(a, c11, b);
        }
        rounds += 10000;
        elapsed = now_seconds() - t0;
    } while (elapsed < seconds);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float sink[8];
    _mm256_storeu_ps(sink, s);
    __asm__ volatile("" : : "r"(sink[0]) : "memory");
    return (double)rounds * 12.0 * 8.0 * 2.0 / elapsed;
}
#endif

#if defined(__x86_64__)
__attribute__((target("avx512f")))
static double fma512_probe(double seconds) {
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m512 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    long rounds = 0;
    double t0 = now_seconds(), elapsed = 0;
    do {
        for (int r = 0; r < 10000; r++) {
            c0 = _mm512_fmadd_ps(a, c0, b); c1 = _mm512_fmadd_ps(a, c1, b);
            c2 = _mm512_fmadd_ps(a, c2, b); c3 = _mm512_fmadd_ps(a, c3, b);
            c4 = _mm512_fmadd_ps(a, c4, b); c5 = _mm512_fmadd_ps(a, c5, b);
            c6 = _mm512_fmadd_ps(a, c6, b); c7 = _mm512_fmadd_ps(a, c7, b);
            c8 = _mm512_fmadd_ps(a, c8, b); c9 = _mm512_fmadd_ps(a, c9, b);
            c10 = _mm512_fmadd_ps(a, c10, b); c11 = _mm512_fmadd_ps(a, c11, b);
        }
        rounds += 10000;
        elapsed = now_seconds() - t0;
    } while (elapsed < seconds);
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    float sink[16];
    _mm512_storeu_ps(sink, s);
    __asm__ volatile("" : : "r"(sink[0]) : "memory");
    return (double)rounds * 12.0 * 16.0 * 2.0 / elapsed;
}
#endif

static void *probe_thread(void *arg) {
    probe_job *job = (probe_job *)arg;
    if (job->kind == 0) {
        job->result = clock_probe(job->seconds);
    } else {
#if defined(__x86_64__)
        double ymm = __builtin_cpu_supports("fma") ? fma_probe(job->seconds) : 0;
        double zmm = __builtin_cpu_supports("avx512f") ? fma512_probe(job->seconds) : 0;
        job->result = ymm > zmm ? ymm : zmm;
#else
        job->result = 0;
#endif
    }
    return 0;
}

static double run_probe(int kind, int threads, double seconds, int mean) {
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    pthread_t tid[64];
    probe_job jobs[64];
    for (int i = 0; i < threads; i++) {
        jobs[i].seconds = seconds;
        jobs[i].kind = kind;
        jobs[i].result = 0;
        if (i > 0) pthread_create(&tid[i], 0, probe_thread, &jobs[i]);
    }
    probe_thread(&jobs[0]);
    double total = jobs[0].result;
    for (int i = 1; i < threads; i++) {
        pthread_join(tid[i], 0);
        total += jobs[i].result;
    }
    return mean ? total / threads : total;
}

double whittle_c_probe_clock_hz(int threads, double seconds) { return run_probe(0, threads, seconds, 1); }

double whittle_c_probe_fma_flops(int threads, double seconds) { return run_probe(1, threads, seconds, 0); }

int whittle_c_vector_lanes(void) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
#endif
    return 4;
}
