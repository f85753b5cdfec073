#define SP_SPMV_TABLE spmv_avx2
#include "spmv_impl.h"
