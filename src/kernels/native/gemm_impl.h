// The blocked GEMM, written once with GCC vector extensions and compiled once per
// instruction set (gemm_portable.cc, gemm_avx2.cc, gemm_avx512.cc) with that set's flags.
// Define SP_GEMM_FN (entry name), SP_VEC_BYTES (vector width) and SP_MR (micro-tile rows).
// Layout follows the BLIS scheme: pack a KC-deep slice of op(B) into NR-wide strips and of
// op(A) into MR-tall strips, then sweep MR×NR register tiles over them.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "pool.h"

namespace sp {
namespace {

typedef float vf __attribute__((vector_size(SP_VEC_BYTES), aligned(4)));
constexpr int W = SP_VEC_BYTES / 4;  // floats per vector
constexpr int NV = 2;                // vectors per micro-tile row
constexpr int NR = W * NV;
constexpr int MR = SP_MR;
constexpr int KC = 1024;  // deep panels: fewer passes over C; a 12×1024 A strip and a 1024×32 B strip sit in L2
constexpr int MC = MR * 8;
constexpr int NC = NR * 16;

inline vf load(const float* p) { return *reinterpret_cast<const vf*>(p); }
inline void store(float* p, vf v) { *reinterpret_cast<vf*>(p) = v; }

// acc = Ap(kc×MR)ᵀ · Bp(kc×NR); then C[mr×nr] = acc (+ C) (+ bias).
void micro(int kc, const float* __restrict Ap, const float* __restrict Bp, float* C, long ldc,
           int mr, int nr, bool add_c, const float* bias) {
  vf acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = vf{} ;
  for (int p = 0; p < kc; ++p) {
    vf b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = load(Bp + p * NR + v * W);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const float a = Ap[p * MR + i];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += a * b[v];
    }
  }
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) {
        float* c = C + i * ldc + v * W;
        vf r = acc[i][v];
        if (add_c) r += load(c);
        if (bias) r += load(bias + v * W);
        store(c, r);
      }
    return;
  }
  alignas(64) float tile[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) store(tile + i * NR + v * W, acc[i][v]);
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) {
      float r = tile[i * NR + j];
      if (add_c) r += C[i * ldc + j];
      if (bias) r += bias[j];
      C[i * ldc + j] = r;
    }
}

// Ap[p*MR + r] = op(A)[i0 + r][p0 + p], zero past M.
void pack_a(const GemmArgs& g, int i0, int p0, int kc, float* Ap) {
  const int rows = std::min(MR, g.M - i0);
  if (!g.trans_a) {
    // Row pointers read in step, each packed slice written contiguously: a transpose that
    // touches every cache line of the panel once.
    const float* src[MR];
    for (int r = 0; r < MR; ++r) src[r] = g.A + (long)(i0 + std::min(r, rows - 1)) * g.lda + p0;
    for (int p = 0; p < kc; ++p)
      for (int r = 0; r < MR; ++r) Ap[p * MR + r] = src[r][p];
  } else {
    for (int p = 0; p < kc; ++p) {
      const float* src = g.A + (long)(p0 + p) * g.lda + i0;
      for (int r = 0; r < rows; ++r) Ap[p * MR + r] = src[r];
    }
  }
  for (int r = rows; r < MR; ++r)
    for (int p = 0; p < kc; ++p) Ap[p * MR + r] = 0.f;
}

// Bp[p*NR + c] = op(B)[p0 + p][j0 + c], zero past N.
void pack_b(const GemmArgs& g, int j0, int p0, int kc, float* Bp) {
  const int cols = std::min(NR, g.N - j0);
  if (g.trans_b) {
    const float* src[NR];
    for (int c = 0; c < NR; ++c) src[c] = g.B + (long)(j0 + std::min(c, cols - 1)) * g.ldb + p0;
    for (int p = 0; p < kc; ++p)
      for (int c = 0; c < NR; ++c) Bp[p * NR + c] = src[c][p];
  } else {
    for (int p = 0; p < kc; ++p) {
      const float* src = g.B + (long)(p0 + p) * g.ldb + j0;
      for (int c = 0; c < cols; ++c) Bp[p * NR + c] = src[c];
    }
  }
  for (int c = cols; c < NR; ++c)
    for (int p = 0; p < kc; ++p) Bp[p * NR + c] = 0.f;
}

float* scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}


// One panel of at most PANEL rows and PANEL columns, so packing buffers stay bounded
// (a vocabulary-wide lm_head would otherwise pack hundreds of megabytes).
void gemm_panel(const GemmArgs& g) {
  if (g.K <= 0) {  // op(A)·op(B) is zero: only accumulate and bias remain
    for (int i = 0; i < g.M; ++i)
      for (int j = 0; j < g.N; ++j) {
        float& c = g.C[(long)i * g.ldc + j];
        c = (g.accumulate ? c : 0.f) + (g.bias ? g.bias[j] : 0.f);
      }
    return;
  }
  thread_local std::vector<float> abuf, bbuf;
  const int ma = (g.M + MR - 1) / MR, nb = (g.N + NR - 1) / NR;
  float* Ap = scratch(abuf, (size_t)ma * MR * KC);
  float* Bp = scratch(bbuf, (size_t)nb * NR * KC);
  const int mtiles = (g.M + MC - 1) / MC, ntiles = (g.N + NC - 1) / NC;
  for (int p0 = 0; p0 < g.K; p0 += KC) {
    const int kc = std::min(KC, g.K - p0);
    const bool first = p0 == 0, last = p0 + kc >= g.K;
    parallel_for(ma + nb, [&](int t) {
      if (t < ma) pack_a(g, t * MR, p0, kc, Ap + (size_t)t * MR * kc);
      else pack_b(g, (t - ma) * NR, p0, kc, Bp + (size_t)(t - ma) * NR * kc);
    });
    parallel_for(mtiles * ntiles, [&](int t) {
      const int ic = (t / ntiles) * MC, jc = (t % ntiles) * NC;
      const int iend = std::min(g.M, ic + MC), jend = std::min(g.N, jc + NC);
      for (int j = jc; j < jend; j += NR) {
        const float* bs = Bp + (size_t)(j / NR) * NR * kc;
        for (int i = ic; i < iend; i += MR) {
          micro(kc, Ap + (size_t)(i / MR) * MR * kc, bs, g.C + (long)i * g.ldc + j, g.ldc,
                std::min(MR, g.M - i), std::min(NR, g.N - j), !first || g.accumulate,
                last && g.bias ? g.bias + j : nullptr);
        }
      }
    });
  }
}

}  // namespace

void SP_GEMM_FN(const GemmArgs& g) {
  constexpr int PANEL = 4096;
  for (int i0 = 0; i0 < g.M; i0 += PANEL)
    for (int j0 = 0; j0 < g.N; j0 += PANEL) {
      GemmArgs p = g;
      p.M = std::min(PANEL, g.M - i0);
      p.N = std::min(PANEL, g.N - j0);
      p.A = g.trans_a ? g.A + i0 : g.A + (long)i0 * g.lda;
      p.B = g.trans_b ? g.B + (long)j0 * g.ldb : g.B + j0;
      p.C = g.C + (long)i0 * g.ldc + j0;
      p.bias = g.bias ? g.bias + j0 : nullptr;
      gemm_panel(p);
    }
}

}  // namespace sp
