// GQSA's one-shot core (docs/gqsa.md): the OBS saliency of pruning whole groups, the
// GPTQ-style sweep that prunes the chosen groups and quantizes the kept ones column by column
// with error compensation, and the straight-through fake quantizer BQPO trains through.
// All use SparseGPT's inverse-Hessian factor U (H⁻¹ = UᵀU, U upper; sparsegpt.cc).
#include "gqsa.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gemm.h"
#include "ops.h"

namespace sp {
namespace {

// fp16 storage of the scales: the dequantized weights use exactly what the file will hold.
float to_half_and_back(float x) {
  uint16_t h;
  f32_to_f16(&h, &x, 1);
  float y;
  f16_to_f32(&y, &h, 1);
  return y;
}

}  // namespace

QuantParams gqsa_params(const float* v, int g, int bits) {
  float mn = v[0], mx = v[0];
  for (int j = 1; j < g; ++j) { mn = std::min(mn, v[j]); mx = std::max(mx, v[j]); }
  const float qmax = (float)((1 << bits) - 1);
  const float scale = to_half_and_back(std::min(1e4f, std::max(1e-4f, (mx - mn) / qmax)));
  const float zero = std::min(2048.f, std::max(-2048.f, std::nearbyint(-mn / scale)));
  return {scale, zero};
}

int gqsa_code(float w, QuantParams p, int bits) {
  const float q = std::nearbyint(w / p.scale) + p.zero;
  return (int)std::min((float)((1 << bits) - 1), std::max(0.f, q));
}

void gqsa_saliency(float* score, const float* w, const float* u, int rows, int cols, int g) {
  const int groups = cols / g;
  parallel_range(rows, 16, [&](long b, long e) {
    std::vector<double> x(g);
    for (long r = b; r < e; ++r)
      for (int G = 0; G < groups; ++G) {
        // Pruning the group's columns one after another, each OBS step updating the next ones:
        // the errors e solve U_GGᵀ·e = w_G, and the loss is Σ e².
        const int c0 = G * g;
        double s = 0;
        for (int i = 0; i < g; ++i) {
          double acc = w[r * cols + c0 + i];
          for (int k = 0; k < i; ++k) acc -= x[k] * u[(long)(c0 + k) * cols + c0 + i];
          x[i] = acc / u[(long)(c0 + i) * cols + c0 + i];
          s += x[i] * x[i];
        }
        score[r * groups + G] = (float)s;
      }
  });
}

void gqsa_sweep(float* w, const uint8_t* pruned, const float* u, const float* h, int rows, int cols, int g, int bits,
                uint8_t* codes, float* scales, float* zeros) {
  const int groups = cols / g;
  const int B = std::max(g, 128 / g * g);  // sweep blocks hold whole groups
  for (int c = 0; c < cols; ++c)
    if (h[(long)c * cols + c] == 0.f)
      for (long r = 0; r < rows; ++r) w[r * cols + c] = 0.f;  // dead inputs, as SparseGPT
  std::vector<float> err((size_t)rows * B);
  for (int b0 = 0; b0 < cols; b0 += B) {
    const int b1 = std::min(cols, b0 + B), width = b1 - b0;
    parallel_range(rows, 8, [&](long rb, long re) {
      for (long r = rb; r < re; ++r) {
        float* row = w + r * cols;
        QuantParams p{1.f, 0.f};
        for (int j = b0; j < b1; ++j) {
          const int G = j / g;
          const bool drop = pruned[r * groups + G] != 0;
          if (j % g == 0) {
            p = drop ? QuantParams{0.f, 0.f} : gqsa_params(row + j, g, bits);
            scales[r * groups + G] = p.scale;
            zeros[r * groups + G] = p.zero;
          }
          const int q = drop ? 0 : gqsa_code(row[j], p, bits);
          const float dq = drop ? 0.f : p.scale * ((float)q - p.zero);
          const float e = (row[j] - dq) / u[(long)j * cols + j];
          row[j] = dq;
          codes[r * cols + j] = (uint8_t)q;
          const float* uj = u + (long)j * cols;
          for (int k = j + 1; k < b1; ++k) row[k] -= e * uj[k];
          err[r * B + (j - b0)] = -e;
        }
      }
    });
    // The columns after the block take the block's errors at once: W[:, b1:] −= E·U[b0:b1, b1:].
    if (b1 < cols) gemm(GemmArgs{rows, cols - b1, width, err.data(), B, false, u + (long)b0 * cols + b1, cols, false, w + b1, cols, true, nullptr});
  }
}

namespace {

// f(k, i0) for every group: k its index in (rows, cols/g), i0 its first weight's index in (rows, cols).
template <class F>
void each_group(long rows, int cols, int g, F&& f) {
  const int groups = cols / g;
  parallel_range(rows, 16, [&](long b, long e) {
    for (long r = b; r < e; ++r)
      for (int G = 0; G < groups; ++G) f(r * groups + G, r * cols + (long)G * g);
  });
}

}  // namespace

void gqsa_fake_quant(float* wq, const float* w, const float* scales, const float* zeros, const uint8_t* pruned,
                     long rows, int cols, int g, int bits, uint8_t* codes) {
  const float qmax = (float)((1 << bits) - 1);
  each_group(rows, cols, g, [&](long k, long i0) {
    const float s = scales[k], z = std::nearbyint(zeros[k]);
    for (long i = i0; i < i0 + g; ++i) {
      const float q = pruned[k] ? 0.f : std::min(qmax, std::max(0.f, std::nearbyint(w[i] / s) + z));
      wq[i] = pruned[k] ? 0.f : s * (q - z);
      if (codes) codes[i] = (uint8_t)q;
    }
  });
}

void gqsa_fake_quant_backward(float* dw, float* ds, float* dz, const float* dwq, const float* w, const float* scales,
                              const float* zeros, const uint8_t* pruned, long rows, int cols, int g, int bits) {
  const float qmax = (float)((1 << bits) - 1);
  each_group(rows, cols, g, [&](long k, long i0) {
    double gs = 0, gz = 0;
    const float s = scales[k], z = std::nearbyint(zeros[k]);
    for (long i = i0; i < i0 + g; ++i) {
      if (pruned[k]) { dw[i] = 0.f; continue; }
      // Straight-through rounding: ŵ = s·(clamp(w/s + z) − z) with round() passing gradients as identity.
      const float t = std::nearbyint(w[i] / s) + z;
      const bool inside = t >= 0.f && t <= qmax;
      const float q = std::min(qmax, std::max(0.f, t));
      dw[i] = inside ? dwq[i] : 0.f;
      gs += (double)dwq[i] * (inside ? (q - z) - w[i] / s : (q - z));
      gz += (double)dwq[i] * (inside ? 0.f : -s);
    }
    ds[k] = (float)gs;
    dz[k] = (float)gz;
  });
}

void gqsa_dequant(float* w, const uint8_t* codes, const float* scales, const float* zeros, const uint8_t* pruned, long rows, int cols, int g) {
  each_group(rows, cols, g, [&](long k, long i0) {
    for (long i = i0; i < i0 + g; ++i) w[i] = pruned[k] ? 0.f : scales[k] * ((float)codes[i] - zeros[k]);
  });
}

void gqsa_scale_grad(float* ds, const float* dw, const uint8_t* codes, const float* zeros, const uint8_t* pruned, long rows, int cols, int g) {
  each_group(rows, cols, g, [&](long k, long i0) {
    double s = 0;
    if (!pruned[k])
      for (long i = i0; i < i0 + g; ++i) s += (double)dw[i] * ((float)codes[i] - zeros[k]);
    ds[k] = (float)s;
  });
}

void gqsa_unpack(float* out, const GqsaW& q, int rows, int cols) {
  const int g = q.group;
  parallel_range(rows, 16, [&](long b, long e) {
    for (long r = b; r < e; ++r) {
      float* row = out + r * cols;
      std::fill(row, row + cols, 0.f);
      for (long k = q.row_ptr[r]; k < q.row_ptr[r + 1]; ++k)
        for (int j = 0; j < g; ++j) row[(long)q.col[k] * g + j] = gqsa_weight(q, k, j);
    }
  });
}

void gqsa_pair_codes(uint8_t* pairs, const uint8_t* codes, long nnzb, int g) {
  parallel_range((nnzb + 1) / 2, 4096, [&](long b, long e) {
    for (long p = b; p < e; ++p)
      for (int j = 0; j < g; ++j) {
        const long k = 2 * p;
        const int lo = (codes[k * (g / 2) + (j >> 1)] >> ((j & 1) * 4)) & 15;
        const int hi = k + 1 < nnzb ? (codes[(k + 1) * (g / 2) + (j >> 1)] >> ((j & 1) * 4)) & 15 : 0;
        pairs[p * g + j] = (uint8_t)(lo | hi << 4);
      }
  });
}

void gqsa_group_codes(uint8_t* codes, const uint8_t* pairs, long nnzb, int g) {
  auto code = [&](long k, int j) { return (pairs[(k >> 1) * g + j] >> ((k & 1) * 4)) & 15; };
  parallel_range(nnzb, 4096, [&](long b, long e) {
    for (long k = b; k < e; ++k)
      for (int j = 0; j < g; j += 2)
        codes[k * (g / 2) + j / 2] = (uint8_t)(code(k, j) | code(k, j + 1) << 4);
  });
}

}  // namespace sp
