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

// Rotates each (i, i + hd/2) pair by the position's angle, or by its opposite when `inverse`:
// the rotation is orthogonal, so its inverse is also its gradient.
static void rotate_pairs(float* x, const float* cos, const float* sin, int tokens, int seq, int heads, int hd, bool inverse) {
  const int half = hd / 2;
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

void rope(float* x, const float* cos, const float* sin, int tokens, int seq, int heads, int hd) {
  rotate_pairs(x, cos, sin, tokens, seq, heads, hd, false);
}

void rope_backward(float* dx, const float* cos, const float* sin, int tokens, int seq, int heads, int hd) {
  rotate_pairs(dx, cos, sin, tokens, seq, heads, hd, true);
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
