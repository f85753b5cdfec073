// Baseline build: plain loops, vectorised for SSE (x86-64) or NEON (ARM).
#define SP_SPMV_TABLE spmv_portable
#include "spmv_impl.h"
