// Calibration statistics and mask selection for the pruning methods. Masks are bytes,
// 1 = pruned. Ties between equal scores go to the lower column index, everywhere.
#pragma once
#include <cstdint>

namespace sp {

// For x: (nseq·seq, cols), accumulated in double over calls:
//   sum[j] += Σ x_j,  sumsq[j] += Σ x_j²,  varsum[j] += Σ_sequences population variance of x_j.
void column_stats(double* sum, double* sumsq, double* varsum, const float* x, int nseq, int seq, int cols);
// out = |w| · scale_j                       w, out: (rows, cols); scale: (cols)
void abs_scaled(float* out, const float* w, const float* scale, int rows, int cols);
// In each row, prune the k smallest scores.
void select_row_k(uint8_t* mask, const float* score, int rows, int cols, int k);
// In each aligned group of m columns of each row, prune the n smallest scores.
void select_nm(uint8_t* mask, const float* score, int rows, int cols, int n, int m);
// Whole-matrix threshold: t = the k-th smallest score (0-based); prune every score <= t.
void select_threshold(uint8_t* mask, const float* score, long count, long k);
// acc += (scale·g)²  (GBLM's gradient accumulator)
void accumulate_squares(float* acc, const float* g, float scale, long count);
// out += |w| · g, elementwise
void abs_mul_add(float* out, const float* w, const float* g, long count);
// Zeros of x: (rows, cols) in all, and the fewest zeros found in any aligned group of m columns
// (m = 0: only the count). Returned as {zeros, min_group_zeros}.
void zero_stats(long* zeros, int* min_group_zeros, const float* x, int rows, int cols, int m);
// err = Σ (a−b)²·s_j and ref = Σ a²·s_j over a, b: (rows, cols), s: (cols).
void weighted_sq_diff(double* err, double* ref, const float* a, const float* b, const float* s, int rows, int cols);
// h (n, n): scales the lower triangle (with the diagonal) by `scale` and copies it onto the upper one.
void mirror_lower(float* h, int n, float scale);
// compressed-tensors layouts (bitmask bit b of byte k in a row = column 8k+b; rows padded to bytes).
// sparse-bitmask: values = W[W != 0] row-major, offsets = per-row start; returns nnz.
long pack_bitmask(float* values, uint8_t* bitmask, int64_t* offsets, const float* w, int rows, int cols);
// sparse-24-bitmask: the top two |w| of every group of 4 (ties to the lower column), zeros kept as +0.
// Returns −1, or the flat index of the first group holding more than two non-zeros.
long pack_24(float* values, uint8_t* bitmask, const float* w, int rows, int cols);
// Scatters values back by the bitmask; returns how many values it used, or −1 if it needs more than nvalues.
long unpack_bitmask(float* out, const float* values, long nvalues, const uint8_t* bitmask, int rows, int cols);
// Σ x in double, in index order (so the reference's plain loop gives the same bits).
double sum_f64(const float* x, long count);
// How many x[i] > t, compared in double.
long count_above(const float* x, long count, double t);
// Number of NaN or infinite values.
long count_nonfinite(const float* x, long count);
// w[i] = 0 where mask[i].
void apply_mask(float* w, const uint8_t* mask, long count);

// SparseGPT (Frantar & Alistarh 2023), in two steps so that layers sharing an input share
// the factorisation. sparsegpt_factor: u (cols, cols) = the upper factor of (h + damping)⁻¹,
// h = 2/N·XᵀX; returns 0, or the 1-based pivot at which h + damping is not positive definite.
// sparsegpt_prune: the OBS sweep in place on w: (rows, cols); prunen = 0 selects unstructured
// `sparsity`, and a negative sparsity prunes nothing (GPTQ).
int sparsegpt_factor(float* u, const float* h, int cols, float percdamp);

// Quantization inside the sweep (GPTQ, and SparseGPT's joint mode; algorithms spec §14): the min-max
// quantizer of IST-DASLab's quant.py with zero in range, per row or per group of `groupsize` columns.
// bits = 0 turns it off. scale_dtype rounds each scale to its storage dtype (0 float32, 1 bf16, 2 f16)
// as soon as it is found. scales, zeros: (rows, groups) out; groups = ⌈cols/groupsize⌉, or 1.
struct SweepQuant {
  int bits = 0;
  int groupsize = 0;
  bool sym = false;
  int scale_dtype = 0;
  float* scales = nullptr;
  float* zeros = nullptr;
};
void sparsegpt_prune(float* w, uint8_t* mask, const float* u, const float* h, int rows, int cols, double sparsity,
                     int prunen, int prunem, int blocksize, const SweepQuant& quant);

}  // namespace sp
