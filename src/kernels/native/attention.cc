#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "gemm.h"
#include "ops.h"

namespace sp {

// Work is cut into (sequence, head, query block) tasks; a block of queries only
// looks at the keys up to its last row, so the causal half is never computed.
// The scores of keys lo..hi (inclusive) become softmax(cap(s·scale)) in place; the others 0.
static void masked_softmax(float* s, int lo, int hi, int keys, float scale, float softcap) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int j = lo; j <= hi; ++j) {
    float z = s[j] * scale;
    if (softcap > 0) z = std::tanh(z / softcap) * softcap;
    s[j] = z;
    mx = std::max(mx, z);
  }
  double sum = 0;
  for (int j = lo; j <= hi; ++j) {
    s[j] = std::exp(s[j] - mx);
    sum += s[j];
  }
  const float inv = (float)(1.0 / sum);
  for (int j = 0; j < lo; ++j) s[j] = 0.f;
  for (int j = lo; j <= hi; ++j) s[j] *= inv;
  for (int j = hi + 1; j < keys; ++j) s[j] = 0.f;
}

void attention(float* out, const float* q, const float* k, const float* v, int batch, int seq,
               int nh, int nkv, int hd, float scale, int window, float softcap) {
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
      const int i = i0 + r;
      masked_softmax(S + (long)r * keys, window > 0 ? std::max(0, i - window + 1) : 0, i, keys, scale, softcap);
    }
    gemm(GemmArgs{rows, hd, keys, S, keys, false, vh, ks, false, out + (base + i0) * qs + (long)h * hd,
                  qs, false, nullptr});
  });
}

void attention_cached(float* out, const float* q, const float* kc, const float* vc, int n, int past, int nh, int nkv, int hd,
                      float scale, int window, float softcap) {
  const int group = nh / nkv;
  const long qs = (long)nh * hd, ks = (long)nkv * hd;
  parallel_for(n * nh, [&](int t) {
    const int i = t / nh, h = t % nh, keys = past + i + 1;
    const float* qi = q + i * qs + (long)h * hd;
    const float* kh = kc + (long)(h / group) * hd;
    const float* vh = vc + (long)(h / group) * hd;
    const int lo = window > 0 ? std::max(0, keys - window) : 0;
    std::vector<float> s(keys);
    for (int j = lo; j < keys; ++j) {
      float d = 0;
      for (int c = 0; c < hd; ++c) d += qi[c] * kh[j * ks + c];
      s[j] = d;
    }
    masked_softmax(s.data(), lo, keys - 1, keys, scale, softcap);
    float* o = out + i * qs + (long)h * hd;
    for (int c = 0; c < hd; ++c) o[c] = 0.f;
    for (int j = lo; j < keys; ++j) {
      const float p = s[j];
      for (int c = 0; c < hd; ++c) o[c] += p * vh[j * ks + c];
    }
  });
}

}  // namespace sp
