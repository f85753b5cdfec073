// SparseGPT's numerical core. The inverse-Hessian factor U (Hinv = UᵀU, U upper) comes
// from one Cholesky factorisation of the reversed Hessian and one triangular inverse,
// both in double: if P reverses the order, P·H·P = L'L'ᵀ gives H = V·Vᵀ with
// V = P·L'·P upper, so H⁻¹ = V⁻ᵀV⁻¹ and U = V⁻¹. (The reference takes three
// factorisations: cholesky, cholesky_inverse, cholesky(upper).)
#include <algorithm>
#include <cmath>
#include <vector>

#include "gemm.h"
#include "ops.h"
#include "prune_ops.h"

namespace sp {
namespace {

// In place lower Cholesky of a (n, n) row-major. Returns 0, or the 1-based failing pivot.
int cholesky_lower(double* a, int n) {
  for (int j = 0; j < n; ++j) {
    double* aj = a + (long)j * n;
    double d = aj[j];
    for (int k = 0; k < j; ++k) d -= aj[k] * aj[k];
    if (!(d > 0) || !std::isfinite(d)) return j + 1;
    const double ljj = std::sqrt(d);
    aj[j] = ljj;
    parallel_range(n - j - 1, 64, [&](long b, long e) {
      for (long i = j + 1 + b; i < j + 1 + e; ++i) {
        double* ai = a + i * n;
        double s = ai[j];
        for (int k = 0; k < j; ++k) s -= ai[k] * aj[k];
        ai[j] = s / ljj;
      }
    });
  }
  return 0;
}

}  // namespace

int sparsegpt(float* w, uint8_t* mask, const float* h, int rows, int cols, float sparsity, int prunen, int prunem,
              int blocksize, float percdamp) {
  const int C = cols, R = rows;
  // Dead inputs (never active in calibration): weight zeroed, unit diagonal.
  std::vector<double> a((size_t)C * C);
  double diag = 0;
  for (int j = 0; j < C; ++j) {
    const bool dead = h[(long)j * C + j] == 0.f;
    if (dead)
      for (int r = 0; r < R; ++r) w[(long)r * C + j] = 0.f;
    diag += dead ? 1.0 : h[(long)j * C + j];
  }
  const double damp = percdamp * diag / C;
  // a = P·(H + damp·I)·P, the reversed, damped Hessian.
  parallel_range(C, 16, [&](long b, long e) {
    for (long i = b; i < e; ++i)
      for (int j = 0; j < C; ++j) {
        const long si = C - 1 - i, sj = C - 1 - j;
        double v = h[si * C + sj];
        if (si == sj) v = (v == 0.0 ? 1.0 : v) + damp;
        a[i * C + j] = v;
      }
  });
  if (int bad = cholesky_lower(a.data(), C)) return C - bad + 1;
  // V[i][j] = L'[C-1-i][C-1-j] (upper). U = V⁻¹ by back substitution, one column of U per task;
  // ut holds U transposed so that every inner product runs over contiguous memory.
  auto V = [&](long i, long j) { return a[(C - 1 - i) * (long)C + (C - 1 - j)]; };
  std::vector<double> vrow((size_t)C * C, 0.0);  // V row-major, upper part
  parallel_range(C, 16, [&](long b, long e) {
    for (long i = b; i < e; ++i)
      for (long j = i; j < C; ++j) vrow[i * C + j] = V(i, j);
  });
  std::vector<double> ut((size_t)C * C, 0.0);
  parallel_range(C, 4, [&](long b, long e) {
    for (long c = b; c < e; ++c) {
      double* u = ut.data() + c * C;  // column c of U: rows 0..c
      for (long i = c; i >= 0; --i) {
        const double* vi = vrow.data() + i * C;
        double s = i == c ? 1.0 : 0.0;
        for (long k = i + 1; k <= c; ++k) s -= vi[k] * u[k];
        u[i] = s / vi[i];
      }
    }
  });
  std::vector<float> U((size_t)C * C, 0.f);  // row-major upper, float as the reference uses it
  parallel_range(C, 16, [&](long b, long e) {
    for (long i = b; i < e; ++i)
      for (long j = i; j < C; ++j) U[i * C + j] = (float)ut[j * C + i];
  });
  a.clear(); a.shrink_to_fit();
  vrow.clear(); vrow.shrink_to_fit();
  ut.clear(); ut.shrink_to_fit();

  std::fill(mask, mask + (long)R * C, 0);
  std::vector<float> err((size_t)R * blocksize), tile;
  for (int i1 = 0; i1 < C; i1 += blocksize) {
    const int i2 = std::min(i1 + blocksize, C), count = i2 - i1;
    if (prunen == 0) {
      // Adaptive mask: the whole rows × count tile competes, scored by w² / U_jj².
      tile.resize((size_t)R * count);
      for (int r = 0; r < R; ++r)
        for (int i = 0; i < count; ++i) {
          const float d = U[(long)(i1 + i) * C + i1 + i], v = w[(long)r * C + i1 + i];
          tile[(long)r * count + i] = v * v / (d * d);
        }
      std::vector<float> sorted(tile);
      const long k = (long)((double)tile.size() * sparsity);
      std::nth_element(sorted.begin(), sorted.begin() + k, sorted.end());
      const float t = sorted[k];
      for (int r = 0; r < R; ++r)
        for (int i = 0; i < count; ++i) mask[(long)r * C + i1 + i] = tile[(long)r * count + i] <= t;
    }
    parallel_range(R, 8, [&](long b, long e) {
      std::vector<int> idx(prunem > 0 ? prunem : 1);
      std::vector<float> sc(prunem > 0 ? prunem : 1);
      for (long r = b; r < e; ++r) {
        float* wr = w + r * C;
        uint8_t* mr = mask + r * C;
        for (int i = 0; i < count; ++i) {
          const int c = i1 + i;
          if (prunen != 0 && i % prunem == 0) {
            // N:M groups are chosen lazily, on weights already compensated by earlier columns.
            for (int t = 0; t < prunem; ++t) {
              const float d = U[(long)(c + t) * C + c + t];
              sc[t] = wr[c + t] * wr[c + t] / (d * d);
              idx[t] = t;
            }
            std::sort(idx.begin(), idx.end(), [&](int x, int y) { return sc[x] < sc[y] || (sc[x] == sc[y] && x < y); });
            for (int t = 0; t < prunen; ++t) mr[c + idx[t]] = 1;
          }
          const float q = mr[c] ? 0.f : wr[c];
          const float e1 = (wr[c] - q) / U[(long)c * C + c];
          const float* uc = U.data() + (long)c * C;
          for (int j = c; j < i2; ++j) wr[j] -= e1 * uc[j];
          wr[c] = q;
          err[r * blocksize + i] = -e1;
        }
      }
    });
    // Lazy batch update of all later columns: W[:, i2:] -= Err · U[i1:i2, i2:].
    if (i2 < C) {
      gemm(GemmArgs{R, C - i2, count, err.data(), blocksize, false, U.data() + (long)i1 * C + i2, C, false,
                    w + i2, C, true, nullptr});
    }
  }
  return 0;
}

}  // namespace sp
