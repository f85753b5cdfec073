#include <cmath>

#include "backward.h"
#include <algorithm>
#include <vector>

#include "ops.h"

namespace sp {

void rmsnorm(float* out, const float* x, const float* w, int rows, int dim, float eps) {
  parallel_range(rows, 64, [&](long b, long e) {
    for (long r = b; r < e; ++r) {
      const float* xr = x + r * dim;
      float* o = out + r * dim;
      double ss = 0;
      for (int i = 0; i < dim; ++i) ss += (double)xr[i] * xr[i];
      const float inv = 1.0f / std::sqrt((float)(ss / dim) + eps);
      for (int i = 0; i < dim; ++i) o[i] = (xr[i] * inv) * w[i];
    }
  });
}

// Rotates each (i, i + rot/2) pair by the position's angle, or by its opposite when `inverse`:
// the rotation is orthogonal, so its inverse is also its gradient.
static void rotate_pairs(float* x, const float* cos, const float* sin, int tokens, int seq, int heads, int hd, int rot,
                         bool inverse) {
  const int half = rot / 2;
  const float sign = inverse ? -1.f : 1.f;
  parallel_range(tokens, 64, [&](long b, long e) {
    for (long t = b; t < e; ++t) {
      const float* c = cos + (t % seq) * half;
      const float* s = sin + (t % seq) * half;
      for (int h = 0; h < heads; ++h) {
        float* v = x + (t * heads + h) * (long)hd;
        for (int i = 0; i < half; ++i) {
          const float x1 = v[i], x2 = v[i + half], si = sign * s[i];
          v[i] = x1 * c[i] - x2 * si;
          v[i + half] = x2 * c[i] + x1 * si;
        }
      }
    }
  });
}

void rope(float* x, const float* cos, const float* sin, int tokens, int seq, int heads, int hd, int rot) {
  rotate_pairs(x, cos, sin, tokens, seq, heads, hd, rot, false);
}

void rope_backward(float* dx, const float* cos, const float* sin, int tokens, int seq, int heads, int hd, int rot) {
  rotate_pairs(dx, cos, sin, tokens, seq, heads, hd, rot, true);
}

// torch's gelu(approximate='tanh'): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
static inline float gelu_tanh(float x) {
  const float k = 0.7978845608028654f;
  return 0.5f * x * (1.f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

static inline float activate(int act, float g) {
  if (act == 1) return gelu_tanh(g);
  if (act == 2) return g > 0.f ? g : 0.f;
  return g / (1.0f + std::exp(-g));
}

void act_mul(int act, float* out, const float* gate, const float* up, long n) {
  parallel_range(n, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) out[i] = up ? activate(act, gate[i]) * up[i] : activate(act, gate[i]);
  });
}

void layernorm(float* out, const float* x, const float* w, const float* b, int rows, int dim, float eps) {
  parallel_range(rows, 64, [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* o = out + r * dim;
      double sum = 0, ss = 0;
      for (int i = 0; i < dim; ++i) sum += xr[i];
      const double mean = sum / dim;
      for (int i = 0; i < dim; ++i) ss += (xr[i] - mean) * (xr[i] - mean);
      const float inv = (float)(1.0 / std::sqrt(ss / dim + eps)), m = (float)mean;
      for (int i = 0; i < dim; ++i) o[i] = (xr[i] - m) * inv * w[i] + b[i];
    }
  });
}

void softcap(float* x, long n, float cap) {
  parallel_range(n, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) x[i] = std::tanh(x[i] / cap) * cap;
  });
}

void scale_inplace(float* x, long n, float s) {
  parallel_range(n, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) x[i] *= s;
  });
}

void silu_mul(float* out, const float* gate, const float* up, long n) {
  parallel_range(n, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) {
      const float g = gate[i];
      out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  });
}

void add_inplace(float* x, const float* y, long n) {
  parallel_range(n, 1 << 16, [&](long b, long e) {
    for (long i = b; i < e; ++i) x[i] += y[i];
  });
}

double mse_grad(float* d, const float* out, const float* target, long n) {
  // Per-chunk partial sums in a fixed order: the loss does not depend on the thread count.
  const long chunk = 1 << 16, chunks = (n + chunk - 1) / chunk;
  std::vector<double> part(chunks);
  parallel_for((int)chunks, [&](int c) {
    double s = 0;
    for (long i = c * chunk, e = std::min(n, i + chunk); i < e; ++i) {
      const float diff = out[i] - target[i];
      s += (double)diff * diff;
      d[i] = 2.f * diff / (float)n;
    }
    part[c] = s;
  });
  double s = 0;
  for (double p : part) s += p;
  return s / (double)n;
}

}  // namespace sp
