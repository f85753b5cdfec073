// Node-API bindings of the exporters' encoders (src/kernels/native/export_quant.cc, own_groups.cc).
#include <string>

#include "addon_args.h"
#include "export_quant.h"
#include "own_groups.h"

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

// (codes, scales, zeros, w, rows, cols, group, unit, dtype: 'F32' | 'BF16' | 'F16') → whether w is such a grid
Napi::Value RecoverGroups(const Napi::CallbackInfo& info) {
  const std::string dtype = info[8].As<Napi::String>();
  const bool ok = sp::recover_groups(data<uint8_t>(info[0]), f32(info, 1), f32(info, 2), f32(info, 3), num(info, 4), num(info, 5), num(info, 6),
                                     num(info, 7), dtype == "BF16" ? 1 : dtype == "F16" ? 2 : 0);
  return Napi::Boolean::New(info.Env(), ok);
}

// (codes, scales, zeros, rowPtr, colIdx, gcodes, gscales, gzeros, rows, cols, group, block) → 1 fits, 0 not, −1 bad listing
Napi::Value GroupsQ4(const Napi::CallbackInfo& info) {
  const int r = sp::groups_q4(data<uint8_t>(info[0]), f32(info, 1), data<uint8_t>(info[2]), data<int32_t>(info[3]), data<uint16_t>(info[4]),
                              data<uint8_t>(info[5]), f32(info, 6), f32(info, 7), len(info, 6), num(info, 8), num(info, 9), num(info, 10), num(info, 11));
  return Napi::Number::New(info.Env(), r);
}

// (out, rowPtr, colIdx, codes, scales, zeros, rows, cols, group, exact) → 1 fits, 0 not, −1 bad listing
Napi::Value GroupsQ4_1(const Napi::CallbackInfo& info) {
  const int r = sp::groups_q4_1(data<uint8_t>(info[0]), data<int32_t>(info[1]), data<uint16_t>(info[2]), data<uint8_t>(info[3]), f32(info, 4),
                                f32(info, 5), len(info, 4), num(info, 6), num(info, 7), num(info, 8), flag(info, 9));
  return Napi::Number::New(info.Env(), r);
}

}  // namespace

void register_export_ops(Napi::Env env, Napi::Object exports) {
  exports["ggmlQ8_0"] = Napi::Function::New(env, Ggml<sp::ggml_q8_0>);
  exports["ggmlQ4_1"] = Napi::Function::New(env, Ggml<sp::ggml_q4_1>);
  exports["q4Blocks"] = Napi::Function::New(env, Q4Blocks);
  exports["packInt32"] = Napi::Function::New(env, PackInt32);
  exports["unpackInt32"] = Napi::Function::New(env, UnpackInt32);
  exports["transposeF32"] = Napi::Function::New(env, TransposeF32);
  exports["recoverGroups"] = Napi::Function::New(env, RecoverGroups);
  exports["groupsQ4"] = Napi::Function::New(env, GroupsQ4);
  exports["groupsQ4_1"] = Napi::Function::New(env, GroupsQ4_1);
}

}  // namespace sp_addon
