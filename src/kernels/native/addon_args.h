// Argument unpacking shared by the Node-API binding files. Shapes are validated by the TypeScript
// wrapper (src/kernels/index.ts) before any call reaches them.
#pragma once
#include <napi.h>

#include <cstdint>

namespace sp_addon {

template <class T>
inline T* data(const Napi::Value& v) {
  auto arr = v.As<Napi::TypedArray>();
  return reinterpret_cast<T*>(static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset());
}
inline float* f32(const Napi::CallbackInfo& info, int i) { return data<float>(info[i]); }
inline const float* f32_or_null(const Napi::CallbackInfo& info, int i) {
  return info[i].IsNull() || info[i].IsUndefined() ? nullptr : data<float>(info[i]);
}
inline long len(const Napi::CallbackInfo& info, int i) {
  return static_cast<long>(info[i].As<Napi::TypedArray>().ElementLength());
}
inline int num(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().Int32Value(); }
inline long lnum(const Napi::CallbackInfo& info, int i) { return (long)info[i].As<Napi::Number>().Int64Value(); }
inline bool flag(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Boolean>().Value(); }

inline float* f32_mut_or_null(const Napi::CallbackInfo& info, int i) {
  return info[i].IsNull() || info[i].IsUndefined() ? nullptr : data<float>(info[i]);
}

// The kernels the architecture table's families added (addon_family.cc).
void register_family_ops(Napi::Env env, Napi::Object exports);
// The exporters' encoders (addon_export.cc).
void register_export_ops(Napi::Env env, Napi::Object exports);

}  // namespace sp_addon
