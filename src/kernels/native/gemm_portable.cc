// Baseline build: 16-byte vectors lower to SSE on x86-64 and NEON on ARM.
#define SP_GEMM_FN gemm_portable
#define SP_VEC_BYTES 16
#define SP_MR 6
#include "gemm_impl.h"
