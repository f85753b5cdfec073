// The exporters' own-group kernels: recovering a quantized dense linear's grid (codes, scales, zero points)
// from its dequantized values, and copying groups into MatMulNBits and ggml Q4_1 blocks. Plain references in
// src/kernels/ref/own-groups.ts; outputs equal them byte for byte.
#pragma once
#include <cstdint>

namespace sp {

// w (rows, cols) as groups of `group` along each row (a shorter last one), each checked to be scale·k rounded
// to the model's dtype (0 f32, 1 bf16, 2 f16) for integers k spanning at most 16 values, bit for bit. codes
// nibble-packed (rows·cols/2), scales and zeros per `unit` columns (even, dividing group and cols). False
// as soon as a group is not such a grid (the outputs then partly written).
bool recover_groups(uint8_t* codes, float* scales, float* zeros, const float* w, int rows, int cols, int group, int unit, int dtype);

// Groups listed by row (row_ptr (rows + 1), col_idx (ngroups): slot of each group in its row; codes
// nibble-packed) as MatMulNBits blocks of `block` (dividing group); outputs zeroed on entry. 1 when they fit,
// 0 when a zero point falls outside 0…15, −1 when row_ptr or col_idx point outside the shapes.
int groups_q4(uint8_t* codes, float* scales, uint8_t* zeros, const int32_t* row_ptr, const uint16_t* col_idx, const uint8_t* gcodes,
              const float* gscales, const float* gzeros, long ngroups, int rows, int cols, int group, int block);

// The same groups as ggml Q4_1 blocks (32 divides group and cols): d = scale, m = −zero·scale in f16; out zeroed
// on entry. 0 also when `exact` and some d or m is not an f16 value.
int groups_q4_1(uint8_t* out, const int32_t* row_ptr, const uint16_t* col_idx, const uint8_t* codes, const float* scales, const float* zeros,
                long ngroups, int rows, int cols, int group, bool exact);

}  // namespace sp
