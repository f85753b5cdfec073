#include "spmv.h"

#include <algorithm>

#include "cpu.h"

namespace sp {

const SpmvKernels& spmv() {
  static const SpmvKernels* table = [] {
#if defined(SP_X86)
    switch (detect_isa()) {
      case Isa::avx512: return &spmv_avx512;
      case Isa::avx2: return &spmv_avx2;
      default: break;
    }
#endif
    return &spmv_portable;
  }();
  return *table;
}

Act aligned_x(const Act& a, std::vector<float>& scratch) {
  if (reinterpret_cast<uintptr_t>(a.x) % 64 == 0) return a;
  const long n = (long)a.tokens * a.cols;
  scratch.resize(n + 16);
  float* x = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) % 64 / 4) % 16;
  std::copy(a.x, a.x + n, x);
  return Act{a.y, x, a.tokens, a.rows, a.cols};
}

void nm24_blocks(uint8_t* pos, long rows, int cols, bool to_blocks) {
  const int groups = cols / 4;
  for (long r = 0; r < rows; ++r)
    for (int b = 0; b + 16 <= groups; b += 16) {
      uint8_t* p = pos + r * groups + b;
      uint8_t slot[32];
      for (int j = 0; j < 16; ++j) {
        if (to_blocks) { slot[2 * j] = p[j] & 15; slot[2 * j + 1] = p[j] >> 4; }
        else { slot[j] = p[j] & 15; slot[16 + j] = p[j] >> 4; }
      }
      for (int j = 0; j < 16; ++j)
        p[j] = to_blocks ? (uint8_t)(slot[j] | slot[16 + j] << 4) : (uint8_t)(slot[2 * j] | slot[2 * j + 1] << 4);
    }
}

long pack_nm(float* vals, uint8_t* pos, const float* w, int rows, int cols, int n, int m) {
  const long groups = cols / m, per_row = groups * n, stride = (per_row + 1) / 2;
  for (long r = 0; r < rows; ++r) {
    uint8_t* p = pos + r * stride;
    for (long b = 0; b < stride; ++b) p[b] = 0;
    long k = r * per_row;
    for (long g = 0; g < groups; ++g) {
      const float* q = w + r * cols + g * m;
      int kept[16], count = 0;
      for (int j = 0; j < m; ++j)
        if (q[j] != 0.f) {
          if (count == n) return r * cols + g * m;
          kept[count++] = j;
        }
      // Fewer than N non-zeros: pad with the first unused positions, all positions in order.
      for (int j = 0; count < n; ++j) {
        bool used = false;
        for (int i = 0; i < count; ++i) used |= kept[i] == j;
        if (!used) kept[count++] = j;
      }
      std::sort(kept, kept + n);
      for (int i = 0; i < n; ++i, ++k) {
        vals[k] = q[kept[i]] == 0.f ? 0.f : q[kept[i]];
        const long slot = k - r * per_row;
        p[slot >> 1] |= (uint8_t)(kept[i] << ((slot & 1) * 4));
      }
    }
  }
  return -1;
}

void unpack_nm(float* out, const float* vals, const uint8_t* pos, int rows, int cols, int n, int m) {
  const long groups = cols / m, per_row = groups * n, stride = (per_row + 1) / 2;
  for (long r = 0; r < rows; ++r) {
    for (long c = 0; c < cols; ++c) out[r * cols + c] = 0.f;
    for (long s = 0; s < per_row; ++s) {
      const int j = (pos[r * stride + (s >> 1)] >> ((s & 1) * 4)) & 15;
      out[r * cols + (s / n) * m + j] += vals[r * per_row + s];
    }
  }
}

}  // namespace sp
