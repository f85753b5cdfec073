// Products y = x·Wᵀ of a few tokens with a weight held in one of the engine's formats, for decoding
// (one token: a GEMV) and short prefills. x is (tokens, cols), y (tokens, rows), both float32.
// Values are bf16 or float32. The kernels are written once (spmv_impl.h) and compiled per
// instruction set; the table is chosen once at load like the GEMM's.
#pragma once
#include <cstdint>
#include <vector>

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
// (row stride ⌈cols/M·N/2⌉ bytes). For 2:4 the kernels read the positions in block order (nm24_blocks).
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

// GQSA block-sparse rows as the kernels read them: row r keeps groups row_ptr[r]..row_ptr[r+1]−1, group k
// covering columns col[k]·group.., w = scale·(code − zero). Groups 2i and 2i+1 share `group` bytes of
// pairs: byte j holds code j of group 2i (low nibble) and of group 2i+1 (high), so one load feeds two groups.
// A code enters as it sits in its byte, masked: c for an even group, 16·c for an odd one; OR-ed into the
// mantissa of 2^23 it is the float 2^23 + c (or 2^23 + 16c) with no conversion. So an even group holds
// scale s and offset zero 2^23 + z, an odd one s/16 and 2^23 + 16z (zeros are integers): (held code −
// offset zero)·held scale is (c − z)·s exactly, the weight bit for bit.
struct GqsaW {
  const int32_t* row_ptr;
  const uint16_t* col;
  const uint8_t* pairs;
  const float* scales;
  const float* offset_zeros;
  int group;
};

constexpr float kGqsaOffset = 8388608.f;  // 2^23

// Code j of group k in the pair layout, as it sits in its byte: c or 16·c.
inline int gqsa_held_code(const uint8_t* pairs, long k, int group, int j) {
  return pairs[(k >> 1) * group + j] & (k & 1 ? 0xF0 : 0x0F);
}

// Weight j of group k.
inline float gqsa_weight(const GqsaW& q, long k, int j) {
  return q.scales[k] * ((float)gqsa_held_code(q.pairs, k, q.group, j) - (q.offset_zeros[k] - kGqsaOffset));
}

struct SpmvKernels {
  void (*dense)(const Act&, const DenseW&);
  void (*nm)(const Act&, const NmW&);
  void (*bitmask)(const Act&, const BitmaskW&);
  void (*gqsa)(const Act&, const GqsaW&);
};

// a with x on a 64-byte boundary, copied into scratch when it is not on one. The kernels load x 16 floats
// at a time at multiples of 16 columns: from an aligned x each load is one cache line, otherwise it is split
// across two, which cost GQSA's GEMV 18 % in cache.
Act aligned_x(const Act& a, std::vector<float>& scratch);

// 2:4 positions between the file order (byte g: the positions of kept values 2g and 2g+1) and the block
// order the kernels read: in each full block of 16 groups (64 columns, 32 kept values) byte i holds the
// positions of kept values i (low nibble) and 16 + i (high), so one widening of 16 bytes gives the x
// permute indices of both halves of the block with a mask and a shift; groups past the last full block
// keep the file order. In place, row by row.
void nm24_blocks(uint8_t* pos, long rows, int cols, bool to_blocks);

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
