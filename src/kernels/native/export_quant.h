// Encoders of the exporters' quantized layouts: ggml's q8_0 and q4_1 blocks, onnxruntime's MatMulNBits
// 4-bit blocks (round-to-nearest), compressed-tensors' int32 packing, and the float transposition
// the ONNX MatMul takes. Plain references in src/kernels/ref/export-quant.ts; outputs equal them byte for byte.
#pragma once
#include <cstdint>

namespace sp {

// JavaScript's Math.round: halves up, without floor(x + 0.5)'s error just below one half. |x| is small
// where it is called (a code before clamping), so the floor is an integer conversion rather than a libm call.
inline double js_round(double x) {
  double r = (double)(long long)x;
  if (r > x) r -= 1;
  return x - r >= 0.5 ? r + 1 : r;
}

// A little-endian 16-bit field, as ggml's blocks store their f16 scales.
inline void put16(uint8_t* at, uint16_t v) { at[0] = (uint8_t)v; at[1] = (uint8_t)(v >> 8); }

// n values (a multiple of 32) as ggml blocks, following quantize_row_q8_0_ref / quantize_row_q4_1_ref.
void ggml_q8_0(uint8_t* out, const float* x, long n);
void ggml_q4_1(uint8_t* out, const float* x, long n);

// w (rows, cols) as MatMulNBits blocks along cols: asymmetric, range stretched to include 0, computed in
// double as the TypeScript reference does. codes (rows, nb, block/2), scales (rows, nb), zeros (rows, ⌈nb/2⌉);
// the outputs must be zeroed.
void q4_blocks(uint8_t* codes, float* scales, uint8_t* zeros, const float* w, int rows, int cols, int block);

// values (n, len) of `bits`-bit unsigned integers into int32 words along each row (first in the lowest bits), and back.
void pack_int32(int32_t* out, const uint8_t* values, int n, int len, int bits);
void unpack_int32(uint8_t* out, const int32_t* words, int n, int len, int bits);

// out (cols, rows) = w (rows, cols)ᵀ
void transpose_f32(float* out, const float* w, int rows, int cols);

}  // namespace sp
