#include "gemm.h"

#include "cpu.h"

namespace sp {
namespace {

using GemmFn = void (*)(const GemmArgs&);

// Chosen once: the hot path never re-tests CPU features.
struct Dispatch {
  GemmFn fn = gemm_portable;
  Isa isa = Isa::portable;
  Dispatch() {
    isa = detect_isa();
#if defined(SP_X86)
    if (isa == Isa::avx512) fn = gemm_avx512;
    else if (isa == Isa::avx2) fn = gemm_avx2;
#endif
  }
};

const Dispatch& dispatch() {
  static const Dispatch d;
  return d;
}

}  // namespace

void gemm(const GemmArgs& g) { dispatch().fn(g); }
const char* gemm_isa() { return isa_name(dispatch().isa); }

void gemm_ref(const GemmArgs& g) {
  for (int i = 0; i < g.M; ++i)
    for (int j = 0; j < g.N; ++j) {
      double s = 0;
      for (int p = 0; p < g.K; ++p) {
        const float a = g.trans_a ? g.A[(long)p * g.lda + i] : g.A[(long)i * g.lda + p];
        const float b = g.trans_b ? g.B[(long)j * g.ldb + p] : g.B[(long)p * g.ldb + j];
        s += (double)a * b;
      }
      float& c = g.C[(long)i * g.ldc + j];
      c = (float)s + (g.accumulate ? c : 0.f) + (g.bias ? g.bias[j] : 0.f);
    }
}

}  // namespace sp
