// GQSA's one-shot core and its straight-through fake quantizer (gqsa.cc).
#pragma once
#include <cstdint>

#include "spmv.h"

namespace sp {

struct QuantParams {
  float scale;  // rounded to fp16, as stored
  float zero;   // an integer
};

// Asymmetric min-max parameters of one group of g values.
QuantParams gqsa_params(const float* v, int g, int bits);
int gqsa_code(float w, QuantParams p, int bits);

// score (rows, cols/g): the OBS loss of pruning each group of g columns of each row, with U.
void gqsa_saliency(float* score, const float* w, const float* u, int rows, int cols, int g);

// In place on w (rows, cols): groups marked in pruned (rows, cols/g) become 0, the others their
// dequantized codes; every column's error is compensated on the columns after it. codes (rows, cols)
// gets one code per weight (0 where pruned), scales and zeros (rows, cols/g) the group parameters.
void gqsa_sweep(float* w, const uint8_t* pruned, const float* u, const float* h, int rows, int cols, int g, int bits,
                uint8_t* codes, float* scales, float* zeros);

// wq = pruned ? 0 : s·(q − round(z)) with q = clamp(round(w/s) + round(z), 0, 2^bits − 1), per group;
// the codes q too when codes is not null.
void gqsa_fake_quant(float* wq, const float* w, const float* scales, const float* zeros, const uint8_t* pruned,
                     long rows, int cols, int g, int bits, uint8_t* codes);
// Its straight-through gradients: dw (rows, cols), ds and dz (rows, cols/g) from dwq.
void gqsa_fake_quant_backward(float* dw, float* ds, float* dz, const float* dwq, const float* w, const float* scales,
                              const float* zeros, const uint8_t* pruned, long rows, int cols, int g, int bits);

// w = pruned ? 0 : scale·(code − zero) from one code per weight.
void gqsa_dequant(float* w, const uint8_t* codes, const float* scales, const float* zeros, const uint8_t* pruned, long rows, int cols, int g);
// E2E-OQP with frozen codes: ds = Σ over the group of dw·(code − zero).
void gqsa_scale_grad(float* ds, const float* dw, const uint8_t* codes, const float* zeros, const uint8_t* pruned, long rows, int cols, int g);

// The dense (rows, cols) weight of a GQSA block-sparse-row layout (the kernels' pair layout, spmv.h).
void gqsa_unpack(float* out, const GqsaW& q, int rows, int cols);

// Codes between the file layout (each group's own group/2 bytes, docs/formats.md) and the pair layout.
void gqsa_pair_codes(uint8_t* pairs, const uint8_t* codes, long nnzb, int g);
void gqsa_group_codes(uint8_t* codes, const uint8_t* pairs, long nnzb, int g);

}  // namespace sp
