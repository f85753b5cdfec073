#include "own_groups.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "export_quant.h"
#include "ops.h"

namespace sp {
namespace {

// Math.round for any double: past 2^52 every double is an integer already.
inline double round_any(double x) { return std::fabs(x) < 0x1p52 ? js_round(x) : x; }

// The distinct values of v with 0 (at most 16, sorted), or 0 when there are more or one is not finite
// (NaN and ±inf never pass the bitwise check).
int levels_of(float* lv, const float* v, int n) {
  float seen[16];
  std::fill(seen, seen + 16, NAN);  // unused slots equal nothing, so every lookup compares all 16 (vectorizable)
  seen[0] = 0.f;
  int nl = 1;
  for (int i = 0; i < n; ++i) {
    const float x = v[i];
    if (!std::isfinite(x)) return 0;
    unsigned hit = 0;
    for (int j = 0; j < 16; ++j) hit |= (unsigned)(seen[j] == x) << j;
    if (hit) continue;
    if (nl == 16) return 0;
    seen[nl++] = x;
  }
  std::copy(seen, seen + nl, lv);
  std::sort(lv, lv + nl);
  return nl;
}

// One group's grid, as the reference's recoverGroup finds it (steps from the smallest gap and the smallest
// value, the scale from the largest step, its dtype neighbours tried in turn). k: n bytes of scratch.
bool recover_group(uint8_t* q, float& scale, int& zero, const float* v, int n, int dtype, int8_t* k) {
  float lv[16];
  const int nl = levels_of(lv, v, n);
  if (!nl) return false;
  if (nl == 1) { scale = 0.f; zero = 0; std::memset(q, 0, n / 2); return true; }
  double gap = INFINITY, small = INFINITY;
  for (int i = 1; i < nl; ++i) gap = std::min(gap, (double)lv[i] - (double)lv[i - 1]);
  for (int i = 0; i < nl; ++i) if (lv[i] != 0.f) small = std::min(small, std::fabs((double)lv[i]));
  const double step = small / round_any(small / gap);
  int top = 0, kmin = 0, kmax = 0;
  for (int i = 0; i < n; ++i) {
    const double d = v[i] / step;
    if (!(std::fabs(d) <= 16)) return false;  // a step of 16 or more is past 4 bits, as kmax − kmin > 15 finds
    const int ki = (int)js_round(d);
    k[i] = (int8_t)ki;
    if (std::abs(ki) > std::abs((int)k[top])) top = i;
    kmin = std::min(kmin, ki);
    kmax = std::max(kmax, ki);
  }
  if (kmax - kmin > 15) return false;
  zero = -kmin;
  if (zero) for (int z = zero; z <= 15 - kmax; ++z) if ((z & -z) > (zero & -zero)) zero = z;
  const uint32_t bits = dtype_bits((float)((double)v[top] / k[top]), dtype), mask = dtype ? 0xffffu : 0xffffffffu;
  for (const uint32_t d : {0u, ~0u, 1u}) {
    const float s = dtype_value((bits + d) & mask, dtype);
    if (!(s > 0)) continue;
    float back[16];  // each step's value in the dtype, once per group rather than once per weight
    for (int j = kmin; j <= kmax; ++j) back[j - kmin] = round_to_dtype((float)((double)s * j), dtype);
    int i = 0;
    while (i < n && back[k[i] - kmin] == v[i]) ++i;
    if (i < n) continue;
    scale = s;
    for (int j = 0; j < n; j += 2) q[j / 2] = (uint8_t)((k[j] + zero) | ((k[j + 1] + zero) << 4));
    return true;
  }
  return false;
}

// Whether each row's groups lie in the listed range and each sits in one of `slots` places along its row.
bool listed_groups_fit(const int32_t* row_ptr, const uint16_t* col_idx, long ngroups, int rows, int slots) {
  if (row_ptr[0] < 0) return false;
  for (int r = 0; r < rows; ++r) if (row_ptr[r + 1] < row_ptr[r] || row_ptr[r + 1] > ngroups) return false;
  for (long k = 0; k < ngroups; ++k) if (col_idx[k] >= slots) return false;
  return true;
}

// A zero point as JavaScript's `z | 0` reads it, for z in 0…15 or NaN.
inline int zero_code(float z) { return z == z ? (int)z : 0; }

inline bool zeros_in_range(const float* zeros, long n) {
  for (long k = 0; k < n; ++k) if (zeros[k] < 0 || zeros[k] > 15) return false;
  return true;
}

inline bool f16_exact(double v) { return (double)dtype_value(dtype_bits((float)v, 2), 2) == v; }

}  // namespace

bool recover_groups(uint8_t* codes, float* scales, float* zeros, const float* w, int rows, int cols, int group, int unit, int dtype) {
  std::atomic<bool> ok{true};
  parallel_range(rows, std::max(1, (1 << 15) / cols), [&](long r0, long r1) {
    std::vector<int8_t> k(group);
    for (long r = r0; r < r1 && ok.load(std::memory_order_relaxed); ++r) {
      for (int c = 0; c < cols; c += group) {
        const long from = r * cols + c;
        const int n = std::min(group, cols - c);
        float scale;
        int zero;
        if (!recover_group(codes + from / 2, scale, zero, w + from, n, dtype, k.data())) { ok = false; return; }
        std::fill(scales + from / unit, scales + (from + n) / unit, scale);
        // the reference's zero is −kmin, so −0 when no step is negative: Q4_1's m = −zero·scale is then +0
        std::fill(zeros + from / unit, zeros + (from + n) / unit, zero || scale == 0.f ? (float)zero : -0.f);
      }
    }
  });
  return ok;
}

int groups_q4(uint8_t* codes, float* scales, uint8_t* zeros, const int32_t* row_ptr, const uint16_t* col_idx, const uint8_t* gcodes,
              const float* gscales, const float* gzeros, long ngroups, int rows, int cols, int group, int block) {
  const int nb = (cols + block - 1) / block, zb = (nb + 1) / 2, per = group / block;
  if (!listed_groups_fit(row_ptr, col_idx, ngroups, rows, nb / per)) return -1;
  if (!zeros_in_range(gzeros, ngroups)) return 0;
  parallel_range(rows, 16, [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      for (long k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
        for (int j = 0; j < per; ++j) {
          const long b = (long)col_idx[k] * per + j;
          scales[r * nb + b] = gscales[k];
          zeros[r * zb + (b >> 1)] |= (uint8_t)(zero_code(gzeros[k]) << ((b & 1) * 4));
          std::memcpy(codes + (r * nb + b) * block / 2, gcodes + (k * group + (long)j * block) / 2, block / 2);
        }
      }
    }
  });
  return 1;
}

int groups_q4_1(uint8_t* out, const int32_t* row_ptr, const uint16_t* col_idx, const uint8_t* codes, const float* scales, const float* zeros,
                long ngroups, int rows, int cols, int group, bool exact) {
  const int per = group / 32, per_row = cols / 32;
  if (!listed_groups_fit(row_ptr, col_idx, ngroups, rows, per_row / per)) return -1;
  if (!zeros_in_range(zeros, ngroups)) return 0;
  if (exact) for (long k = 0; k < ngroups; ++k) if (!f16_exact(scales[k]) || !f16_exact(-(double)zeros[k] * scales[k])) return 0;
  parallel_range(rows, 16, [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      for (long k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
        const double m = -(double)zeros[k] * scales[k];
        for (int b = 0; b < per; ++b) {
          uint8_t* at = out + ((r * per_row) + (long)col_idx[k] * per + b) * 20;
          const uint8_t* q = codes + (k * group + b * 32) / 2;
          put16(at, (uint16_t)dtype_bits(scales[k], 2));
          put16(at + 2, (uint16_t)dtype_bits((float)m, 2));
          // element 2i in q[i]'s low nibble; Q4_1 wants element j low and j + 16 high in byte j
          for (int j = 0; j < 16; ++j) {
            const int lo = (q[j >> 1] >> ((j & 1) * 4)) & 15, hi = (q[(j + 16) >> 1] >> ((j & 1) * 4)) & 15;
            at[4 + j] = (uint8_t)(lo | (hi << 4));
          }
        }
      }
    }
  });
  return 1;
}

}  // namespace sp
