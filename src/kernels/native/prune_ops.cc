#include "prune_ops.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "ops.h"

namespace sp {

void column_stats(double* sum, double* sumsq, double* varsum, const float* x, int nseq, int seq, int cols) {
  parallel_range(cols, 64, [&](long b, long e) {
    for (int s = 0; s < nseq; ++s) {
      const float* xs = x + (long)s * seq * cols;
      for (long j = b; j < e; ++j) {
        double t = 0, tt = 0;
        for (int r = 0; r < seq; ++r) {
          const double v = xs[(long)r * cols + j];
          t += v;
          tt += v * v;
        }
        const double mean = t / seq;
        sum[j] += t;
        sumsq[j] += tt;
        varsum[j] += std::max(0.0, tt / seq - mean * mean);
      }
    }
  });
}

void abs_scaled(float* out, const float* w, const float* scale, int rows, int cols) {
  parallel_range(rows, 16, [&](long b, long e) {
    for (long r = b; r < e; ++r)
      for (int j = 0; j < cols; ++j) out[r * cols + j] = std::fabs(w[r * cols + j]) * scale[j];
  });
}

namespace {
// Orders column indices by (score, index): a strict total order, so selections are deterministic.
struct ByScore {
  const float* s;
  bool operator()(int a, int b) const { return s[a] < s[b] || (s[a] == s[b] && a < b); }
};
}  // namespace

void select_row_k(uint8_t* mask, const float* score, int rows, int cols, int k) {
  parallel_range(rows, 8, [&](long b, long e) {
    std::vector<int> idx(cols);
    for (long r = b; r < e; ++r) {
      const float* s = score + r * cols;
      uint8_t* m = mask + r * cols;
      std::fill(m, m + cols, 0);
      if (k <= 0) continue;
      std::iota(idx.begin(), idx.end(), 0);
      std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), ByScore{s});
      for (int i = 0; i < k; ++i) m[idx[i]] = 1;
    }
  });
}

void select_nm(uint8_t* mask, const float* score, int rows, int cols, int n, int m) {
  parallel_range(rows, 16, [&](long b, long e) {
    std::vector<int> idx(m);
    for (long r = b; r < e; ++r)
      for (int g = 0; g < cols; g += m) {
        const float* s = score + r * cols + g;
        std::iota(idx.begin(), idx.end(), 0);
        std::sort(idx.begin(), idx.end(), ByScore{s});
        uint8_t* mk = mask + r * cols + g;
        for (int i = 0; i < m; ++i) mk[idx[i]] = i < n;
      }
  });
}

void select_threshold(uint8_t* mask, const float* score, long count, long k) {
  std::vector<float> copy(score, score + count);
  std::nth_element(copy.begin(), copy.begin() + k, copy.end());
  const float t = copy[k];
  parallel_range(count, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) mask[i] = score[i] <= t;
  });
}

void accumulate_squares(float* acc, const float* g, float scale, long count) {
  parallel_range(count, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) {
      const float v = scale * g[i];
      acc[i] += v * v;
    }
  });
}

void abs_mul_add(float* out, const float* w, const float* g, long count) {
  parallel_range(count, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) out[i] += std::fabs(w[i]) * g[i];
  });
}

void zero_stats(long* zeros, int* min_group_zeros, const float* x, int rows, int cols, int m) {
  long z = 0;
  int least = m;
  for (long r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    for (int g = 0; g < cols; g += (m > 0 ? m : cols)) {
      const int end = m > 0 ? std::min(cols, g + m) : cols;
      int gz = 0;
      for (int j = g; j < end; ++j) gz += row[j] == 0.f;
      z += gz;
      if (m > 0) least = std::min(least, gz);
    }
  }
  *zeros = z;
  *min_group_zeros = m > 0 ? least : 0;
}

void weighted_sq_diff(double* err, double* ref, const float* a, const float* b, const float* s, int rows, int cols) {
  double e = 0, r = 0;
  for (long i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      const double av = a[i * cols + j], d = av - b[i * cols + j];
      e += d * d * s[j];
      r += av * av * s[j];
    }
  *err = e;
  *ref = r;
}

void mirror_lower(float* h, int n, float scale) {
  constexpr int T = 64;  // tiles, so that the transposed writes stay in cache
  const int tiles = (n + T - 1) / T;
  parallel_for(tiles, [&](int bi) {
    const int i0 = bi * T, i1 = std::min(n, i0 + T);
    for (int j0 = 0; j0 <= i0; j0 += T) {
      const int j1 = std::min(n, j0 + T);
      for (int i = i0; i < i1; ++i)
        for (int j = j0; j < std::min(j1, i + 1); ++j) {
          const float v = h[(long)i * n + j] * scale;
          h[(long)i * n + j] = v;
          h[(long)j * n + i] = v;
        }
    }
  });
}

long pack_bitmask(float* values, uint8_t* bitmask, int64_t* offsets, const float* w, int rows, int cols) {
  const long bpr = (cols + 7) / 8;
  long k = 0;
  for (long r = 0; r < rows; ++r) {
    offsets[r] = k;
    uint8_t* bm = bitmask + r * bpr;
    std::fill(bm, bm + bpr, 0);
    for (int c = 0; c < cols; ++c) {
      const float v = w[r * cols + c];
      if (v != 0.f) {  // −0.0 is dropped, NaN kept, as W != 0 does
        bm[c >> 3] |= (uint8_t)(1u << (c & 7));
        values[k++] = v;
      }
    }
  }
  return k;
}

long pack_24(float* values, uint8_t* bitmask, const float* w, int rows, int cols) {
  const long bpr = (cols + 7) / 8;
  long k = 0;
  for (long r = 0; r < rows; ++r) {
    uint8_t* bm = bitmask + r * bpr;
    std::fill(bm, bm + bpr, 0);
    for (int g = 0; g < cols; g += 4) {
      const float* x = w + r * cols + g;
      int nz = 0;
      for (int j = 0; j < 4; ++j) nz += x[j] != 0.f;
      if (nz > 2) return r * cols + g;
      int order[4] = {0, 1, 2, 3};
      std::stable_sort(order, order + 4, [&](int a, int b) { return std::fabs(x[a]) > std::fabs(x[b]); });
      const int lo = std::min(order[0], order[1]), hi = std::max(order[0], order[1]);
      for (int j : {lo, hi}) {
        bm[(g + j) >> 3] |= (uint8_t)(1u << ((g + j) & 7));
        values[k++] = x[j] == 0.f ? 0.f : x[j];
      }
    }
  }
  return -1;
}

long unpack_bitmask(float* out, const float* values, long nvalues, const uint8_t* bitmask, int rows, int cols) {
  const long bpr = (cols + 7) / 8;
  long k = 0;
  for (long r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const bool set = bitmask[r * bpr + (c >> 3)] & (1u << (c & 7));
      if (set && k >= nvalues) return -1;
      out[r * cols + c] = set ? values[k++] : 0.f;
    }
  return k;
}

double sum_f64(const float* x, long count) {
  double s = 0;
  for (long i = 0; i < count; ++i) s += x[i];
  return s;
}

long count_above(const float* x, long count, double t) {
  long n = 0;
  for (long i = 0; i < count; ++i) n += (double)x[i] > t;
  return n;
}

long count_nonfinite(const float* x, long count) {
  long bad = 0;
  for (long i = 0; i < count; ++i) bad += !std::isfinite(x[i]);
  return bad;
}

void apply_mask(float* w, const uint8_t* mask, long count) {
  parallel_range(count, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i)
      if (mask[i]) w[i] = 0.f;
  });
}

}  // namespace sp
