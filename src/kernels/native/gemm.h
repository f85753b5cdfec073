// C = op(A)·op(B) [+ C] [+ bias], float32, row-major.
// op(A) is (M, K): A[i*lda + p], or A[p*lda + i] when trans_a.
// op(B) is (K, N): B[p*ldb + j], or B[j*ldb + p] when trans_b (a linear layer's (out, in) weight).
#pragma once

namespace sp {

struct GemmArgs {
  int M, N, K;
  const float* A; long lda; bool trans_a;
  const float* B; long ldb; bool trans_b;
  float* C; long ldc;
  bool accumulate;     // add to the existing C instead of overwriting it
  const float* bias;   // (N) or null
};

// Threaded over the pool unless called from inside a pool task.
void gemm(const GemmArgs& g);
// Scalar reference, the oracle the tests hold the fast paths to.
void gemm_ref(const GemmArgs& g);
const char* gemm_isa();

// One instantiation of the blocked kernel per instruction set (gemm_impl.h).
void gemm_portable(const GemmArgs& g);
void gemm_avx2(const GemmArgs& g);
void gemm_avx512(const GemmArgs& g);

}  // namespace sp
