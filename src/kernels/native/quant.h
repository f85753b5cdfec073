// The weight quantizer of IST-DASLab's gptq and sparsegpt (quant.py), in float32 as torch runs it:
// min-max over the values with 0 forced into the range, so 0 lies on the grid; rounding is
// torch.round's, half to even (nearbyint in the default rounding mode).
#pragma once
#include <algorithm>
#include <cmath>

#include "ops.h"

namespace sp {

struct QuantParams {
  float scale;
  float zero;
};

// Parameters of the n values at x (stride 1); entries with skip[i] set count as 0 (pruned weights).
inline QuantParams quant_find_params(const float* x, const uint8_t* skip, int n, int maxq, bool sym, int scale_dtype) {
  float xmin = 0.f, xmax = 0.f;
  for (int i = 0; i < n; ++i) {
    if (skip && skip[i]) continue;
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  if (sym) {
    xmax = std::max(std::fabs(xmin), xmax);
    if (xmin < 0.f) xmin = -xmax;
  }
  if (xmin == 0.f && xmax == 0.f) { xmin = -1.f; xmax = 1.f; }
  float scale = round_to_dtype((xmax - xmin) / (float)maxq, scale_dtype);
  // A scale below the storage dtype's range would divide by zero: take its smallest step instead.
  if (scale == 0.f) scale = scale_dtype == 2 ? 5.9604645e-8f : 9.18354962e-41f;
  const float zero = sym ? (float)(maxq + 1) / 2.f : std::nearbyint(-xmin / scale) + 0.f;  // + 0: no −0 zero point
  return {scale, zero};
}

inline float quant_apply(float x, QuantParams p, int maxq) {
  const float q = std::min(std::max(std::nearbyint(x / p.scale) + p.zero, 0.f), (float)maxq);
  return p.scale * (q - p.zero);
}

}  // namespace sp
