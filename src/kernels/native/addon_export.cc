// Node-API bindings of the exporters' encoders (src/kernels/native/export_quant.cc).
#include "addon_args.h"
#include "export_quant.h"

namespace sp_addon {
namespace {

// (out, x)
template <void (*F)(uint8_t*, const float*, long)>
Napi::Value Ggml(const Napi::CallbackInfo& info) {
  F(data<uint8_t>(info[0]), f32(info, 1), len(info, 1));
  return info.Env().Undefined();
}

// (codes, scales, zeros, w, rows, cols, block)
Napi::Value Q4Blocks(const Napi::CallbackInfo& info) {
  sp::q4_blocks(data<uint8_t>(info[0]), f32(info, 1), data<uint8_t>(info[2]), f32(info, 3), num(info, 4), num(info, 5), num(info, 6));
  return info.Env().Undefined();
}

// (out, values, n, len, bits)
Napi::Value PackInt32(const Napi::CallbackInfo& info) {
  sp::pack_int32(data<int32_t>(info[0]), data<uint8_t>(info[1]), num(info, 2), num(info, 3), num(info, 4));
  return info.Env().Undefined();
}

// (out, words, n, len, bits)
Napi::Value UnpackInt32(const Napi::CallbackInfo& info) {
  sp::unpack_int32(data<uint8_t>(info[0]), data<int32_t>(info[1]), num(info, 2), num(info, 3), num(info, 4));
  return info.Env().Undefined();
}

// (out, w, rows, cols)
Napi::Value TransposeF32(const Napi::CallbackInfo& info) {
  sp::transpose_f32(f32(info, 0), f32(info, 1), num(info, 2), num(info, 3));
  return info.Env().Undefined();
}

}  // namespace

void register_export_ops(Napi::Env env, Napi::Object exports) {
  exports["ggmlQ8_0"] = Napi::Function::New(env, Ggml<sp::ggml_q8_0>);
  exports["ggmlQ4_1"] = Napi::Function::New(env, Ggml<sp::ggml_q4_1>);
  exports["q4Blocks"] = Napi::Function::New(env, Q4Blocks);
  exports["packInt32"] = Napi::Function::New(env, PackInt32);
  exports["unpackInt32"] = Napi::Function::New(env, UnpackInt32);
  exports["transposeF32"] = Napi::Function::New(env, TransposeF32);
}

}  // namespace sp_addon
