// Backward passes of the engine's non-GEMM kernels (linear layers are two GEMMs each).
// Float32 values, double accumulation where a sum runs over a row.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backward.h"
#include "gemm.h"
#include "ops.h"

namespace sp {

void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, int rows, int dim,
                      float eps) {
  // dw needs a sum over rows: each task keeps its own partial sums, added in task order.
  const int tasks = std::min(rows, 64);
  std::vector<double> part((size_t)tasks * dim, 0.0);
  parallel_for(tasks, [&](int t) {
    const long b = (long)rows * t / tasks, e = (long)rows * (t + 1) / tasks;
    double* pw = part.data() + (size_t)t * dim;
    for (long r = b; r < e; ++r) {
      const float* xr = x + r * dim;
      const float* g = dy + r * dim;
      double ss = 0, dot = 0;
      for (int i = 0; i < dim; ++i) ss += (double)xr[i] * xr[i];
      const double inv = 1.0 / std::sqrt(ss / dim + eps);
      for (int i = 0; i < dim; ++i) {
        dot += (double)g[i] * w[i] * xr[i];
        pw[i] += (double)g[i] * xr[i] * inv;
      }
      const double c = dot * inv * inv * inv / dim;
      float* d = dx + r * dim;
      for (int i = 0; i < dim; ++i) d[i] = (float)(inv * g[i] * w[i] - c * xr[i]);
    }
  });
  if (dw)
    for (int t = 0; t < tasks; ++t)
      for (int i = 0; i < dim; ++i) dw[i] += (float)part[(size_t)t * dim + i];
}

void silu_mul_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, long n) {
  parallel_range(n, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) {
      const float g = gate[i], sg = 1.0f / (1.0f + std::exp(-g)), silu = g * sg;
      dup[i] = dout[i] * silu;
      dgate[i] = dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
    }
  });
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, int batch, int seq, int nh, int nkv, int hd, float scale) {
  // One task per (sequence, kv head): it owns that head's dk, dv, and the dq of its query heads.
  const int group = nh / nkv;
  const long qs = (long)nh * hd, ks = (long)nkv * hd;
  parallel_for(batch * nkv, [&](int t) {
    const int kvh = t % nkv, b = t / nkv;
    const long base = (long)b * seq;
    float* dkh = dk + base * ks + (long)kvh * hd;
    float* dvh = dv + base * ks + (long)kvh * hd;
    const float* kh = k + base * ks + (long)kvh * hd;
    const float* vh = v + base * ks + (long)kvh * hd;
    for (int r = 0; r < seq; ++r) {
      std::fill(dkh + r * ks, dkh + r * ks + hd, 0.f);
      std::fill(dvh + r * ks, dvh + r * ks + hd, 0.f);
    }
    std::vector<float> P((size_t)seq * seq), dP((size_t)seq * seq);
    for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
      const float* qh = q + base * qs + (long)h * hd;
      const float* doh = dout + base * qs + (long)h * hd;
      float* dqh = dq + base * qs + (long)h * hd;
      // P = softmax(causal(q·kᵀ·scale)), recomputed
      gemm(GemmArgs{seq, seq, hd, qh, qs, false, kh, ks, true, P.data(), seq, false, nullptr});
      for (int i = 0; i < seq; ++i) {
        float* p = P.data() + (long)i * seq;
        float mx = -std::numeric_limits<float>::infinity();
        for (int j = 0; j <= i; ++j) mx = std::max(mx, p[j] * scale);
        double sum = 0;
        for (int j = 0; j <= i; ++j) { p[j] = std::exp(p[j] * scale - mx); sum += p[j]; }
        const float inv = (float)(1.0 / sum);
        for (int j = 0; j <= i; ++j) p[j] *= inv;
        for (int j = i + 1; j < seq; ++j) p[j] = 0.f;
      }
      // dv += Pᵀ·do;  dP = do·vᵀ
      gemm(GemmArgs{seq, hd, seq, P.data(), seq, true, doh, qs, false, dvh, ks, true, nullptr});
      gemm(GemmArgs{seq, seq, hd, doh, qs, false, vh, ks, true, dP.data(), seq, false, nullptr});
      // dS = P ⊙ (dP − rowsum(P ⊙ dP)), times the scale of the scores
      for (int i = 0; i < seq; ++i) {
        float* p = P.data() + (long)i * seq;
        const float* g = dP.data() + (long)i * seq;
        double dot = 0;
        for (int j = 0; j <= i; ++j) dot += (double)p[j] * g[j];
        for (int j = 0; j <= i; ++j) p[j] = p[j] * (float)(g[j] - dot) * scale;
      }
      // dq = dS·k;  dk += dSᵀ·q
      gemm(GemmArgs{seq, hd, seq, P.data(), seq, false, kh, ks, false, dqh, qs, false, nullptr});
      gemm(GemmArgs{seq, hd, seq, P.data(), seq, true, qh, qs, false, dkh, ks, true, nullptr});
    }
  });
}

void xent_backward(float* logits, const int32_t* targets, int rows, int vocab, float scale) {
  parallel_range(rows, 16, [&](long b, long e) {
    for (long r = b; r < e; ++r) {
      float* l = logits + r * (long)vocab;
      float mx = l[0];
      for (int j = 1; j < vocab; ++j) mx = std::max(mx, l[j]);
      double sum = 0;
      for (int j = 0; j < vocab; ++j) sum += std::exp((double)(l[j] - mx));
      const double inv = 1.0 / sum;
      for (int j = 0; j < vocab; ++j) l[j] = (float)(std::exp((double)(l[j] - mx)) * inv * scale);
      l[targets[r]] -= scale;
    }
  });
}

void adamw_step(float* p, const float* g, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
                float weight_decay, int step) {
  const float c1 = 1.0f - std::pow(beta1, (float)step), c2 = 1.0f - std::pow(beta2, (float)step);
  parallel_range(n, 1 << 15, [&](long b, long e) {
    for (long i = b; i < e; ++i) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      p[i] -= lr * ((m[i] / c1) / (std::sqrt(v[i] / c2) + eps) + weight_decay * p[i]);
    }
  });
}

}  // namespace sp
