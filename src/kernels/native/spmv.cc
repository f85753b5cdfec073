#include "spmv.h"

#include <cstdlib>
#include <cstring>
#if defined(SP_X86)
#include <immintrin.h>
#endif

#include "ops.h"

namespace sp {
namespace {

#if defined(SP_X86)
#define SP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SP_CLONES
#endif

inline float bf16(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// 16 independent partial sums per row, so that the compiler vectorises without reassociating.
SP_CLONES float dot_bf16(const uint16_t* w, const float* x, int n) {
  float acc[16] = {};
  int c = 0;
  for (; c + 16 <= n; c += 16)
    for (int l = 0; l < 16; ++l) acc[l] += bf16(w[c + l]) * x[c + l];
  float s = 0;
  for (; c < n; ++c) s += bf16(w[c]) * x[c];
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}

SP_CLONES float dot_f32(const float* w, const float* x, int n) {
  float acc[16] = {};
  int c = 0;
  for (; c + 16 <= n; c += 16)
    for (int l = 0; l < 16; ++l) acc[l] += w[c + l] * x[c + l];
  float s = 0;
  for (; c < n; ++c) s += w[c] * x[c];
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}

SP_CLONES float dot_nm24(const uint16_t* v, const uint8_t* idx, const float* x, int groups) {
  float acc[8] = {};
  int g = 0;
  for (; g + 8 <= groups; g += 8)
    for (int l = 0; l < 8; ++l) {
      const int b = 4 * (g + l), i = idx[g + l];
      acc[l] += bf16(v[2 * (g + l)]) * x[b + (i & 3)] + bf16(v[2 * (g + l) + 1]) * x[b + ((i >> 2) & 3)];
    }
  float s = 0;
  for (; g < groups; ++g) s += bf16(v[2 * g]) * x[4 * g + (idx[g] & 3)] + bf16(v[2 * g + 1]) * x[4 * g + ((idx[g] >> 2) & 3)];
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}

#if defined(SP_X86)
// 2:4 with AVX-512: for 16 groups (64 columns) at a time, the x values each kept weight meets are
// picked out of registers with one two-source permute per 8 groups, so the packed weights are
// read once and x is never gathered from memory.
__attribute__((target("avx512f,avx512bw,avx512vl")))
float dot_nm24_avx512(const uint16_t* v, const uint8_t* idx, const float* x, int groups) {
  const __m512i shift = _mm512_set_epi32(2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0);
  const __m512i base = _mm512_set_epi32(28, 28, 24, 24, 20, 20, 16, 16, 12, 12, 8, 8, 4, 4, 0, 0);
  const __m512i three = _mm512_set1_epi32(3);
  __m512 acc = _mm512_setzero_ps();
  int g = 0;
  for (; g + 16 <= groups; g += 16) {
    const float* xs = x + 4 * g;
    const __m512 x0 = _mm512_loadu_ps(xs), x1 = _mm512_loadu_ps(xs + 16), x2 = _mm512_loadu_ps(xs + 32), x3 = _mm512_loadu_ps(xs + 48);
    const __m512i raw = _mm512_loadu_si512(v + 2 * g);  // 32 bf16 values: groups g..g+15, two each
    const __m512 lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(raw)), 16));
    const __m512 hi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(raw, 1)), 16));
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(idx + g));  // 16 groups' positions
    const __m512i pos_lo = _mm512_add_epi32(base, _mm512_and_si512(_mm512_srlv_epi32(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(bytes, bytes)), shift), three));
    const __m512i pos_hi = _mm512_add_epi32(base, _mm512_and_si512(_mm512_srlv_epi32(_mm512_cvtepu8_epi32(_mm_unpackhi_epi8(bytes, bytes)), shift), three));
    acc = _mm512_fmadd_ps(lo, _mm512_permutex2var_ps(x0, pos_lo, x1), acc);
    acc = _mm512_fmadd_ps(hi, _mm512_permutex2var_ps(x2, pos_hi, x3), acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  for (; g < groups; ++g) s += bf16(v[2 * g]) * x[4 * g + (idx[g] & 3)] + bf16(v[2 * g + 1]) * x[4 * g + ((idx[g] >> 2) & 3)];
  return s;
}

bool has_avx512bw() {
  static const bool yes = [] {
    __builtin_cpu_init();
    const char* cap = std::getenv("SPARSIFY_ISA");
    const bool capped = cap && (std::strcmp(cap, "avx2") == 0 || std::strcmp(cap, "portable") == 0);
    return !capped && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  }();
  return yes;
}
#endif

}  // namespace

void gemv_f32(float* y, const float* w, const float* x, int rows, int cols) {
  parallel_range(rows, 64, [&](long b, long e) {
    for (long r = b; r < e; ++r) y[r] = dot_f32(w + r * cols, x, cols);
  });
}

void gemv_bf16(float* y, const uint16_t* w, const float* x, int rows, int cols) {
  parallel_range(rows, 64, [&](long b, long e) {
    for (long r = b; r < e; ++r) y[r] = dot_bf16(w + r * cols, x, cols);
  });
}

long pack_nm24_bf16(uint16_t* vals, uint8_t* idx, const float* w, int rows, int cols) {
  const int groups = cols / 4;
  for (long r = 0; r < rows; ++r)
    for (int g = 0; g < groups; ++g) {
      const float* q = w + r * cols + 4 * g;
      int kept[2] = {0, 1}, n = 0;
      for (int j = 0; j < 4; ++j)
        if (q[j] != 0.f) {
          if (n == 2) return r * cols + 4 * g;
          kept[n++] = j;
        }
      if (n == 1) kept[1] = kept[0] == 0 ? 1 : 0;  // pad with an explicit zero, positions in order
      if (kept[0] > kept[1]) std::swap(kept[0], kept[1]);
      for (int t = 0; t < 2; ++t) {
        uint32_t u;
        std::memcpy(&u, q + kept[t], 4);
        vals[(r * groups + g) * 2 + t] = (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
      }
      idx[r * groups + g] = (uint8_t)(kept[0] | (kept[1] << 2));
    }
  return -1;
}

void gemv_nm24_bf16(float* y, const uint16_t* vals, const uint8_t* idx, const float* x, int rows, int cols) {
  const int groups = cols / 4;
#if defined(SP_X86)
  if (has_avx512bw()) {
    parallel_range(rows, 64, [&](long b, long e) {
      for (long r = b; r < e; ++r) y[r] = dot_nm24_avx512(vals + r * groups * 2, idx + r * groups, x, groups);
    });
    return;
  }
#endif
  parallel_range(rows, 64, [&](long b, long e) {
    for (long r = b; r < e; ++r) y[r] = dot_nm24(vals + r * groups * 2, idx + r * groups, x, groups);
  });
}

}  // namespace sp
