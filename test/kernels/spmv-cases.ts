// The decode kernels against their references, shared by spmv.test.ts (in process) and
// spmv-isa-check.ts (run once per instruction set).
import {gqsaHeldParams, gqsaPairBytes, nativeKernels, refBackend, type Backend} from '../../src/kernels/index.js'
import {randomNormal, seededRandom} from '../../src/util/random.js'

const rand = seededRandom(23)

/** A random (rows, cols) weight whose rows are, in turn: empty, fully dense (unless `denseRows` is false), and sparse with `keep`. */
function unevenRows(rows: number, cols: number, keep: (r: number, c: number) => boolean, denseRows = true): Float32Array {
  const w = randomNormal(rows * cols, rand)
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (r % 3 === 0 || ((r % 3 === 2 || !denseRows) && !keep(r, c))) w[r * cols + c] = 0
    }
  }
  return w
}

const bf16 = (k: Backend, w: Float32Array) => { const b = new Uint16Array(w.length); k.f32ToBf16(b, w); return b }

/**
 * GQSA parts for a random weight, rows keeping 0, all, or a random share of their groups (so row segments start
 * at odd and even groups), in the kernels' pair layout; zeros also outside the codes' range.
 */
export function randomGqsa(rows: number, cols: number, group: number) {
  const rowPtr = new Int32Array(rows + 1), col: number[] = []
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols / group; g++) if (r % 4 === 1 || (r % 4 >= 2 && rand() < 0.4)) col.push(g)
    rowPtr[r + 1] = col.length
  }
  const nnzb = col.length
  const codes = Uint8Array.from({length: nnzb * group / 2}, () => Math.floor(rand() * 256))
  const pairs = new Uint8Array(gqsaPairBytes(nnzb, group))
  refBackend.gqsaPairCodes(pairs, codes, nnzb, group)
  const {scales, offsetZeros} = gqsaHeldParams(Float32Array.from({length: nnzb}, () => 0.01 + rand() * 0.1),
    Float32Array.from({length: nnzb}, () => Math.floor(rand() * 22) - 3))
  return {rowPtr, col: Uint16Array.from(col), codes, pairs, scales, offsetZeros}
}

export function spmvFailures(nat: Backend = nativeKernels(), ref: Backend = refBackend): string[] {
  const failures: string[] = []
  // Float32 sums of n terms taken in different orders differ by about √n·ε times the terms' size.
  const close = (got: Float32Array, want: Float32Array, cols: number, label: string) => {
    let worst = 0
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])))
    if (!(worst < 2e-5 * Math.max(1, Math.sqrt(cols / 256)))) failures.push(`${label}: relative error ${worst}`)
  }
  for (const tokens of [1, 3, 9]) {
    for (const [rows, cols] of [[1, 16], [7, 40], [33, 136], [6, 200], [5, 320], [9, 4104]]) {
      const x = randomNormal(tokens * cols, rand)
      const run = (label: string, fn: (k: Backend, y: Float32Array) => void) => {
        const a = new Float32Array(tokens * rows), b = new Float32Array(tokens * rows)
        fn(ref, a); fn(nat, b)
        close(b, a, cols, `${label} ${tokens}×${rows}×${cols}`)
      }
      const w = unevenRows(rows, cols, () => rand() < 0.5)
      run('dense f32', (k, y) => k.matmulDense(y, w, x, tokens, rows, cols))
      run('dense bf16', (k, y) => k.matmulDense(y, bf16(k, w), x, tokens, rows, cols))

      const values = new Float32Array(rows * cols), mask = new Uint8Array(rows * Math.ceil(cols / 8)), offsets = new BigInt64Array(rows)
      const nnz = nat.packBitmask(values, mask, offsets, w, rows, cols)
      run('bitmask f32', (k, y) => k.matmulBitmask(y, values.slice(0, nnz), mask, offsets, x, tokens, rows, cols))
      run('bitmask bf16', (k, y) => k.matmulBitmask(y, bf16(k, values.slice(0, nnz)), mask, offsets, x, tokens, rows, cols))

      for (const [n, m] of [[2, 4], [1, 4], [4, 8], [3, 8]]) {
        if (cols % m !== 0) continue
        // each group keeps n columns at random positions, some of which a coin then drops
        const keep = Array.from({length: rows * cols / m}, () => {
          const order = Array.from({length: m}, (_, j) => j).sort(() => rand() - 0.5)
          return new Set(order.slice(0, n))
        })
        const wn = unevenRows(rows, cols, (r, c) => keep[(r * cols + c - c % m) / m].has(c % m) && rand() < 0.8, false)
        const perRow = cols / m * n, stride = Math.ceil(perRow / 2)
        const vals = new Float32Array(rows * perRow), pos = new Uint8Array(rows * stride)
        if (nat.packNm(vals, pos, wn, rows, cols, n, m) !== -1) { failures.push(`packNm ${n}:${m} refused an ${n}:${m} weight`); continue }
        const vr = new Float32Array(rows * perRow), pr = new Uint8Array(rows * stride)
        ref.packNm(vr, pr, wn, rows, cols, n, m)
        if (vr.some((v, i) => v !== vals[i]) || pr.some((v, i) => v !== pos[i])) failures.push(`packNm ${n}:${m} differs from its reference`)
        const back = new Float32Array(rows * cols)
        nat.unpackNm(back, vals, pos, rows, cols, n, m)
        if (back.some((v, i) => !Object.is(v, wn[i] === 0 ? 0 : wn[i]))) failures.push(`unpackNm ${n}:${m} does not round-trip`)
        let kpos = pos
        if (n === 2 && m === 4) {
          // the kernels read 2:4 positions in block order; native and reference conversions agree and invert
          kpos = pos.slice()
          const refPos = pos.slice()
          nat.nm24Blocks(kpos, rows, cols, true)
          ref.nm24Blocks(refPos, rows, cols, true)
          if (kpos.some((v, i) => v !== refPos[i])) failures.push(`nm24Blocks ${rows}×${cols} differs from its reference`)
          const back = kpos.slice()
          nat.nm24Blocks(back, rows, cols, false)
          if (back.some((v, i) => v !== pos[i])) failures.push(`nm24Blocks ${rows}×${cols} does not invert`)
        }
        run(`nm ${n}:${m} f32`, (k, y) => k.matmulNm(y, vals, kpos, x, tokens, rows, cols, n, m))
        run(`nm ${n}:${m} bf16`, (k, y) => k.matmulNm(y, bf16(k, vals), kpos, x, tokens, rows, cols, n, m))
      }

      for (const group of [8, 16, 32]) {
        if (cols % group !== 0) continue
        const q = randomGqsa(rows, cols, group), nnzb = q.rowPtr[rows]
        const pairs = new Uint8Array(q.pairs.length).fill(255), codes = new Uint8Array(q.codes.length)
        nat.gqsaPairCodes(pairs, q.codes, nnzb, group)
        nat.gqsaGroupCodes(codes, pairs, nnzb, group)
        if (pairs.some((v, i) => v !== q.pairs[i])) failures.push(`gqsaPairCodes g${group} differs from its reference`)
        if (codes.some((v, i) => v !== q.codes[i])) failures.push(`gqsaGroupCodes g${group} does not give the file's codes back`)
        run(`gqsa g${group}`, (k, y) => k.matmulGqsa(y, q.rowPtr, q.col, q.pairs, q.scales, q.offsetZeros, x, tokens, rows, cols, group))
      }
    }
  }
  return failures
}
