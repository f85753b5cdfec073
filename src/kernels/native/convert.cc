#include <cmath>
#include <cstring>

#include "ops.h"

namespace sp {
namespace {

inline uint32_t bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0) {  // zero or subnormal: man · 2^-24
    const float f = std::ldexp((float)man, -24);
    return sign ? -f : f;
  }
  if (exp == 31) return from_bits(sign | 0x7f800000u | (man << 13));
  return from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

inline uint16_t float_to_half(float f) {
  const uint32_t u = bits(f), sign = (u >> 16) & 0x8000;
  const uint32_t au = u & 0x7fffffffu;
  if (au >= 0x7f800000u) return sign | 0x7c00 | (au > 0x7f800000u ? 0x200 : 0);  // inf / nan
  if (au >= 0x477ff000u) return sign | 0x7c00;                                  // overflow
  if (au < 0x38800000u) {  // subnormal half: round man · 2^24 to an integer, ties to even
    const float scaled = from_bits(au) * 16777216.0f;
    return sign | (uint16_t)std::nearbyint(scaled);
  }
  const uint32_t r = au + 0xfff + ((au >> 13) & 1);  // round to nearest even at bit 13
  return sign | (uint16_t)((r - 0x38000000u) >> 13);
}

inline uint16_t float_to_bf16(float f) {
  const uint32_t u = bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // keep NaN a NaN
  return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

}  // namespace

uint32_t dtype_bits(float x, int dtype) {
  if (dtype == 1) return float_to_bf16(x);
  if (dtype == 2) return float_to_half(x);
  return bits(x);
}

float dtype_value(uint32_t b, int dtype) {
  if (dtype == 1) return from_bits(b << 16);
  if (dtype == 2) return half_to_float((uint16_t)b);
  return from_bits(b);
}

float round_to_dtype(float x, int dtype) {
  if (dtype == 1) return from_bits((uint32_t)float_to_bf16(x) << 16);
  if (dtype == 2) return half_to_float(float_to_half(x));
  return x;
}

void bf16_to_f32(float* out, const uint16_t* in, long n) {
  parallel_range(n, 1 << 18, [&](long b, long e) {
    for (long i = b; i < e; ++i) out[i] = from_bits((uint32_t)in[i] << 16);
  });
}

void f16_to_f32(float* out, const uint16_t* in, long n) {
  parallel_range(n, 1 << 18, [&](long b, long e) {
    for (long i = b; i < e; ++i) out[i] = half_to_float(in[i]);
  });
}

void f32_to_bf16(uint16_t* out, const float* in, long n) {
  parallel_range(n, 1 << 18, [&](long b, long e) {
    for (long i = b; i < e; ++i) out[i] = float_to_bf16(in[i]);
  });
}

void f32_to_f16(uint16_t* out, const float* in, long n) {
  parallel_range(n, 1 << 18, [&](long b, long e) {
    for (long i = b; i < e; ++i) out[i] = float_to_half(in[i]);
  });
}

}  // namespace sp
