#include "cpu.h"

#include <cstdlib>
#include <cstring>

namespace sp {

Isa detect_isa() {
  Isa best = Isa::portable;
#if defined(SP_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::avx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")) best = Isa::avx512;
#endif
  // Lets tests and benchmarks exercise every code path on one machine.
  if (const char* cap = std::getenv("SPARSIFY_ISA")) {
    Isa want = best;
    if (!std::strcmp(cap, "portable")) want = Isa::portable;
    if (!std::strcmp(cap, "avx2")) want = Isa::avx2;
    if (static_cast<int>(want) < static_cast<int>(best)) best = want;
  }
  return best;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "portable";
  }
}

}  // namespace sp
