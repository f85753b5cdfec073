// Gradients of the engine's kernels. Shapes as in ops.h; d* are gradients of the loss.
#pragma once
#include <cstdint>

namespace sp {

// dx = ∂L/∂x of y = rmsnorm(x)·w; dw += ∂L/∂w (dw may be null).
void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, int rows, int dim,
                      float eps);
// In place: the gradient of rope turns dy into dx.
void rope_backward(float* dx, const float* cos, const float* sin, int tokens, int seq, int heads, int hd, int rot);
// out = act(gate) ⊙ up (or act(gate) when up is null)  →  dgate, dup (dup null with up).
void act_mul_backward(int act, float* dgate, float* dup, const float* dout, const float* gate, const float* up, long n);
// dx of layernorm; dw, db += their gradients.
void layernorm_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int rows, int dim,
                        float eps);
// In place: dy of y = softcap(x) becomes dx, from the output y.
void softcap_backward(float* dx, const float* y, long n, float cap);
// out = silu(gate) ⊙ up  →  dgate, dup.
void silu_mul_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, long n);
// Causal GQA attention: dq is written, dk and dv are written (not accumulated).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, int batch, int seq, int nh, int nkv, int hd, float scale, int window, float softcap);
// In place: logits become scale·(softmax(logits) − onehot(target)), the gradient of scale·Σ nll.

// One AdamW step in place (decoupled weight decay, bias-corrected moments); g is pre-scaled.
void adamw_step(float* p, const float* g, float* m, float* v, long n, float lr, float beta1, float beta2, float eps,
                float weight_decay, int step);

}  // namespace sp
