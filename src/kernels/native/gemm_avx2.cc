// 16 ymm registers: 6×16 accumulators (12) + 2 B vectors + 1 broadcast.
#define SP_GEMM_FN gemm_avx2
#define SP_VEC_BYTES 32
#define SP_MR 6
#include "gemm_impl.h"
