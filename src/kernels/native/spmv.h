// Decode-time matrix-vector products y = W·x for dense and 2:4-packed weights (x, y float32).
#pragma once
#include <cstdint>

namespace sp {

void gemv_f32(float* y, const float* w, const float* x, int rows, int cols);
void gemv_bf16(float* y, const uint16_t* w, const float* x, int rows, int cols);
// 2:4 packed: vals (rows, cols/2) bf16, the two kept weights of each group of 4 in column order;
// idx (rows, cols/4): bits 0-1 and 2-3 hold the two kept positions within the group.
// Returns −1, or the flat index of the first group with more than two non-zeros.
long pack_nm24_bf16(uint16_t* vals, uint8_t* idx, const float* w, int rows, int cols);
void gemv_nm24_bf16(float* y, const uint16_t* vals, const uint8_t* idx, const float* x, int rows, int cols);

}  // namespace sp
