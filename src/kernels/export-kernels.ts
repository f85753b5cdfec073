import type {Backend} from './backend.js'
import type {NativeAddon} from './native.js'

type ExportOps = Pick<Backend, 'ggmlQ8_0' | 'ggmlQ4_1' | 'q4Blocks' | 'packInt32' | 'unpackInt32' | 'transposeF32'>

function need(ok: boolean, op: string): void {
  if (!ok) throw new RangeError(`${op}: shape mismatch`)
}

/** The checked native wrappers of the exporters' encoders. */
export function nativeExportOps(addon: NativeAddon): ExportOps {
  return {
    ggmlQ8_0(out, x) { need(x.length % 32 === 0 && out.length >= x.length / 32 * 34, 'ggmlQ8_0'); addon.ggmlQ8_0(out, x) },
    ggmlQ4_1(out, x) { need(x.length % 32 === 0 && out.length >= x.length / 32 * 20, 'ggmlQ4_1'); addon.ggmlQ4_1(out, x) },
    q4Blocks(codes, scales, zeros, w, rows, cols, block) {
      const nb = Math.ceil(cols / block)
      need(block >= 2 && block % 2 === 0 && w.length >= rows * cols && codes.length >= rows * nb * block / 2 && scales.length >= rows * nb &&
        zeros.length >= rows * Math.ceil(nb / 2), 'q4Blocks')
      addon.q4Blocks(codes, scales, zeros, w, rows, cols, block)
    },
    packInt32(out, values, n, len, bits) {
      need([1, 2, 4, 8].includes(bits) && values.length >= n * len && out.length >= n * Math.ceil(len * bits / 32), 'packInt32')
      addon.packInt32(out, values, n, len, bits)
    },
    unpackInt32(out, words, n, len, bits) {
      need([1, 2, 4, 8].includes(bits) && out.length >= n * len && words.length >= n * Math.ceil(len * bits / 32), 'unpackInt32')
      addon.unpackInt32(out, words, n, len, bits)
    },
    transposeF32(out, w, rows, cols) { need(out.length >= rows * cols && w.length >= rows * cols, 'transposeF32'); addon.transposeF32(out, w, rows, cols) },
  }
}
