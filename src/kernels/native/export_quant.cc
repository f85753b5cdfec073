#include "export_quant.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "ops.h"

namespace sp {
namespace {

inline uint16_t half(float v) { uint16_t h; f32_to_f16(&h, &v, 1); return h; }

void q8_0_block(uint8_t* out, const float* x) {
  float amax = 0.f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f, id = d ? 1.f / d : 0.f;
  put16(out, half(d));
  for (int j = 0; j < 32; ++j) out[2 + j] = (uint8_t)(int8_t)std::roundf(x[j] * id);
}

void q4_1_block(uint8_t* out, const float* x) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < 32; ++j) { min = std::min(min, x[j]); max = std::max(max, x[j]); }
  const float d = (max - min) / 15.f, id = d ? 1.f / d : 0.f;
  put16(out, half(d));
  put16(out + 2, half(min));
  for (int j = 0; j < 16; ++j) {
    const float lo = (x[j] - min) * id + 0.5f, hi = (x[j + 16] - min) * id + 0.5f;
    out[4 + j] = (uint8_t)(std::min(15, (int)(int8_t)lo) | (std::min(15, (int)(int8_t)hi) << 4));
  }
}

}  // namespace

void ggml_q8_0(uint8_t* out, const float* x, long n) {
  parallel_range(n / 32, 1 << 12, [&](long b, long e) { for (long i = b; i < e; ++i) q8_0_block(out + i * 34, x + i * 32); });
}

void ggml_q4_1(uint8_t* out, const float* x, long n) {
  parallel_range(n / 32, 1 << 12, [&](long b, long e) { for (long i = b; i < e; ++i) q4_1_block(out + i * 20, x + i * 32); });
}

void q4_blocks(uint8_t* codes, float* scales, uint8_t* zeros, const float* w, int rows, int cols, int block) {
  const int nb = (cols + block - 1) / block, zb = (nb + 1) / 2;
  parallel_range(rows, 16, [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      for (int b = 0; b < nb; ++b) {
        const float* x = w + r * cols + (long)b * block;
        const int n = std::min(block, cols - b * block);
        double min = 0, max = 0;
        for (int c = 0; c < n; ++c) { min = std::min(min, (double)x[c]); max = std::max(max, (double)x[c]); }
        const double scale = (max - min) / 15;
        const int zero = scale ? (int)std::min(15., std::max(0., js_round(-min / scale))) : 0;
        scales[r * nb + b] = (float)scale;
        zeros[r * zb + (b >> 1)] |= (uint8_t)(zero << ((b & 1) * 4));
        if (!scale) continue;
        uint8_t* q = codes + (r * nb + b) * (long)block / 2;
        for (int c = 0; c < n; ++c) {
          const int v = (int)std::min(15., std::max(0., js_round(x[c] / scale) + zero));
          q[c >> 1] |= (uint8_t)(v << ((c & 1) * 4));
        }
      }
    }
  });
}

void pack_int32(int32_t* out, const uint8_t* values, int n, int len, int bits) {
  const int per = 32 / bits, words = (len + per - 1) / per;
  parallel_range(n, 64, [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      uint32_t* o = reinterpret_cast<uint32_t*>(out) + r * words;
      std::memset(o, 0, sizeof(uint32_t) * words);
      for (int j = 0; j < len; ++j) o[j / per] |= (uint32_t)values[r * len + j] << ((j % per) * bits);
    }
  });
}

void unpack_int32(uint8_t* out, const int32_t* words, int n, int len, int bits) {
  const int per = 32 / bits, w = (len + per - 1) / per;
  const uint32_t mask = (1u << bits) - 1;
  parallel_range(n, 64, [&](long r0, long r1) {
    for (long r = r0; r < r1; ++r) {
      const uint32_t* in = reinterpret_cast<const uint32_t*>(words) + r * w;
      for (int j = 0; j < len; ++j) out[r * len + j] = (uint8_t)((in[j / per] >> ((j % per) * bits)) & mask);
    }
  });
}

void transpose_f32(float* out, const float* w, int rows, int cols) {
  constexpr int T = 32;  // tiles, so that both sides stream through the cache
  parallel_range((cols + T - 1) / T, 1, [&](long t0, long t1) {
    for (long t = t0; t < t1; ++t) {
      const int c0 = (int)t * T, c1 = std::min(cols, c0 + T);
      for (int r0 = 0; r0 < rows; r0 += T) {
        const int r1 = std::min(rows, r0 + T);
        for (int c = c0; c < c1; ++c) for (int r = r0; r < r1; ++r) out[(long)c * rows + r] = w[(long)r * cols + c];
      }
    }
  });
}

}  // namespace sp
