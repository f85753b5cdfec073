// Node-API surface: argument unpacking only. Kernels run synchronously on the
// addon's own thread pool; shapes are validated by the TypeScript wrapper
// (src/kernels/index.ts) before any call reaches this file.
#include <napi.h>

#include "backward.h"
#include "cpu.h"
#include "gemm.h"
#include "gqsa.h"
#include "ops.h"
#include "pool.h"
#include "prune_ops.h"
#include "spmv.h"
#include "addon_args.h"

namespace {

using namespace sp_addon;

sp::GemmArgs gemm_args(const Napi::CallbackInfo& info) {
  // (C, A, B, bias, M, N, K, lda, ldb, ldc, transA, transB, accumulate)
  return sp::GemmArgs{num(info, 4), num(info, 5), num(info, 6),
                      f32(info, 1), lnum(info, 7), flag(info, 10),
                      f32(info, 2), lnum(info, 8), flag(info, 11),
                      f32(info, 0), lnum(info, 9), flag(info, 12), f32_or_null(info, 3)};
}

Napi::Value Gemm(const Napi::CallbackInfo& info) { sp::gemm(gemm_args(info)); return info.Env().Undefined(); }
Napi::Value GemmRef(const Napi::CallbackInfo& info) { sp::gemm_ref(gemm_args(info)); return info.Env().Undefined(); }

Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  sp::rmsnorm(f32(info, 0), f32(info, 1), f32(info, 2), num(info, 3), num(info, 4),
              info[5].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value Rope(const Napi::CallbackInfo& info) {
  sp::rope(f32(info, 0), f32(info, 1), f32(info, 2), num(info, 3), num(info, 4), num(info, 5), num(info, 6), num(info, 7));
  return info.Env().Undefined();
}

Napi::Value SiluMul(const Napi::CallbackInfo& info) {
  sp::silu_mul(f32(info, 0), f32(info, 1), f32(info, 2), len(info, 0));
  return info.Env().Undefined();
}

Napi::Value AddInplace(const Napi::CallbackInfo& info) {
  sp::add_inplace(f32(info, 0), f32(info, 1), len(info, 0));
  return info.Env().Undefined();
}

Napi::Value Attention(const Napi::CallbackInfo& info) {
  sp::attention(f32(info, 0), f32(info, 1), f32(info, 2), f32(info, 3), num(info, 4), num(info, 5),
                num(info, 6), num(info, 7), num(info, 8), info[9].As<Napi::Number>().FloatValue(), num(info, 10),
                info[11].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value AttentionCached(const Napi::CallbackInfo& info) {
  sp::attention_cached(f32(info, 0), f32(info, 1), f32(info, 2), f32(info, 3), num(info, 4), num(info, 5), num(info, 6),
                       num(info, 7), num(info, 8), info[9].As<Napi::Number>().FloatValue(), num(info, 10),
                       info[11].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value NllRows(const Napi::CallbackInfo& info) {
  sp::nll_rows(f32(info, 0), f32(info, 1), data<int32_t>(info[2]), num(info, 3), num(info, 4));
  return info.Env().Undefined();
}

Napi::Value KlRows(const Napi::CallbackInfo& info) {
  sp::kl_rows(f32(info, 0), data<uint8_t>(info[1]), f32(info, 2), f32(info, 3), num(info, 4), num(info, 5));
  return info.Env().Undefined();
}

template <void (*F)(float*, const uint16_t*, long)>
Napi::Value ToF32(const Napi::CallbackInfo& info) {
  F(f32(info, 0), data<uint16_t>(info[1]), len(info, 0));
  return info.Env().Undefined();
}

template <void (*F)(uint16_t*, const float*, long)>
Napi::Value FromF32(const Napi::CallbackInfo& info) {
  F(data<uint16_t>(info[0]), f32(info, 1), len(info, 0));
  return info.Env().Undefined();
}

Napi::Value ColumnStats(const Napi::CallbackInfo& info) {
  sp::column_stats(data<double>(info[0]), data<double>(info[1]), data<double>(info[2]), f32(info, 3), num(info, 4),
                   num(info, 5), num(info, 6));
  return info.Env().Undefined();
}

Napi::Value AbsScaled(const Napi::CallbackInfo& info) {
  sp::abs_scaled(f32(info, 0), f32(info, 1), f32(info, 2), num(info, 3), num(info, 4));
  return info.Env().Undefined();
}

Napi::Value SelectRowK(const Napi::CallbackInfo& info) {
  sp::select_row_k(data<uint8_t>(info[0]), f32(info, 1), num(info, 2), num(info, 3), num(info, 4));
  return info.Env().Undefined();
}

Napi::Value SelectNM(const Napi::CallbackInfo& info) {
  sp::select_nm(data<uint8_t>(info[0]), f32(info, 1), num(info, 2), num(info, 3), num(info, 4), num(info, 5));
  return info.Env().Undefined();
}

Napi::Value SelectThreshold(const Napi::CallbackInfo& info) {
  sp::select_threshold(data<uint8_t>(info[0]), f32(info, 1), len(info, 1), lnum(info, 2));
  return info.Env().Undefined();
}

Napi::Value AccumulateSquares(const Napi::CallbackInfo& info) {
  sp::accumulate_squares(f32(info, 0), f32(info, 1), info[2].As<Napi::Number>().FloatValue(), len(info, 0));
  return info.Env().Undefined();
}

Napi::Value AbsMulAdd(const Napi::CallbackInfo& info) {
  sp::abs_mul_add(f32(info, 0), f32(info, 1), f32(info, 2), len(info, 0));
  return info.Env().Undefined();
}

Napi::Value ZeroStats(const Napi::CallbackInfo& info) {
  // (x, rows, cols, m) → [zeros, fewest zeros in an aligned group of m]
  long zeros = 0;
  int least = 0;
  sp::zero_stats(&zeros, &least, f32(info, 0), num(info, 1), num(info, 2), num(info, 3));
  auto out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), (double)zeros));
  out.Set(1u, Napi::Number::New(info.Env(), least));
  return out;
}

Napi::Value WeightedSqDiff(const Napi::CallbackInfo& info) {
  double err = 0, ref = 0;
  sp::weighted_sq_diff(&err, &ref, f32(info, 0), f32(info, 1), f32(info, 2), num(info, 3), num(info, 4));
  auto out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), err));
  out.Set(1u, Napi::Number::New(info.Env(), ref));
  return out;
}

Napi::Value MirrorLower(const Napi::CallbackInfo& info) {
  sp::mirror_lower(f32(info, 0), num(info, 1), info[2].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value PackBitmask(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)sp::pack_bitmask(f32(info, 0), data<uint8_t>(info[1]), data<int64_t>(info[2]),
                                                                f32(info, 3), num(info, 4), num(info, 5)));
}

Napi::Value Pack24(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)sp::pack_24(f32(info, 0), data<uint8_t>(info[1]), f32(info, 2), num(info, 3), num(info, 4)));
}

Napi::Value UnpackBitmask(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)sp::unpack_bitmask(f32(info, 0), f32(info, 1), len(info, 1), data<uint8_t>(info[2]), num(info, 3), num(info, 4)));
}

Napi::Value SumF64(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), sp::sum_f64(f32(info, 0), len(info, 0)));
}

Napi::Value CountAbove(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)sp::count_above(f32(info, 0), len(info, 0), info[1].As<Napi::Number>().DoubleValue()));
}

Napi::Value CountNonFinite(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)sp::count_nonfinite(f32(info, 0), len(info, 0)));
}

Napi::Value ApplyMask(const Napi::CallbackInfo& info) {
  sp::apply_mask(f32(info, 0), data<uint8_t>(info[1]), len(info, 0));
  return info.Env().Undefined();
}

Napi::Value SparseGptFactor(const Napi::CallbackInfo& info) {
  // (u, h, cols, percdamp) → 0 or the failing pivot
  return Napi::Number::New(info.Env(), sp::sparsegpt_factor(f32(info, 0), f32(info, 1), num(info, 2),
                                                            info[3].As<Napi::Number>().FloatValue()));
}

Napi::Value SparseGptPrune(const Napi::CallbackInfo& info) {
  // (w, mask, u, h, rows, cols, sparsity, prunen, prunem, blocksize, bits, groupsize, sym, scaleDtype, scales, zeros)
  sp::SweepQuant q;
  q.bits = num(info, 10);
  if (q.bits > 0) {
    q.groupsize = num(info, 11);
    q.sym = info[12].As<Napi::Boolean>().Value();
    q.scale_dtype = num(info, 13);
    q.scales = f32(info, 14);
    q.zeros = f32(info, 15);
  }
  sp::sparsegpt_prune(f32(info, 0), data<uint8_t>(info[1]), f32(info, 2), f32(info, 3), num(info, 4), num(info, 5),
                      info[6].As<Napi::Number>().DoubleValue(), num(info, 7), num(info, 8), num(info, 9), q);
  return info.Env().Undefined();
}

Napi::Value RmsNormBackward(const Napi::CallbackInfo& info) {
  sp::rmsnorm_backward(f32(info, 0), info[1].IsNull() ? nullptr : f32(info, 1), f32(info, 2), f32(info, 3), f32(info, 4),
                       num(info, 5), num(info, 6), info[7].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value RopeBackward(const Napi::CallbackInfo& info) {
  sp::rope_backward(f32(info, 0), f32(info, 1), f32(info, 2), num(info, 3), num(info, 4), num(info, 5), num(info, 6),
                    num(info, 7));
  return info.Env().Undefined();
}

Napi::Value SiluMulBackward(const Napi::CallbackInfo& info) {
  sp::silu_mul_backward(f32(info, 0), f32(info, 1), f32(info, 2), f32(info, 3), f32(info, 4), len(info, 2));
  return info.Env().Undefined();
}

Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  sp::attention_backward(f32(info, 0), f32(info, 1), f32(info, 2), f32(info, 3), f32(info, 4), f32(info, 5), f32(info, 6),
                         num(info, 7), num(info, 8), num(info, 9), num(info, 10), num(info, 11),
                         info[12].As<Napi::Number>().FloatValue(), num(info, 13), info[14].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value LseTile(const Napi::CallbackInfo& info) {
  sp::lse_tile(f32(info, 0), f32(info, 1), f32(info, 2), f32(info, 3), data<int32_t>(info[4]), num(info, 5), num(info, 6), num(info, 7));
  return info.Env().Undefined();
}

Napi::Value XentTileBackward(const Napi::CallbackInfo& info) {
  sp::xent_tile_backward(f32(info, 0), f32(info, 1), data<int32_t>(info[2]), f32(info, 3), num(info, 4), num(info, 5), num(info, 6));
  return info.Env().Undefined();
}

Napi::Value AdamwStep(const Napi::CallbackInfo& info) {
  // (p, g, m, v, lr, beta1, beta2, eps, weightDecay, step)
  auto fl = [&](int i) { return info[i].As<Napi::Number>().FloatValue(); };
  sp::adamw_step(f32(info, 0), f32(info, 1), f32(info, 2), f32(info, 3), len(info, 0), fl(4), fl(5), fl(6), fl(7), fl(8), num(info, 9));
  return info.Env().Undefined();
}

bool is_bf16(const Napi::Value& v) { return v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array; }
const void* raw(const Napi::Value& v) { return data<uint8_t>(v); }
// The product's activations; x moved to a cache-line boundary (into scratch) when it is not on one.
sp::Act act(const Napi::CallbackInfo& info, int y, int x, int tokens, std::vector<float>& scratch) {
  return sp::aligned_x(sp::Act{f32(info, y), f32(info, x), num(info, tokens), num(info, tokens + 1), num(info, tokens + 2)}, scratch);
}

Napi::Value MatmulDense(const Napi::CallbackInfo& info) {
  // (y, w, x, tokens, rows, cols)
  std::vector<float> scratch;
  sp::spmv().dense(act(info, 0, 2, 3, scratch), sp::DenseW{raw(info[1]), is_bf16(info[1])});
  return info.Env().Undefined();
}

Napi::Value MatmulNm(const Napi::CallbackInfo& info) {
  // (y, vals, pos, x, tokens, rows, cols, n, m)
  std::vector<float> scratch;
  sp::spmv().nm(act(info, 0, 3, 4, scratch), sp::NmW{raw(info[1]), is_bf16(info[1]), data<uint8_t>(info[2]), num(info, 7), num(info, 8)});
  return info.Env().Undefined();
}

Napi::Value MatmulBitmask(const Napi::CallbackInfo& info) {
  // (y, vals, mask, offsets, x, tokens, rows, cols)
  std::vector<float> scratch;
  sp::spmv().bitmask(act(info, 0, 4, 5, scratch), sp::BitmaskW{raw(info[1]), is_bf16(info[1]), data<uint8_t>(info[2]), data<int64_t>(info[3])});
  return info.Env().Undefined();
}

Napi::Value MatmulGqsa(const Napi::CallbackInfo& info) {
  // (y, rowPtr, col, pairs, scales, offsetZeros, x, tokens, rows, cols, group)
  std::vector<float> scratch;
  sp::spmv().gqsa(act(info, 0, 6, 7, scratch), sp::GqsaW{data<int32_t>(info[1]), data<uint16_t>(info[2]), data<uint8_t>(info[3]),
                                               f32(info, 4), f32(info, 5), num(info, 10)});
  return info.Env().Undefined();
}

Napi::Value PackNm(const Napi::CallbackInfo& info) {
  // (vals, pos, w, rows, cols, n, m) → −1 or the first group with too many non-zeros
  return Napi::Number::New(info.Env(), (double)sp::pack_nm(f32(info, 0), data<uint8_t>(info[1]), f32(info, 2), num(info, 3), num(info, 4), num(info, 5), num(info, 6)));
}

Napi::Value Nm24Blocks(const Napi::CallbackInfo& info) {
  // (pos, rows, cols, toBlocks)
  sp::nm24_blocks(data<uint8_t>(info[0]), lnum(info, 1), num(info, 2), info[3].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

Napi::Value UnpackNm(const Napi::CallbackInfo& info) {
  sp::unpack_nm(f32(info, 0), f32(info, 1), data<uint8_t>(info[2]), num(info, 3), num(info, 4), num(info, 5), num(info, 6));
  return info.Env().Undefined();
}

Napi::Value GqsaSaliency(const Napi::CallbackInfo& info) {
  sp::gqsa_saliency(f32(info, 0), f32(info, 1), f32(info, 2), num(info, 3), num(info, 4), num(info, 5));
  return info.Env().Undefined();
}

Napi::Value GqsaSweep(const Napi::CallbackInfo& info) {
  // (w, pruned, u, h, rows, cols, group, bits, codes, scales, zeros)
  sp::gqsa_sweep(f32(info, 0), data<uint8_t>(info[1]), f32(info, 2), f32(info, 3), num(info, 4), num(info, 5), num(info, 6), num(info, 7),
                 data<uint8_t>(info[8]), f32(info, 9), f32(info, 10));
  return info.Env().Undefined();
}

Napi::Value GqsaFakeQuant(const Napi::CallbackInfo& info) {
  // (wq, w, scales, zeros, pruned, rows, cols, group, bits, codes | null)
  sp::gqsa_fake_quant(f32(info, 0), f32(info, 1), f32(info, 2), f32(info, 3), data<uint8_t>(info[4]), num(info, 5), num(info, 6), num(info, 7), num(info, 8),
                      info[9].IsNull() ? nullptr : data<uint8_t>(info[9]));
  return info.Env().Undefined();
}

Napi::Value GqsaFakeQuantBackward(const Napi::CallbackInfo& info) {
  // (dw, ds, dz, dwq, w, scales, zeros, pruned, rows, cols, group, bits)
  sp::gqsa_fake_quant_backward(f32(info, 0), f32(info, 1), f32(info, 2), f32(info, 3), f32(info, 4), f32(info, 5), f32(info, 6),
                               data<uint8_t>(info[7]), num(info, 8), num(info, 9), num(info, 10), num(info, 11));
  return info.Env().Undefined();
}

Napi::Value GqsaDequant(const Napi::CallbackInfo& info) {
  // (w, codes, scales, zeros, pruned, rows, cols, group)
  sp::gqsa_dequant(f32(info, 0), data<uint8_t>(info[1]), f32(info, 2), f32(info, 3), data<uint8_t>(info[4]), num(info, 5), num(info, 6), num(info, 7));
  return info.Env().Undefined();
}

Napi::Value GqsaScaleGrad(const Napi::CallbackInfo& info) {
  // (ds, dw, codes, zeros, pruned, rows, cols, group)
  sp::gqsa_scale_grad(f32(info, 0), f32(info, 1), data<uint8_t>(info[2]), f32(info, 3), data<uint8_t>(info[4]), num(info, 5), num(info, 6), num(info, 7));
  return info.Env().Undefined();
}

Napi::Value MseGrad(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), sp::mse_grad(f32(info, 0), f32(info, 1), f32(info, 2), len(info, 1)));
}

Napi::Value GqsaUnpack(const Napi::CallbackInfo& info) {
  // (out, rowPtr, col, pairs, scales, offsetZeros, rows, cols, group)
  sp::gqsa_unpack(f32(info, 0), sp::GqsaW{data<int32_t>(info[1]), data<uint16_t>(info[2]), data<uint8_t>(info[3]), f32(info, 4), f32(info, 5), num(info, 8)},
                  num(info, 6), num(info, 7));
  return info.Env().Undefined();
}

Napi::Value GqsaPairCodes(const Napi::CallbackInfo& info) {
  // (pairs, codes, nnzb, group)
  sp::gqsa_pair_codes(data<uint8_t>(info[0]), data<uint8_t>(info[1]), lnum(info, 2), num(info, 3));
  return info.Env().Undefined();
}

Napi::Value GqsaGroupCodes(const Napi::CallbackInfo& info) {
  // (codes, pairs, nnzb, group)
  sp::gqsa_group_codes(data<uint8_t>(info[0]), data<uint8_t>(info[1]), lnum(info, 2), num(info, 3));
  return info.Env().Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) { sp::set_threads(num(info, 0)); return info.Env().Undefined(); }
Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), sp::get_threads()); }
Napi::Value Isa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), sp::gemm_isa()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports["gemm"] = Napi::Function::New(env, Gemm);
  exports["gemmRef"] = Napi::Function::New(env, GemmRef);
  exports["rmsnorm"] = Napi::Function::New(env, RmsNorm);
  exports["rope"] = Napi::Function::New(env, Rope);
  exports["siluMul"] = Napi::Function::New(env, SiluMul);
  register_family_ops(env, exports);
  register_export_ops(env, exports);
  exports["addInplace"] = Napi::Function::New(env, AddInplace);
  exports["attention"] = Napi::Function::New(env, Attention);
  exports["attentionCached"] = Napi::Function::New(env, AttentionCached);
  exports["nllRows"] = Napi::Function::New(env, NllRows);
  exports["klRows"] = Napi::Function::New(env, KlRows);
  exports["bf16ToF32"] = Napi::Function::New(env, ToF32<sp::bf16_to_f32>);
  exports["f16ToF32"] = Napi::Function::New(env, ToF32<sp::f16_to_f32>);
  exports["f32ToBf16"] = Napi::Function::New(env, FromF32<sp::f32_to_bf16>);
  exports["f32ToF16"] = Napi::Function::New(env, FromF32<sp::f32_to_f16>);
  exports["columnStats"] = Napi::Function::New(env, ColumnStats);
  exports["absScaled"] = Napi::Function::New(env, AbsScaled);
  exports["selectRowK"] = Napi::Function::New(env, SelectRowK);
  exports["selectNM"] = Napi::Function::New(env, SelectNM);
  exports["selectThreshold"] = Napi::Function::New(env, SelectThreshold);
  exports["accumulateSquares"] = Napi::Function::New(env, AccumulateSquares);
  exports["absMulAdd"] = Napi::Function::New(env, AbsMulAdd);
  exports["zeroStats"] = Napi::Function::New(env, ZeroStats);
  exports["weightedSqDiff"] = Napi::Function::New(env, WeightedSqDiff);
  exports["mirrorLower"] = Napi::Function::New(env, MirrorLower);
  exports["packBitmask"] = Napi::Function::New(env, PackBitmask);
  exports["pack24"] = Napi::Function::New(env, Pack24);
  exports["unpackBitmask"] = Napi::Function::New(env, UnpackBitmask);
  exports["countNonFinite"] = Napi::Function::New(env, CountNonFinite);
  exports["sumF64"] = Napi::Function::New(env, SumF64);
  exports["countAbove"] = Napi::Function::New(env, CountAbove);
  exports["applyMask"] = Napi::Function::New(env, ApplyMask);
  exports["sparsegptFactor"] = Napi::Function::New(env, SparseGptFactor);
  exports["sparsegptPrune"] = Napi::Function::New(env, SparseGptPrune);
  exports["rmsnormBackward"] = Napi::Function::New(env, RmsNormBackward);
  exports["ropeBackward"] = Napi::Function::New(env, RopeBackward);
  exports["siluMulBackward"] = Napi::Function::New(env, SiluMulBackward);
  exports["attentionBackward"] = Napi::Function::New(env, AttentionBackward);
  exports["lseTile"] = Napi::Function::New(env, LseTile);
  exports["xentTileBackward"] = Napi::Function::New(env, XentTileBackward);
  exports["adamwStep"] = Napi::Function::New(env, AdamwStep);
  exports["matmulDense"] = Napi::Function::New(env, MatmulDense);
  exports["matmulNm"] = Napi::Function::New(env, MatmulNm);
  exports["matmulBitmask"] = Napi::Function::New(env, MatmulBitmask);
  exports["matmulGqsa"] = Napi::Function::New(env, MatmulGqsa);
  exports["packNm"] = Napi::Function::New(env, PackNm);
  exports["gqsaUnpack"] = Napi::Function::New(env, GqsaUnpack);
  exports["nm24Blocks"] = Napi::Function::New(env, Nm24Blocks);
  exports["gqsaPairCodes"] = Napi::Function::New(env, GqsaPairCodes);
  exports["gqsaGroupCodes"] = Napi::Function::New(env, GqsaGroupCodes);
  exports["gqsaDequant"] = Napi::Function::New(env, GqsaDequant);
  exports["gqsaScaleGrad"] = Napi::Function::New(env, GqsaScaleGrad);
  exports["mseGrad"] = Napi::Function::New(env, MseGrad);
  exports["gqsaSaliency"] = Napi::Function::New(env, GqsaSaliency);
  exports["gqsaSweep"] = Napi::Function::New(env, GqsaSweep);
  exports["gqsaFakeQuant"] = Napi::Function::New(env, GqsaFakeQuant);
  exports["gqsaFakeQuantBackward"] = Napi::Function::New(env, GqsaFakeQuantBackward);
  exports["unpackNm"] = Napi::Function::New(env, UnpackNm);
  exports["setThreads"] = Napi::Function::New(env, SetThreads);
  exports["getThreads"] = Napi::Function::New(env, GetThreads);
  exports["isa"] = Napi::Function::New(env, Isa);
  return exports;
}

}  // namespace

NODE_API_MODULE(sparsify_kernels, Init)
