import type {Backend} from './backend.js'
import type {NativeAddon} from './native.js'

type ExportOps = Pick<Backend, 'ggmlQ8_0' | 'ggmlQ4_1' | 'q4Blocks' | 'packInt32' | 'unpackInt32' | 'transposeF32' | 'recoverGroups' | 'groupsQ4' | 'groupsQ4_1'>

function need(ok: boolean, op: string): void {
  if (!ok) throw new RangeError(`${op}: shape mismatch`)
}

/** The native answer of a groups kernel: −1 when the listing points outside the shapes. */
function fits(status: number, op: string): boolean {
  need(status >= 0, op)
  return status === 1
}

/** One scale, zero and group/2 bytes of codes per listed group, and a row pointer per row. */
const listed = (rowPtr: Int32Array, colIdx: Uint16Array, codes: Uint8Array, scales: Float32Array, zeros: Float32Array, rows: number, group: number) =>
  rowPtr.length > rows && colIdx.length >= scales.length && zeros.length >= scales.length && codes.length >= scales.length * group / 2

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
    recoverGroups(codes, scales, zeros, w, rows, cols, group, unit, dtype) {
      need(unit >= 2 && unit % 2 === 0 && group % unit === 0 && cols % unit === 0 && w.length >= rows * cols && codes.length >= rows * cols / 2 &&
        scales.length >= rows * cols / unit && zeros.length >= rows * cols / unit, 'recoverGroups')
      return addon.recoverGroups(codes, scales, zeros, w, rows, cols, group, unit, dtype)
    },
    groupsQ4(codes, scales, zeros, rowPtr, colIdx, gcodes, gscales, gzeros, rows, cols, group, block) {
      const nb = Math.ceil(cols / block)
      need(block >= 2 && block % 2 === 0 && group % block === 0 && listed(rowPtr, colIdx, gcodes, gscales, gzeros, rows, group) &&
        codes.length >= rows * nb * block / 2 && scales.length >= rows * nb && zeros.length >= rows * Math.ceil(nb / 2), 'groupsQ4')
      return fits(addon.groupsQ4(codes, scales, zeros, rowPtr, colIdx, gcodes, gscales, gzeros, rows, cols, group, block), 'groupsQ4')
    },
    groupsQ4_1(out, rowPtr, colIdx, codes, scales, zeros, rows, cols, group, exact) {
      need(group > 0 && group % 32 === 0 && cols % 32 === 0 && listed(rowPtr, colIdx, codes, scales, zeros, rows, group) && out.length >= rows * cols / 32 * 20,
        'groupsQ4_1')
      return fits(addon.groupsQ4_1(out, rowPtr, colIdx, codes, scales, zeros, rows, cols, group, exact), 'groupsQ4_1')
    },
  }
}
