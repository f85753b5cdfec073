// Adds the AVX-512 paths of spmv_impl.h (register permutes for 2:4, expanded values for bitmasks,
// in-register dequantization for GQSA); needs AVX512BW for the bf16 loads.
// GCC 12 warns about the undefined pass-through operand inside its own maskz intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define SP_SPMV_TABLE spmv_avx512
#include "spmv_impl.h"
