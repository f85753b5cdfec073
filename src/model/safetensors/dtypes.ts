/** Bytes per element of every dtype the safetensors format defines. */
export const DTYPE_SIZE = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
} as const

export type Dtype = keyof typeof DTYPE_SIZE

export const isDtype = (s: unknown): s is Dtype => typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s)

/** Float dtypes a model's weights may be stored in, and that we convert to and from float32. */
export const FLOAT_DTYPES = ['F32', 'F16', 'BF16'] as const
export type FloatDtype = (typeof FLOAT_DTYPES)[number]
export const isFloatDtype = (d: string): d is FloatDtype => (FLOAT_DTYPES as readonly string[]).includes(d)

export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)
