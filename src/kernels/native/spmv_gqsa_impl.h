// GQSA's decode kernel, a part of spmv_impl.h: included by it after the shared row helpers and dot
// products, so it shares their translation unit and unnamed namespace.
#pragma once

namespace sp {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__)
// GQSA (pair layout, spmv.h): 16 bytes of a pair widened to 16 lanes; each lane's low or high nibble,
// masked in place and OR-ed into the mantissa of 2^23, is the held code as a float, and (it − offset
// zero)·scale is the weight exactly as the reference computes it: one ternary-logic instruction per
// group and no conversion, for the cores run out of vector instructions here, not bandwidth (docs/gqsa.md).
inline __m512i pair_lanes(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m512 low_codes(__m512i v) {
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(v, _mm512_set1_epi32(15), _mm512_set1_epi32(0x4B000000), 0xEA));  // (v & 15) | 2^23
}
inline __m512 high_codes(__m512i v) {
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(v, _mm512_set1_epi32(0xF0), _mm512_set1_epi32(0x4B000000), 0xEA));  // (v & 0xF0) | 2^23
}
inline __m512 gqsa_weights(__m512 codes, float scale, float offset_zero) {
  return _mm512_mul_ps(_mm512_sub_ps(codes, _mm512_set1_ps(offset_zero)), _mm512_set1_ps(scale));
}

// Groups kb..ke−1 of one row against T tokens: each group is dequantized once for all of them.
// Groups of 16 go a pair at a time (one load of codes, two accumulators).
template <int T>
void gqsa_segment_avx512(const GqsaW& q, long kb, long ke, const float* x, long ldx, float* out) {
  __m512 acc[2][T];
  for (int t = 0; t < T; ++t) acc[0][t] = acc[1][t] = _mm512_setzero_ps();
  const int g = q.group;
  const uint16_t* col = q.col;
  const float *scales = q.scales, *zo = q.offset_zeros;
  auto add = [&](__m512 w, const float* xc, __m512* a) {
    for (int t = 0; t < T; ++t) a[t] = _mm512_fmadd_ps(w, _mm512_loadu_ps(xc + t * ldx), a[t]);
  };
  // One group alone, its 16-column pieces in turn.
  auto single = [&](long k) {
    for (int b = 0; b < g; b += 16) {
      const __m512i v = pair_lanes(q.pairs + (k >> 1) * g + b);
      add(gqsa_weights(k & 1 ? high_codes(v) : low_codes(v), scales[k], zo[k]), x + (long)col[k] * g + b, acc[0]);
    }
  };
  long k = kb;
  if (g == 16) {
    if (k & 1) single(k++);
    for (; k + 2 <= ke; k += 2) {
      const __m512i v = pair_lanes(q.pairs + k * 8);
      add(gqsa_weights(low_codes(v), scales[k], zo[k]), x + (long)col[k] * 16, acc[0]);
      add(gqsa_weights(high_codes(v), scales[k + 1], zo[k + 1]), x + (long)col[k + 1] * 16, acc[1]);
    }
  }
  for (; k < ke; ++k) single(k);
  for (int t = 0; t < T; ++t) out[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[0][t], acc[1][t]));
}
#endif

void gqsa_segment_scalar(const GqsaW& q, long kb, long ke, const float* x, long ldx, int tokens, float* out) {
  for (int t = 0; t < tokens; ++t) {
    float acc[4] = {};
    for (long k = kb; k < ke; ++k) {
      const float* xc = x + t * ldx + (long)q.col[k] * q.group;
      for (int j = 0; j < q.group; ++j) acc[j & 3] += gqsa_weight(q, k, j) * xc[j];
    }
    out[t] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
}

// Sums of groups kb..ke−1 of one row for every token into out[tokens], up to 8 tokens per pass.
void gqsa_segment(const GqsaW& q, long kb, long ke, const Act& a, float* out) {
#if defined(__AVX512F__) && defined(__AVX512BW__)
  if (q.group % 16 == 0) {
    int t = 0;
    for (; t + 8 <= a.tokens; t += 8) gqsa_segment_avx512<8>(q, kb, ke, a.x + (long)t * a.cols, a.cols, out + t);
    for (; t + 4 <= a.tokens; t += 4) gqsa_segment_avx512<4>(q, kb, ke, a.x + (long)t * a.cols, a.cols, out + t);
    for (; t < a.tokens; ++t) gqsa_segment_avx512<1>(q, kb, ke, a.x + (long)t * a.cols, a.cols, out + t);
    return;
  }
#endif
  gqsa_segment_scalar(q, kb, ke, a.x, a.cols, a.tokens, out);
}

// Task-centric split (GQSA): the kept groups of the whole matrix are cut into equal tasks, whatever
// rows they fall in, so unbalanced rows cost no idle threads. A row belongs to the task holding its
// first group; a task that starts inside a row keeps that piece aside, added after all tasks finish.
// Tasks have a fixed size, so results do not depend on the thread count. 8192 groups (about 64 rows of a
// 4096-wide layer at 50%): smaller tasks measured slower, their rows' outputs sharing cache lines across threads.
// Threads take contiguous runs of tasks (parallel_runs): handed out one by one they measured 5 % slower.
constexpr long kTaskGroups = 8192;

void gqsa(const Act& a, const GqsaW& q) {
  const long nnzb = q.row_ptr[a.rows];
  const int tasks = (int)std::max<long>(1, (nnzb + kTaskGroups - 1) / kTaskGroups);
  std::vector<float> carry((size_t)tasks * a.tokens, 0.f);
  std::vector<int> carry_row(tasks, -1);
  for (int r = 0; r < a.rows; ++r)
    if (q.row_ptr[r] == q.row_ptr[r + 1])
      for (int t = 0; t < a.tokens; ++t) a.y[(long)t * a.rows + r] = 0.f;
  parallel_runs(tasks, [&](int task) {
    std::vector<float> part(a.tokens);
    const long gb = task * kTaskGroups, ge = std::min(nnzb, gb + kTaskGroups);
    int r = (int)(std::upper_bound(q.row_ptr, q.row_ptr + a.rows + 1, (int32_t)gb) - q.row_ptr) - 1;
    for (long k = gb; k < ge; ++r) {
      const long end = std::min<long>(ge, q.row_ptr[r + 1]);
      if (end <= k) continue;  // empty row
      gqsa_segment(q, k, end, a, part.data());
      if (k == q.row_ptr[r]) {
        for (int t = 0; t < a.tokens; ++t) a.y[(long)t * a.rows + r] = part[t];
      } else {
        carry_row[task] = r;
        std::copy(part.begin(), part.end(), carry.begin() + (long)task * a.tokens);
      }
      k = end;
    }
  });
  for (int task = 0; task < tasks; ++task)
    if (carry_row[task] >= 0)
      for (int t = 0; t < a.tokens; ++t) a.y[(long)t * a.rows + carry_row[task]] += carry[(long)task * a.tokens + t];
}

}  // namespace
}  // namespace sp
