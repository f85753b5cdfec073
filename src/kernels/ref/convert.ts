// Float conversions through the bit patterns, as IEEE 754 and bfloat16 define them.
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

export function bf16ToF32(out: Float32Array, input: Uint16Array): void {
  for (let i = 0; i < out.length; i++) { u32[0] = input[i] << 16; out[i] = f32[0] }
}

export function f16ToF32(out: Float32Array, input: Uint16Array): void {
  for (let i = 0; i < out.length; i++) {
    const h = input[i], sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff
    if (exp === 0) out[i] = sign * man * 2 ** -24
    else if (exp === 31) { u32[0] = ((h & 0x8000) << 16) | 0x7f800000 | (man << 13); out[i] = f32[0] }  // keeps NaN payloads
    else out[i] = sign * (1 + man / 1024) * 2 ** (exp - 15)
  }
}

export function f32ToBf16(out: Uint16Array, input: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    f32[0] = input[i]
    const u = u32[0]
    if ((u & 0x7fffffff) > 0x7f800000) out[i] = (u >>> 16) | 0x40
    else out[i] = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff
  }
}

/** Round to nearest even, by searching the representable neighbours: slow and plainly right. */
export function f32ToF16(out: Uint16Array, input: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    const x = input[i]
    if (Number.isNaN(x)) { out[i] = 0x7e00; continue }
    const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0
    const a = Math.abs(x)
    if (a >= 65520) { out[i] = sign | 0x7c00; continue }
    let e = a < 2 ** -14 ? -14 : Math.floor(Math.log2(a))
    if (2 ** e > a) e--
    if (2 ** (e + 1) <= a) e++
    const step = 2 ** (Math.max(e, -14) - 10)
    const q = a / step, lo = Math.floor(q), frac = q - lo
    const m = frac > 0.5 || (frac === 0.5 && lo % 2 === 1) ? lo + 1 : lo
    const value = m * step
    // Re-encode the rounded value.
    if (value < 2 ** -14) out[i] = sign | Math.round(value / 2 ** -24)
    else {
      let ev = Math.floor(Math.log2(value))
      if (2 ** ev > value) ev--
      if (2 ** (ev + 1) <= value) ev++
      out[i] = sign | ((ev + 15) << 10) | Math.round((value / 2 ** ev - 1) * 1024)
    }
  }
}
