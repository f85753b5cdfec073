#include "spmv.h"

#include <cstring>

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
  parallel_range(rows, 64, [&](long b, long e) {
    for (long r = b; r < e; ++r) y[r] = dot_nm24(vals + r * groups * 2, idx + r * groups, x, groups);
  });
}

}  // namespace sp
