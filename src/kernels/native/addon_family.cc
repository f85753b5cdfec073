// Node-API bindings of the kernels the architecture table's families added: activations, LayerNorm,
// softcapping and scaling (src/kernels/native/elementwise.cc, backward.cc).
#include "addon_args.h"
#include "backward.h"
#include "ops.h"

namespace sp_addon {
namespace {

// (act, out, gate, up | null)
Napi::Value ActMul(const Napi::CallbackInfo& info) {
  sp::act_mul(num(info, 0), f32(info, 1), f32(info, 2), f32_or_null(info, 3), len(info, 1));
  return info.Env().Undefined();
}

// (act, dgate, dup | null, dout, gate, up | null)
Napi::Value ActMulBackward(const Napi::CallbackInfo& info) {
  sp::act_mul_backward(num(info, 0), f32(info, 1), f32_mut_or_null(info, 2), f32(info, 3), f32(info, 4), f32_or_null(info, 5),
                       len(info, 3));
  return info.Env().Undefined();
}

Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  sp::layernorm(f32(info, 0), f32(info, 1), f32(info, 2), f32(info, 3), num(info, 4), num(info, 5),
                info[6].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  sp::layernorm_backward(f32(info, 0), f32_mut_or_null(info, 1), f32_mut_or_null(info, 2), f32(info, 3), f32(info, 4), f32(info, 5),
                         num(info, 6), num(info, 7), info[8].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value Softcap(const Napi::CallbackInfo& info) {
  sp::softcap(f32(info, 0), len(info, 0), info[1].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value SoftcapBackward(const Napi::CallbackInfo& info) {
  sp::softcap_backward(f32(info, 0), f32(info, 1), len(info, 0), info[2].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

Napi::Value ScaleInplace(const Napi::CallbackInfo& info) {
  sp::scale_inplace(f32(info, 0), len(info, 0), info[1].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}


}  // namespace

void register_family_ops(Napi::Env env, Napi::Object exports) {
  exports["actMul"] = Napi::Function::New(env, ActMul);
  exports["actMulBackward"] = Napi::Function::New(env, ActMulBackward);
  exports["layernorm"] = Napi::Function::New(env, LayerNorm);
  exports["layernormBackward"] = Napi::Function::New(env, LayerNormBackward);
  exports["softcap"] = Napi::Function::New(env, Softcap);
  exports["softcapBackward"] = Napi::Function::New(env, SoftcapBackward);
  exports["scaleInplace"] = Napi::Function::New(env, ScaleInplace);
}

}  // namespace sp_addon
