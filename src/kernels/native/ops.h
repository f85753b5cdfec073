// The engine's non-GEMM kernels. Shapes are row-major; "rows" are tokens.
#pragma once
#include <cstdint>

namespace sp {

// out[r] = x[r] · rsqrt(mean(x[r]²) + eps) ⊙ w          x, out: (rows, dim); w: (dim)
void rmsnorm(float* out, const float* x, const float* w, int rows, int dim, float eps);
// In place, transformers' rotate_half convention on the first `rot` dims of each head (the rest pass
// through). x: (tokens, heads·hd); token t sits at position t mod seq and uses row (t mod seq) of
// cos, sin: (seq, rot/2).
void rope(float* x, const float* cos, const float* sin, int tokens, int seq, int heads, int hd, int rot);
// out = silu(gate) ⊙ up, elementwise over n values.
void silu_mul(float* out, const float* gate, const float* up, long n);
// Activations: 0 SiLU, 1 GELU (tanh approximation), 2 ReLU.
// out = act(gate) ⊙ up, or act(gate) when up is null.
void act_mul(int act, float* out, const float* gate, const float* up, long n);
// out[r] = (x[r] − mean) · rsqrt(var + eps) ⊙ w + b (population variance), torch's LayerNorm.
void layernorm(float* out, const float* x, const float* w, const float* b, int rows, int dim, float eps);
// x = tanh(x / cap)·cap, in place.
void softcap(float* x, long n, float cap);
// x *= s, in place.
void scale_inplace(float* x, long n, float s);
// x += y over n values.
void add_inplace(float* x, const float* y, long n);
// d = ∂/∂out of mean((out − target)²); returns that mean.
double mse_grad(float* d, const float* out, const float* target, long n);
// Causal grouped-query attention for `batch` sequences of `seq` tokens.
// q, out: (batch·seq, nh·hd); k, v: (batch·seq, nkv·hd); head h reads kv head h / (nh/nkv).
// A query at position i sees keys max(0, i − window + 1)..i (window 0: all); softcap > 0 turns each
// scaled score z into tanh(z / softcap)·softcap before the softmax.
void attention(float* out, const float* q, const float* k, const float* v, int batch, int seq,
               int nh, int nkv, int hd, float scale, int window, float softcap);
// Attention of n new queries (positions past..past+n−1) over a cache of past+n keys and values.
// q, out: (n, nh·hd); kc, vc: (past+n, nkv·hd); query i attends to keys 0..past+i.
void attention_cached(float* out, const float* q, const float* kc, const float* vc, int n, int past, int nh, int nkv, int hd,
                      float scale, int window, float softcap);
// losses[r] = logsumexp(logits[r]) − logits[r][targets[r]]      logits: (rows, vocab)
void nll_rows(float* losses, const float* logits, const int32_t* targets, int rows, int vocab);
// The next-token loss over a vocabulary a tile of columns at a time (col0 is the tile's first word), so that
// no (rows, vocab) logits exist at once. lse_tile folds a tile into each row's running max mx and sum of
// exp(z − mx), and copies the target's logit into zt when the tile holds it. xent_tile_backward turns a tile
// into row_scale·(softmax − onehot(target)) given each row's log-sum-exp.
void lse_tile(float* mx, float* sum, float* zt, const float* logits, const int32_t* targets, int col0, int rows, int cols);
void xent_tile_backward(float* logits, const float* lse, const int32_t* targets, const float* row_scale, int col0, int rows, int cols);
void kl_rows(float* kl, uint8_t* same, const float* base, const float* other, int rows, int vocab);

void bf16_to_f32(float* out, const uint16_t* in, long n);
void f16_to_f32(float* out, const uint16_t* in, long n);
void f32_to_bf16(uint16_t* out, const float* in, long n);  // round to nearest even
void f32_to_f16(uint16_t* out, const float* in, long n);   // round to nearest even
// One value rounded to bf16 (dtype 1) or f16 (dtype 2), nearest even, back as float; dtype 0 returns it unchanged.
float round_to_dtype(float x, int dtype);
// One value's bit pattern in that dtype (nearest even; the low 16 bits for bf16 and f16), and a pattern's value.
uint32_t dtype_bits(float x, int dtype);
float dtype_value(uint32_t bits, int dtype);

// Splits [0, n) into chunks of about `grain` items across the pool.
template <class F>
void parallel_range(long n, long grain, F&& f);

}  // namespace sp

#include "pool.h"

template <class F>
void sp::parallel_range(long n, long grain, F&& f) {
  if (grain < 1) grain = 1;
  const int chunks = static_cast<int>((n + grain - 1) / grain);
  parallel_for(chunks, [&](int c) {
    const long b = c * grain, e = b + grain < n ? b + grain : n;
    f(b, e);
  });
}
