// The decode kernels of spmv.h, written once and compiled per instruction set (spmv_portable.cc,
// spmv_avx2.cc, spmv_avx512.cc). Define SP_SPMV_TABLE (the table's name). Portable code is plain
// loops with independent partial sums, which the compiler vectorises for the unit's flags; where
// AVX-512 changes the algorithm (x picked from registers, expanded bitmask values), it has its own path.
#include <algorithm>
#include <cstring>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "ops.h"
#include "spmv.h"

namespace sp {
namespace {

inline float bf(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float val(const float* v, long i) { return v[i]; }
inline float val(const uint16_t* v, long i) { return bf(v[i]); }

// Chunks of `grain` rows in contiguous runs per thread (parallel_runs): each thread streams its weights.
template <class F>
void row_runs(long n, long grain, F&& f) {
  parallel_runs((int)((n + grain - 1) / grain), [&](int c) { f(c * grain, std::min(n, (c + 1) * grain)); });
}

// Rows are split among threads; a row meets every token while its weights are in cache.
template <class Dot>
void by_rows(const Act& a, long grain, Dot&& dot) {
  row_runs(a.rows, grain, [&](long b, long e) {
    for (long r = b; r < e; ++r)
      for (int t = 0; t < a.tokens; ++t) a.y[(long)t * a.rows + r] = dot(r, a.x + (long)t * a.cols);
  });
}

// Four rows at a time where a kernel has a four-row form: four weight streams in flight, x read once for them.
template <class Dot4, class Dot1>
void by_row_quads(const Act& a, long grain, Dot4&& dot4, Dot1&& dot1) {
  row_runs((a.rows + 3) / 4, grain / 4, [&](long b, long e) {
    float out[4];
    for (long q = b; q < e; ++q) {
      const long r = 4 * q;
      for (int t = 0; t < a.tokens; ++t) {
        const float* x = a.x + (long)t * a.cols;
        float* y = a.y + (long)t * a.rows;
        if (r + 4 <= a.rows) {
          dot4(r, x, out);
          for (int i = 0; i < 4; ++i) y[r + i] = out[i];
        } else {
          for (long i = r; i < a.rows; ++i) y[i] = dot1(i, x);
        }
      }
    }
  });
}

template <class V>
float dot_dense(const V* w, const float* x, int n) {
  float acc[16] = {};
  int c = 0;
  for (; c + 16 <= n; c += 16)
    for (int l = 0; l < 16; ++l) acc[l] += val(w, c + l) * x[c + l];
  float s = 0;
  for (; c < n; ++c) s += val(w, c) * x[c];
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}

inline int nibble(const uint8_t* pos, long k) { return (pos[k >> 1] >> ((k & 1) * 4)) & 15; }

template <class V>
float dot_nm(const V* v, const uint8_t* pos, const float* x, int cols, int n, int m) {
  float acc[4] = {};
  long k = 0;
  for (int g = 0; g < cols / m; ++g)
    for (int j = 0; j < n; ++j, ++k) acc[k & 3] += val(v, k) * x[g * m + nibble(pos, k)];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// 2:4 (positions in block order, spmv.h): kept value s of a block of 16 groups sits in column
// 4·(s mod 16)/2 + its position, in the block's first or second 32 columns.
template <class V>
float dot_24(const V* v, const uint8_t* pos, const float* x, int groups) {
  float acc[16] = {};
  int g = 0;
  for (; g + 16 <= groups; g += 16)
    for (int i = 0; i < 16; ++i) {
      const int b = pos[g + i], c = 4 * g + 4 * (i >> 1);
      acc[i] += val(v, 2 * g + i) * x[c + (b & 15)] + val(v, 2 * g + 16 + i) * x[c + 32 + (b >> 4)];
    }
  float s = 0;
  for (; g < groups; ++g) s += val(v, 2 * g) * x[4 * g + (pos[g] & 15)] + val(v, 2 * g + 1) * x[4 * g + (pos[g] >> 4)];
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}

template <class V>
float dot_bitmask(const V* v, const uint8_t* mask, const float* x, int cols) {
  float acc[4] = {};
  long k = 0;
  for (int byte = 0; byte < (cols + 7) / 8; ++byte)
    for (unsigned bits = mask[byte]; bits; bits &= bits - 1, ++k) acc[k & 3] += val(v, k) * x[8 * byte + __builtin_ctz(bits)];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
inline __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
// 16 consecutive values, or the first n of them (the rest zero).
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const uint16_t* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline __m512 load_n(const float* p, int n) { return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p); }
inline __m512 load_n(const uint16_t* p, int n) { return widen(_mm256_maskz_loadu_epi16((__mmask16)((1u << n) - 1), p)); }

// Permute indices of a block's 32 kept values (block order, spmv.h): value i of each half picks lane
// 4·(i/2) + its position from the pair of x registers holding that half's 32 columns.
inline void positions24(const uint8_t* pos, __m512i& lo, __m512i& hi) {
  const __m512i p = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pos)));
  const __m512i base = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
  lo = _mm512_ternarylogic_epi32(p, _mm512_set1_epi32(15), base, 0xEA);  // (p & 15) | base
  hi = _mm512_or_si512(_mm512_srli_epi32(p, 4), base);
}

// 2:4 for 16 groups (64 columns) at a time: the x value each kept weight meets is picked out of
// registers by a two-source permute, so the packed weights are read once and x is never gathered.
template <class V>
float dot_24_avx512(const V* v, const uint8_t* pos, const float* x, int groups) {
  __m512 acc = _mm512_setzero_ps();
  int g = 0;
  for (; g + 16 <= groups; g += 16) {
    const float* xs = x + 4 * g;
    const __m512 x0 = _mm512_loadu_ps(xs), x1 = _mm512_loadu_ps(xs + 16), x2 = _mm512_loadu_ps(xs + 32), x3 = _mm512_loadu_ps(xs + 48);
    __m512i pl, ph;
    positions24(pos + g, pl, ph);
    acc = _mm512_fmadd_ps(load16(v + 2 * g), _mm512_permutex2var_ps(x0, pl, x1), acc);
    acc = _mm512_fmadd_ps(load16(v + 2 * g + 16), _mm512_permutex2var_ps(x2, ph, x3), acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  for (; g < groups; ++g) s += val(v, 2 * g) * x[4 * g + (pos[g] & 15)] + val(v, 2 * g + 1) * x[4 * g + (pos[g] >> 4)];
  return s;
}

// Bitmask, 16 columns at a time: the next popcount values are expanded into their columns' lanes
// (a masked load, then the register form of expand: the memory form is microcoded on some cores).
template <class V>
float dot_bitmask_avx512(const V* v, const uint8_t* mask, const float* x, int cols) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  long k = 0;
  int c = 0;
  for (; c + 32 <= cols; c += 32) {
    uint32_t m;
    std::memcpy(&m, mask + c / 8, 4);
    const __mmask16 m0 = (__mmask16)m, m1 = (__mmask16)(m >> 16);
    const int n0 = __builtin_popcount(m0), n1 = __builtin_popcount(m1);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_expand_ps(m0, load_n(v + k, n0)), _mm512_loadu_ps(x + c), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_expand_ps(m1, load_n(v + k + n0, n1)), _mm512_loadu_ps(x + c + 16), acc1);
    k += n0 + n1;
  }
  for (; c < cols; c += 16) {
    const int left = std::min(16, cols - c);
    const uint32_t m = mask[c / 8] | (left > 8 ? (uint32_t)mask[c / 8 + 1] << 8 : 0u);
    const __mmask16 live = (__mmask16)((1u << left) - 1), mk = (__mmask16)(m & live);
    const int n = __builtin_popcount(mk);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_expand_ps(mk, load_n(v + k, n)), _mm512_maskz_loadu_ps(live, x + c), acc0);
    k += n;
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// One row in memory order, two accumulator chains: the decode GEMV. Four rows at a time (x loaded once for
// them) measured up to half this speed on one token: their four streams a row apart defeat the prefetchers
// when rows are short.
template <class V>
float dot_dense_avx512(const V* w, const float* x, int n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  int c = 0;
  for (; c + 32 <= n; c += 32) {
    a0 = _mm512_fmadd_ps(load16(w + c), _mm512_loadu_ps(x + c), a0);
    a1 = _mm512_fmadd_ps(load16(w + c + 16), _mm512_loadu_ps(x + c + 16), a1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; c < n; ++c) s += val(w, c) * x[c];
  return s;
}

// Four rows against one token, for prefills: the four rows stay in cache across the tokens, and x is read
// once for them (one row against eight tokens re-reads 128 KB of x per row and measured 35 % slower).
template <class V>
void dot_dense4_avx512(const V* w, long ld, const float* x, int n, float* out) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m512 xv = _mm512_loadu_ps(x + c);
    a0 = _mm512_fmadd_ps(load16(w + c), xv, a0);
    a1 = _mm512_fmadd_ps(load16(w + ld + c), xv, a1);
    a2 = _mm512_fmadd_ps(load16(w + 2 * ld + c), xv, a2);
    a3 = _mm512_fmadd_ps(load16(w + 3 * ld + c), xv, a3);
  }
  out[0] = _mm512_reduce_add_ps(a0); out[1] = _mm512_reduce_add_ps(a1); out[2] = _mm512_reduce_add_ps(a2); out[3] = _mm512_reduce_add_ps(a3);
  for (; c < n; ++c)
    for (int i = 0; i < 4; ++i) out[i] += val(w + i * ld, c) * x[c];
}

// 2:4 for four rows: the x registers of each 64 columns serve all four rows' permutes.
template <class V>
void dot_24x4_avx512(const V* v, long vld, const uint8_t* pos, long pld, const float* x, int groups, float* out) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int g = 0;
  for (; g + 16 <= groups; g += 16) {
    const float* xs = x + 4 * g;
    const __m512 x0 = _mm512_loadu_ps(xs), x1 = _mm512_loadu_ps(xs + 16), x2 = _mm512_loadu_ps(xs + 32), x3 = _mm512_loadu_ps(xs + 48);
    for (int i = 0; i < 4; ++i) {
      const V* vi = v + i * vld + 2 * g;
      __m512i pl, ph;
      positions24(pos + i * pld + g, pl, ph);
      acc[i] = _mm512_fmadd_ps(load16(vi), _mm512_permutex2var_ps(x0, pl, x1), acc[i]);
      acc[i] = _mm512_fmadd_ps(load16(vi + 16), _mm512_permutex2var_ps(x2, ph, x3), acc[i]);
    }
  }
  for (int i = 0; i < 4; ++i) {
    float s = _mm512_reduce_add_ps(acc[i]);
    const V* vi = v + i * vld;
    const uint8_t* pi = pos + i * pld;
    for (int h = g; h < groups; ++h) s += val(vi, 2 * h) * x[4 * h + (pi[h] & 15)] + val(vi, 2 * h + 1) * x[4 * h + (pi[h] >> 4)];
    out[i] = s;
  }
}

#endif

}  // namespace
}  // namespace sp

#include "spmv_gqsa_impl.h"

namespace sp {
namespace {

template <class V>
void dense_typed(const Act& a, const V* w) {
#if defined(__AVX512F__) && defined(__AVX512BW__)
  if (a.tokens == 1) {
    by_rows(a, 64, [&](long r, const float* x) { return dot_dense_avx512(w + r * a.cols, x, a.cols); });
    return;
  }
  by_row_quads(a, 64, [&](long r, const float* x, float* out) { dot_dense4_avx512(w + r * a.cols, a.cols, x, a.cols, out); },
               [&](long r, const float* x) { return dot_dense_avx512(w + r * a.cols, x, a.cols); });
#else
  by_rows(a, 64, [&](long r, const float* x) { return dot_dense(w + r * a.cols, x, a.cols); });
#endif
}

void dense(const Act& a, const DenseW& d) {
  if (d.bf16) dense_typed(a, static_cast<const uint16_t*>(d.w));
  else dense_typed(a, static_cast<const float*>(d.w));
}

template <class V>
void nm_typed(const Act& a, const NmW& f) {
  const auto* v = static_cast<const V*>(f.vals);
  const long groups = a.cols / f.m, per_row = groups * f.n, pos_stride = (per_row + 1) / 2;
  if (f.n == 2 && f.m == 4) {
#if defined(__AVX512F__) && defined(__AVX512BW__)
    // Four rows at a time share the x registers, which pays once the kernel is compute-bound, but reads
    // four streams a row apart: with short rows (1024 columns) the prefetchers lose them and four rows
    // measured half the speed of one row after another; with 4096 columns, 17 % faster.
    if (a.cols < 4096) {
      by_rows(a, 64, [&](long r, const float* x) { return dot_24_avx512(v + r * per_row, f.pos + r * pos_stride, x, (int)groups); });
      return;
    }
    by_row_quads(a, 64, [&](long r, const float* x, float* out) { dot_24x4_avx512(v + r * per_row, per_row, f.pos + r * pos_stride, pos_stride, x, (int)groups, out); },
                 [&](long r, const float* x) { return dot_24_avx512(v + r * per_row, f.pos + r * pos_stride, x, (int)groups); });
#else
    by_rows(a, 64, [&](long r, const float* x) { return dot_24(v + r * per_row, f.pos + r * pos_stride, x, (int)groups); });
#endif
    return;
  }
  by_rows(a, 64, [&](long r, const float* x) { return dot_nm(v + r * per_row, f.pos + r * pos_stride, x, a.cols, f.n, f.m); });
}

void nm(const Act& a, const NmW& f) {
  if (f.bf16) nm_typed<uint16_t>(a, f);
  else nm_typed<float>(a, f);
}

template <class V>
void bitmask_typed(const Act& a, const BitmaskW& f) {
  const auto* v = static_cast<const V*>(f.vals);
  const long stride = (a.cols + 7) / 8;
  by_rows(a, 64, [&](long r, const float* x) {
#if defined(__AVX512F__) && defined(__AVX512BW__)
    return dot_bitmask_avx512(v + f.offsets[r], f.mask + r * stride, x, a.cols);
#else
    return dot_bitmask(v + f.offsets[r], f.mask + r * stride, x, a.cols);
#endif
  });
}

void bitmask(const Act& a, const BitmaskW& f) {
  if (f.bf16) bitmask_typed<uint16_t>(a, f);
  else bitmask_typed<float>(a, f);
}

}  // namespace

extern const SpmvKernels SP_SPMV_TABLE = {dense, nm, bitmask, gqsa};

}  // namespace sp
