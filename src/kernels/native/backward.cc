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

void act_mul_backward(int act, float* dgate, float* dup, const float* dout, const float* gate, const float* up, long n) {
  const float k = 0.7978845608028654f;
  parallel_range(n, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) {
      const float g = gate[i];
      float a, da;
      if (act == 1) {
        const float t = std::tanh(k * (g + 0.044715f * g * g * g));
        a = 0.5f * g * (1.f + t);
        da = 0.5f * (1.f + t) + 0.5f * g * (1.f - t * t) * k * (1.f + 3.f * 0.044715f * g * g);
      } else if (act == 2) {
        a = g > 0.f ? g : 0.f;
        da = g > 0.f ? 1.f : 0.f;
      } else {
        const float sg = 1.0f / (1.0f + std::exp(-g));
        a = g * sg;
        da = sg * (1.0f + g * (1.0f - sg));
      }
      if (up) {
        dup[i] = dout[i] * a;
        dgate[i] = dout[i] * up[i] * da;
      } else {
        dgate[i] = dout[i] * da;
      }
    }
  });
}

void layernorm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int rows, int dim,
                        float eps) {
  // dw, db need sums over rows: each task keeps its own partial sums, added in task order.
  const int tasks = std::min(rows, 64);
  std::vector<double> part((size_t)tasks * dim * 2, 0.0);
  parallel_for(tasks, [&](int t) {
    const long b = (long)rows * t / tasks, e = (long)rows * (t + 1) / tasks;
    double* pw = part.data() + (size_t)t * dim * 2;
    double* pb = pw + dim;
    for (long r = b; r < e; ++r) {
      const float* xr = x + r * dim;
      const float* g = dy + r * dim;
      double sum = 0, ss = 0;
      for (int i = 0; i < dim; ++i) sum += xr[i];
      const double mean = sum / dim;
      for (int i = 0; i < dim; ++i) ss += (xr[i] - mean) * (xr[i] - mean);
      const double inv = 1.0 / std::sqrt(ss / dim + eps);
      // With n = (x − mean)·inv and gn = g ⊙ w: dx = inv·(gn − mean(gn) − n·mean(gn ⊙ n)).
      double mg = 0, mgn = 0;
      for (int i = 0; i < dim; ++i) {
        const double n = (xr[i] - mean) * inv, gn = (double)g[i] * w[i];
        mg += gn;
        mgn += gn * n;
        pw[i] += (double)g[i] * n;
        pb[i] += g[i];
      }
      mg /= dim;
      mgn /= dim;
      float* d = dx + r * dim;
      for (int i = 0; i < dim; ++i) {
        const double n = (xr[i] - mean) * inv;
        d[i] = (float)(inv * ((double)g[i] * w[i] - mg - n * mgn));
      }
    }
  });
  for (int t = 0; t < tasks; ++t)
    for (int i = 0; i < dim; ++i) {
      if (dw) dw[i] += (float)part[(size_t)t * dim * 2 + i];
      if (db) db[i] += (float)part[(size_t)t * dim * 2 + dim + i];
    }
}

void softcap_backward(float* dx, const float* y, long n, float cap) {
  parallel_range(n, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) {
      const float t = y[i] / cap;
      dx[i] *= 1.f - t * t;
    }
  });
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, int batch, int seq, int nh, int nkv, int hd, float scale, int window, float softcap) {
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
    std::vector<float> P((size_t)seq * seq), dP((size_t)seq * seq), Z(softcap > 0 ? (size_t)seq * seq : 0);
    for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
      const float* qh = q + base * qs + (long)h * hd;
      const float* doh = dout + base * qs + (long)h * hd;
      float* dqh = dq + base * qs + (long)h * hd;
      // P = softmax(mask(cap(q·kᵀ·scale))), recomputed; Z keeps the capped scores for cap's derivative
      gemm(GemmArgs{seq, seq, hd, qh, qs, false, kh, ks, true, P.data(), seq, false, nullptr});
      for (int i = 0; i < seq; ++i) {
        float* p = P.data() + (long)i * seq;
        const int lo = window > 0 ? std::max(0, i - window + 1) : 0;
        float mx = -std::numeric_limits<float>::infinity();
        for (int j = lo; j <= i; ++j) {
          float z = p[j] * scale;
          if (softcap > 0) { z = std::tanh(z / softcap) * softcap; Z[(long)i * seq + j] = z; }
          p[j] = z;
          mx = std::max(mx, z);
        }
        double sum = 0;
        for (int j = lo; j <= i; ++j) { p[j] = std::exp(p[j] - mx); sum += p[j]; }
        const float inv = (float)(1.0 / sum);
        for (int j = 0; j < lo; ++j) p[j] = 0.f;
        for (int j = lo; j <= i; ++j) p[j] *= inv;
        for (int j = i + 1; j < seq; ++j) p[j] = 0.f;
      }
      // dv += Pᵀ·do;  dP = do·vᵀ
      gemm(GemmArgs{seq, hd, seq, P.data(), seq, true, doh, qs, false, dvh, ks, true, nullptr});
      gemm(GemmArgs{seq, seq, hd, doh, qs, false, vh, ks, true, dP.data(), seq, false, nullptr});
      // dS = P ⊙ (dP − rowsum(P ⊙ dP)), times the scale of the scores (and cap's derivative 1 − (z/cap)²)
      for (int i = 0; i < seq; ++i) {
        float* p = P.data() + (long)i * seq;
        const float* g = dP.data() + (long)i * seq;
        double dot = 0;
        for (int j = 0; j <= i; ++j) dot += (double)p[j] * g[j];
        for (int j = 0; j <= i; ++j) {
          float d = p[j] * (float)(g[j] - dot) * scale;
          if (softcap > 0 && p[j] != 0.f) { const float t = Z[(long)i * seq + j] / softcap; d *= 1.f - t * t; }
          p[j] = d;
        }
      }
      // dq = dS·k;  dk += dSᵀ·q
      gemm(GemmArgs{seq, hd, seq, P.data(), seq, false, kh, ks, false, dqh, qs, false, nullptr});
      gemm(GemmArgs{seq, hd, seq, P.data(), seq, true, qh, qs, false, dkh, ks, true, nullptr});
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
