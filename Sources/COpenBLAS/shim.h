// OpenBLAS's CBLAS interface (cblas_sgemm, openblas_set_num_threads, openblas_get_config, ...).
// The include path comes from pkg-config (`openblas`), e.g. /usr/include/x86_64-linux-gnu/openblas-pthread.
#include <cblas.h>
