// 32 zmm registers: 12×32 accumulators (24) + 2 B vectors + broadcasts.
#define SP_GEMM_FN gemm_avx512
#define SP_VEC_BYTES 64
#define SP_MR 12
#include "gemm_impl.h"
