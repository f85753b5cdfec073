// Products y = x·Wᵀ of a few tokens with a weight held in one of the engine's formats, for decoding
// (one token: a GEMV) and short prefills. x is (tokens, cols), y (tokens, rows), both float32.
// Values are bf16 or float32. The kernels are written once (spmv_impl.h) and compiled per
// instruction set; the table is chosen once at load like the GEMM's.
#pragma once
#include <cstdint>

namespace sp {

struct Act {
  float* y;
  const float* x;
  int tokens, rows, cols;
};

struct DenseW {
  const void* w;  // (rows, cols)
  bool bf16;
};

// N:M: each group of M columns keeps N values (in column order, zero-padded when fewer are
// non-zero); pos holds their positions within the group as 4-bit fields, two per byte, row by row
// (row stride ⌈cols/M·N/2⌉ bytes).
struct NmW {
  const void* vals;  // (rows, cols/M·N)
  bool bf16;
  const uint8_t* pos;
  int n, m;
};

// Unstructured: bit c%8 of byte c/8 of a row's mask says whether column c is kept; the row's kept
// values start at offsets[row] (the legacy compressed-tensors bitmask order).
struct BitmaskW {
  const void* vals;
  bool bf16;
  const uint8_t* mask;  // (rows, ⌈cols/8⌉)
  const int64_t* offsets;  // (rows)
};

// GQSA block-sparse rows: row r keeps groups row_ptr[r]..row_ptr[r+1]−1, group k covering columns
// col[k]·group.. of 4-bit codes (two per byte, low nibble first), w = scale[k]·(code − zero[k]).
struct GqsaW {
  const int32_t* row_ptr;
  const uint16_t* col;
  const uint8_t* codes;
  const float* scales;
  const float* zeros;
  int group;
};

struct SpmvKernels {
  void (*dense)(const Act&, const DenseW&);
  void (*nm)(const Act&, const NmW&);
  void (*bitmask)(const Act&, const BitmaskW&);
  void (*gqsa)(const Act&, const GqsaW&);
};

extern const SpmvKernels spmv_portable;
#if defined(SP_X86)
extern const SpmvKernels spmv_avx2;
extern const SpmvKernels spmv_avx512;
#endif

const SpmvKernels& spmv();

// Packing (not hot: once per export or load). Return −1, or the flat index of the first group
// with more than N non-zeros.
long pack_nm(float* vals, uint8_t* pos, const float* w, int rows, int cols, int n, int m);
void unpack_nm(float* out, const float* vals, const uint8_t* pos, int rows, int cols, int n, int m);

}  // namespace sp
