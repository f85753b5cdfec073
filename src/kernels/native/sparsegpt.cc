// SparseGPT's numerical core. The inverse-Hessian factor U (Hinv = UᵀU, U upper) comes
// from one Cholesky factorisation of the reversed Hessian and one triangular inverse: if P
// reverses the order, P·H·P = L·Lᵀ gives H = V·Vᵀ with V = P·L·P upper, so H⁻¹ = V⁻ᵀ·V⁻¹ and
// U = V⁻¹ = P·L⁻¹·P. (The reference takes three factorisations: cholesky, cholesky_inverse,
// cholesky(upper).) Both are blocked in float32 as LAPACK's are, with the O(n³) work in
// our GEMM and the 128-wide diagonal blocks in double.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "ops.h"
#include "prune_ops.h"
#include "quant.h"

namespace sp {
namespace {

constexpr int NB = 128;

// The few non-GEMM loops that matter get one clone per instruction set, picked at load time.
#if defined(SP_X86)
#define SP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SP_CLONES
#endif

SP_CLONES double dot(const float* x, const float* y, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += (double)x[i] * y[i];
  return s;
}

// The k-th smallest (0-based) of n non-negative floats, by radix selection on their bit patterns
// (monotonic for non-negative floats): two 16-bit histogram passes, counted in parallel.
float kth_smallest_nonneg(const float* v, long n, long k) {
  const int tasks = 16;
  auto bits = [&](long i) { uint32_t u; std::memcpy(&u, v + i, 4); return u; };
  std::vector<long> hist((size_t)tasks << 16);
  auto count = [&](uint32_t prefix, int shift, uint32_t keep) {
    std::fill(hist.begin(), hist.end(), 0);
    parallel_for(tasks, [&](int t) {
      long* hh = hist.data() + ((size_t)t << 16);
      for (long i = n * t / tasks; i < n * (t + 1) / tasks; ++i) {
        const uint32_t u = bits(i);
        if ((u & keep) == prefix) ++hh[(u >> shift) & 0xffff];
      }
    });
  };
  auto pick = [&](long& rank) {
    for (uint32_t b = 0; b < 65536; ++b) {
      long c = 0;
      for (int t = 0; t < tasks; ++t) c += hist[((size_t)t << 16) + b];
      if (rank < c) return b;
      rank -= c;
    }
    return 65535u;
  };
  long rank = k;
  count(0, 16, 0);
  const uint32_t hi = pick(rank);
  count(hi << 16, 0, 0xffff0000u);
  const uint32_t lo = pick(rank);
  const uint32_t u = (hi << 16) | lo;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// One row's OBS sweep over the columns [i1, i2) of a block: each column is set to its masked
// (and, with quantization, quantized) value and the error is spread over the later columns of the
// block; er keeps −error for the lazy update of the columns after the block. N:M groups are chosen
// as the sweep reaches them, on weights already compensated by earlier columns. qp holds the row's
// quantizer parameters (one, or one per group); maxq = 0 turns quantization off.
SP_CLONES void sweep_row(float* wr, uint8_t* mr, float* er, const float* U, int C, int i1, int i2, int prunen, int prunem,
                         const QuantParams* qp, int maxq, int groupsize) {
  int idx[64];
  float sc[64];
  for (int c = i1; c < i2; ++c) {
    if (prunen != 0 && (c - i1) % prunem == 0) {
      for (int t = 0; t < prunem; ++t) {
        const float d = U[(long)(c + t) * C + c + t];
        sc[t] = wr[c + t] * wr[c + t] / (d * d);
        idx[t] = t;
      }
      std::sort(idx, idx + prunem, [&](int x, int y) { return sc[x] < sc[y] || (sc[x] == sc[y] && x < y); });
      for (int t = 0; t < prunen; ++t) mr[c + idx[t]] = 1;
    }
    float q = mr[c] ? 0.f : wr[c];
    if (maxq != 0) q = quant_apply(q, qp[groupsize > 0 ? c / groupsize : 0], maxq);
    const float e1 = (wr[c] - q) / U[(long)c * C + c];
    er[c - i1] = -e1;
    if (e1 == 0.f) continue;  // a kept weight moves nothing: w − 0·u = w
    const float* u = U + (long)c * C;
    for (int j = c + 1; j < i2; ++j) wr[j] -= e1 * u[j];
    wr[c] = q;
  }
}

// The parameters of the groups that start in [i1, i2), found from the row as it stands at the start
// of the block (as the reference reads W, not the block's working copy), pruned entries as 0.
void block_group_params(QuantParams* qp, const float* wr, const uint8_t* mr, int C, int i1, int i2, const SweepQuant& q) {
  const int maxq = (1 << q.bits) - 1;
  for (int g0 = (i1 + q.groupsize - 1) / q.groupsize * q.groupsize; g0 < i2; g0 += q.groupsize)
    qp[g0 / q.groupsize] = quant_find_params(wr + g0, mr + g0, std::min(q.groupsize, C - g0), maxq, q.sym, q.scale_dtype);
}

// dinv (b, b) = the inverse of the lower-triangular b×b block at l (leading dimension ld), in double.
void small_lower_inverse(std::vector<float>& dinv, const float* l, int ld, int b) {
  dinv.assign((size_t)b * b, 0.f);
  for (int c = 0; c < b; ++c)
    for (int i = c; i < b; ++i) {
      double s = i == c ? 1.0 : 0.0;
      for (int k = c; k < i; ++k) s -= (double)l[(long)i * ld + k] * dinv[(long)k * b + c];
      dinv[(long)i * b + c] = (float)(s / l[(long)i * ld + i]);
    }
}

// In place lower Cholesky of a: (n, n) row-major, right-looking by blocks of NB.
// Returns 0, or the 1-based pivot that is not positive.
int cholesky_lower(float* a, int n) {
  std::vector<float> neg, dinv;
  for (int k0 = 0; k0 < n; k0 += NB) {
    const int b = std::min(NB, n - k0), k1 = k0 + b;
    for (int j = k0; j < k1; ++j) {  // diagonal block, unblocked
      float* aj = a + (long)j * n;
      const double d = aj[j] - dot(aj + k0, aj + k0, j - k0);
      if (!(d > 0) || !std::isfinite(d)) return j + 1;
      aj[j] = (float)std::sqrt(d);
      for (int i = j + 1; i < k1; ++i) {
        float* ai = a + (long)i * n;
        ai[j] = (float)((ai[j] - dot(ai + k0, aj + k0, j - k0)) / aj[j]);
      }
    }
    const int n2 = n - k1;
    if (n2 == 0) break;
    // Panel: A21 ← A21·L11⁻ᵀ, as a GEMM with the small inverse of the diagonal block.
    small_lower_inverse(dinv, a + (long)k0 * n + k0, n, b);
    neg.resize((size_t)n2 * b);
    parallel_range(n2, 256, [&](long lo, long hi) {
      for (long i = lo; i < hi; ++i) std::memcpy(neg.data() + i * b, a + (k1 + i) * n + k0, b * sizeof(float));
    });
    gemm(GemmArgs{n2, b, b, neg.data(), b, false, dinv.data(), b, true, a + (long)k1 * n + k0, n, false, nullptr});
    // Trailing update A22 −= A21·A21ᵀ, lower block columns only, as GEMMs on −A21.
    parallel_range(n2, 256, [&](long lo, long hi) {
      for (long i = lo; i < hi; ++i)
        for (int k = 0; k < b; ++k) neg[i * b + k] = -a[(k1 + i) * n + k0 + k];
    });
    for (int j0 = 0; j0 < n2; j0 += NB) {
      const int bw = std::min(NB, n2 - j0);
      gemm(GemmArgs{n2 - j0, bw, b, neg.data() + (long)j0 * b, b, false, a + (long)(k1 + j0) * n + k0, n, true,
                    a + (long)(k1 + j0) * n + k1 + j0, n, true, nullptr});
    }
  }
  return 0;
}

// x = L⁻¹ for lower-triangular l: (n, n); x must be zero on entry. By block rows:
// X[i,:i] = −L_ii⁻¹·(L[i,:i]·X[:i,:i]), X[i,i] = L_ii⁻¹.
void lower_inverse(float* x, const float* l, int n) {
  std::vector<float> t, dinv;
  for (int i0 = 0; i0 < n; i0 += NB) {
    const int b = std::min(NB, n - i0);
    small_lower_inverse(dinv, l + (long)i0 * n + i0, n, b);
    if (i0 > 0) {
      t.assign((size_t)b * i0, 0.f);
      // T = L[i, :i]·X[:i, :i]; X is lower, so block column j only needs rows from j on.
      // The block columns are independent, and each GEMM is small (b rows): one per task balances best.
      parallel_for((i0 + NB - 1) / NB, [&](int jb) {
        const int j0 = jb * NB, bw = std::min(NB, i0 - j0);
        gemm(GemmArgs{b, bw, i0 - j0, l + (long)i0 * n + j0, n, false, x + (long)j0 * n + j0, n, false, t.data() + j0, i0,
                      false, nullptr});
      });
      for (auto& v : dinv) v = -v;
      gemm(GemmArgs{b, i0, b, dinv.data(), b, false, t.data(), i0, false, x + (long)i0 * n, n, false, nullptr});
      for (auto& v : dinv) v = -v;
    }
    for (int i = 0; i < b; ++i)
      for (int c = 0; c <= i; ++c) x[(long)(i0 + i) * n + i0 + c] = dinv[(long)i * b + c];
  }
}

}  // namespace

int sparsegpt_factor(float* U, const float* h, int cols, float percdamp) {
  const int C = cols;
  // Dead inputs (never active in calibration) get a unit diagonal; the damping is
  // percdamp times the mean diagonal after that.
  double diag = 0;
  for (int j = 0; j < C; ++j) diag += h[(long)j * C + j] == 0.f ? 1.0 : h[(long)j * C + j];
  const float damp = (float)(percdamp * diag / C);
  // a = P·(H + damp·I)·P, the reversed, damped Hessian.
  std::vector<float> a((size_t)C * C);
  parallel_range(C, 16, [&](long b, long e) {
    for (long i = b; i < e; ++i)
      for (int j = 0; j < C; ++j) {
        const long si = C - 1 - i, sj = C - 1 - j;
        float v = h[si * C + sj];
        if (si == sj) v = (v == 0.f ? 1.f : v) + damp;
        a[i * C + j] = v;
      }
  });
  if (int bad = cholesky_lower(a.data(), C)) return C - bad + 1;
  std::vector<float> linv((size_t)C * C, 0.f);
  lower_inverse(linv.data(), a.data(), C);
  a.clear(); a.shrink_to_fit();
  parallel_range(C, 16, [&](long b, long e) {  // U = P·L⁻¹·P, upper
    for (long i = b; i < e; ++i) {
      std::fill(U + i * C, U + i * C + i, 0.f);
      for (long j = i; j < C; ++j) U[i * C + j] = linv[(C - 1 - i) * (long)C + (C - 1 - j)];
    }
  });
  return 0;
}

void sparsegpt_prune(float* w, uint8_t* mask, const float* Up, const float* h, int rows, int cols, double sparsity,
                     int prunen, int prunem, int blocksize, const SweepQuant& quant) {
  const int C = cols, R = rows;
  const int maxq = quant.bits > 0 ? (1 << quant.bits) - 1 : 0;
  const int groups = quant.groupsize > 0 ? (C + quant.groupsize - 1) / quant.groupsize : 1;
  std::vector<QuantParams> qp(maxq != 0 ? (size_t)R * groups : 0);
  if (maxq != 0 && quant.groupsize == 0) {  // per row, from the weights as given (before dead inputs are zeroed)
    parallel_range(R, 16, [&](long b, long e) {
      for (long r = b; r < e; ++r) qp[r] = quant_find_params(w + r * C, nullptr, C, maxq, quant.sym, quant.scale_dtype);
    });
  }
  for (int j = 0; j < C; ++j)  // dead inputs: their weights are zeroed
    if (h[(long)j * C + j] == 0.f)
      for (int r = 0; r < R; ++r) w[(long)r * C + j] = 0.f;
  const float* U = Up;
  std::fill(mask, mask + (long)R * C, 0);
  std::vector<float> err((size_t)R * blocksize), tile;
  for (int i1 = 0; i1 < C; i1 += blocksize) {
    const int i2 = std::min(i1 + blocksize, C), count = i2 - i1;
    if (prunen == 0 && sparsity >= 0.f) {
      // Adaptive mask: the whole rows × count tile competes, scored by w² / U_jj².
      tile.resize((size_t)R * count);
      parallel_range(R, 64, [&](long b, long e) {
        for (long r = b; r < e; ++r)
          for (int i = 0; i < count; ++i) {
            const float d = U[(long)(i1 + i) * C + i1 + i], v = w[r * C + i1 + i];
            tile[r * count + i] = v * v / (d * d);
          }
      });
      const long k = (long)((double)tile.size() * sparsity);  // double, as the reference's int(numel · sparsity)
      const float t = kth_smallest_nonneg(tile.data(), (long)tile.size(), k);
      parallel_range(R, 64, [&](long b, long e) {
        for (long r = b; r < e; ++r)
          for (int i = 0; i < count; ++i) mask[r * C + i1 + i] = tile[r * count + i] <= t;
      });
    }
    parallel_range(R, 8, [&](long b, long e) {
      for (long r = b; r < e; ++r) {
        QuantParams* rq = maxq != 0 ? qp.data() + r * groups : nullptr;
        if (maxq != 0 && quant.groupsize > 0) block_group_params(rq, w + r * C, mask + r * C, C, i1, i2, quant);
        sweep_row(w + r * C, mask + r * C, err.data() + r * blocksize, U, C, i1, i2, prunen, prunem, rq, maxq, quant.groupsize);
      }
    });
    // Lazy batch update of all later columns: W[:, i2:] -= Err · U[i1:i2, i2:].
    if (i2 < C) {
      gemm(GemmArgs{R, C - i2, count, err.data(), blocksize, false, U + (long)i1 * C + i2, C, false,
                    w + i2, C, true, nullptr});
    }
  }
  if (maxq != 0)
    for (size_t i = 0; i < qp.size(); ++i) { quant.scales[i] = qp[i].scale; quant.zeros[i] = qp[i].zero; }
}

}  // namespace sp
