#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "gemm.h"
#include "ops.h"

namespace sp {

// Work is cut into (sequence, head, query block) tasks; a block of queries only
// looks at the keys up to its last row, so the causal half is never computed.
void attention(float* out, const float* q, const float* k, const float* v, int batch, int seq,
               int nh, int nkv, int hd, float scale) {
  constexpr int QB = 64;
  const int qblocks = (seq + QB - 1) / QB, group = nh / nkv;
  const long qs = (long)nh * hd, ks = (long)nkv * hd;
  parallel_for(batch * nh * qblocks, [&](int t) {
    const int qb = t % qblocks, h = (t / qblocks) % nh, b = t / (qblocks * nh);
    const int i0 = qb * QB, rows = std::min(QB, seq - i0), keys = i0 + rows;
    const long base = (long)b * seq;
    const float* qh = q + (base + i0) * qs + (long)h * hd;
    const float* kh = k + base * ks + (long)(h / group) * hd;
    const float* vh = v + base * ks + (long)(h / group) * hd;
    thread_local std::vector<float> sbuf;
    if (sbuf.size() < (size_t)QB * seq) sbuf.resize((size_t)QB * seq);
    float* S = sbuf.data();  // (rows, keys)
    gemm(GemmArgs{rows, keys, hd, qh, qs, false, kh, ks, true, S, keys, false, nullptr});
    for (int r = 0; r < rows; ++r) {
      float* s = S + (long)r * keys;
      const int valid = i0 + r + 1;
      float mx = -std::numeric_limits<float>::infinity();
      for (int j = 0; j < valid; ++j) mx = std::max(mx, s[j] * scale);
      double sum = 0;
      for (int j = 0; j < valid; ++j) {
        s[j] = std::exp(s[j] * scale - mx);
        sum += s[j];
      }
      const float inv = (float)(1.0 / sum);
      for (int j = 0; j < valid; ++j) s[j] *= inv;
      for (int j = valid; j < keys; ++j) s[j] = 0.f;
    }
    gemm(GemmArgs{rows, hd, keys, S, keys, false, vh, ks, false, out + (base + i0) * qs + (long)h * hd,
                  qs, false, nullptr});
  });
}

void attention_cached(float* out, const float* q, const float* kc, const float* vc, int n, int past, int nh, int nkv, int hd,
                      float scale) {
  const int group = nh / nkv;
  const long qs = (long)nh * hd, ks = (long)nkv * hd;
  parallel_for(n * nh, [&](int t) {
    const int i = t / nh, h = t % nh, keys = past + i + 1;
    const float* qi = q + i * qs + (long)h * hd;
    const float* kh = kc + (long)(h / group) * hd;
    const float* vh = vc + (long)(h / group) * hd;
    std::vector<float> s(keys);
    float mx = -std::numeric_limits<float>::infinity();
    for (int j = 0; j < keys; ++j) {
      float d = 0;
      for (int c = 0; c < hd; ++c) d += qi[c] * kh[j * ks + c];
      s[j] = d * scale;
      mx = std::max(mx, s[j]);
    }
    double sum = 0;
    for (int j = 0; j < keys; ++j) { s[j] = std::exp(s[j] - mx); sum += s[j]; }
    float* o = out + i * qs + (long)h * hd;
    for (int c = 0; c < hd; ++c) o[c] = 0.f;
    for (int j = 0; j < keys; ++j) {
      const float p = (float)(s[j] / sum);
      for (int c = 0; c < hd; ++c) o[c] += p * vh[j * ks + c];
    }
  });
}

}  // namespace sp
