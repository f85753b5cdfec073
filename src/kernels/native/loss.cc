#include <algorithm>
#include <cmath>

#include "ops.h"

namespace sp {

void nll_rows(float* losses, const float* logits, const int32_t* targets, int rows, int vocab) {
  parallel_range(rows, 16, [&](long b, long e) {
    for (long r = b; r < e; ++r) {
      const float* l = logits + r * (long)vocab;
      float mx = l[0];
      for (int j = 1; j < vocab; ++j) mx = std::max(mx, l[j]);
      double sum = 0;
      for (int j = 0; j < vocab; ++j) sum += std::exp((double)(l[j] - mx));
      losses[r] = (float)(std::log(sum) + mx - l[targets[r]]);
    }
  });
}

void lse_tile(float* mx, float* sum, float* zt, const float* logits, const int32_t* targets, int col0, int rows, int cols) {
  parallel_range(rows, 4, [&](long b, long e) {
    for (long r = b; r < e; ++r) {
      const float* l = logits + r * (long)cols;
      float m = mx[r];
      for (int j = 0; j < cols; ++j) m = std::max(m, l[j]);
      double s = sum[r] == 0 ? 0.0 : sum[r] * std::exp((double)mx[r] - m);
      for (int j = 0; j < cols; ++j) s += std::exp((double)(l[j] - m));
      mx[r] = m;
      sum[r] = (float)s;
      const long t = (long)targets[r] - col0;
      if (t >= 0 && t < cols) zt[r] = l[t];
    }
  });
}

void xent_tile_backward(float* logits, const float* lse, const int32_t* targets, const float* row_scale, int col0, int rows, int cols) {
  parallel_range(rows, 4, [&](long b, long e) {
    for (long r = b; r < e; ++r) {
      float* l = logits + r * (long)cols;
      const double scale = row_scale[r], z = lse[r];
      for (int j = 0; j < cols; ++j) l[j] = (float)(std::exp((double)l[j] - z) * scale);
      const long t = (long)targets[r] - col0;
      if (t >= 0 && t < cols) l[t] -= (float)scale;
    }
  });
}

// One row's log-sum-exp and the first index of its largest value.
static double lse_argmax(const float* l, int vocab, int* top) {
  int best = 0;
  for (int j = 1; j < vocab; ++j) if (l[j] > l[best]) best = j;
  double sum = 0;
  for (int j = 0; j < vocab; ++j) sum += std::exp((double)(l[j] - l[best]));
  *top = best;
  return std::log(sum) + l[best];
}

void kl_rows(float* kl, uint8_t* same, const float* base, const float* other, int rows, int vocab) {
  parallel_range(rows, 8, [&](long b, long e) {
    for (long r = b; r < e; ++r) {
      const float* p = base + r * (long)vocab;
      const float* q = other + r * (long)vocab;
      int tp, tq;
      const double lp = lse_argmax(p, vocab, &tp), lq = lse_argmax(q, vocab, &tq);
      double acc = 0;
      for (int j = 0; j < vocab; ++j) {
        const double logp = p[j] - lp;
        acc += std::exp(logp) * (logp - (q[j] - lq));
      }
      kl[r] = (float)acc;
      same[r] = tp == tq;
    }
  });
}

}  // namespace sp
