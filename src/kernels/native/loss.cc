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

}  // namespace sp
