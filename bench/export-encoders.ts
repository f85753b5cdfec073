import {kernels, refBackend, type Backend} from '../src/kernels/index.js'
import {randomNormal, seededRandom} from '../src/util/random.js'

/** Best wall time of `reps` runs, in seconds. */
function best(reps: number, fn: () => void): number {
  let t = Infinity
  for (let i = 0; i < reps; i++) {
    const s = performance.now()
    fn()
    t = Math.min(t, (performance.now() - s) / 1000)
  }
  return t
}

/**
 * A GPTQ output of that linear: bf16(scale·(code − zero)) with bf16 scales in groups of `group`, and its grid
 * recovered (the listing groupsQ4 and groupsQ4_1 copy).
 */
function gptqOutput(rows: number, cols: number, group: number) {
  const k = kernels(), rand = seededRandom(6), n = rows * cols, ng = n / group
  const codes = Uint8Array.from({length: n}, () => Math.floor(16 * rand())), zeros = Float32Array.from({length: ng}, () => Math.floor(16 * rand()))
  const toBf16 = (v: Float32Array) => { const h = new Uint16Array(v.length); k.f32ToBf16(h, v); k.bf16ToF32(v, h) }
  const scales = Float32Array.from({length: ng}, () => 0.001 + 0.02 * rand()), w = new Float32Array(n)
  toBf16(scales)
  k.gqsaDequant(w, codes, scales, zeros, new Uint8Array(ng), rows, cols, group)
  toBf16(w)
  const g = {codes: new Uint8Array(n / 2), scales: new Float32Array(ng), zeros: new Float32Array(ng)}
  if (!k.recoverGroups(g.codes, g.scales, g.zeros, w, rows, cols, group, group, 'BF16')) throw new Error('bench: the GPTQ grid did not come back')
  const per = cols / group
  return {w, ...g, rowPtr: Int32Array.from({length: rows + 1}, (_, r) => r * per), colIdx: Uint16Array.from({length: ng}, (_, i) => i % per)}
}

/**
 * The exporters' encoders on one 11008 × 4096 linear (a 7B MLP projection, 45M weights), native against
 * the plain references the exports used before, side by side in one run.
 */
export function exportEncodersBench(): void {
  const rows = 11008, cols = 4096, n = rows * cols, w = randomNormal(n, seededRandom(5), 0.02)
  const g = gptqOutput(rows, cols, 128), nb = cols / 32, codes = new Uint8Array(n), q = new Uint8Array(n / 32 * 34), words = new Int32Array(n / 8), t = new Float32Array(n)
  const encoders: [string, (k: Backend) => void][] = [
    ['ggml q8_0', (k) => k.ggmlQ8_0(q, w)],
    ['ggml q4_1', (k) => k.ggmlQ4_1(q, w)],
    ['MatMulNBits q4 (RTN, 32)', (k) => k.q4Blocks(codes.fill(0, 0, n / 2), new Float32Array(rows * nb), new Uint8Array(rows * nb / 2), w, rows, cols, 32)],
    ['int32 pack (4-bit)', (k) => k.packInt32(words, codes, rows, cols, 4)],
    ['int32 unpack (4-bit)', (k) => k.unpackInt32(codes, words, rows, cols, 4)],
    ['fp32 transpose', (k) => k.transposeF32(t, w, rows, cols)],
    ['recover GPTQ groups (bf16)', (k) => k.recoverGroups(codes, new Float32Array(n / 128), new Float32Array(n / 128), g.w, rows, cols, 128, 128, 'BF16')],
    ['groups → MatMulNBits', (k) => k.groupsQ4(codes.fill(0, 0, n / 2), new Float32Array(n / 128), new Uint8Array(n / 256), g.rowPtr, g.colIdx, g.codes, g.scales, g.zeros,
      rows, cols, 128, 128)],
    // not `exact`: bf16 scales times zero points rarely fit f16, and a refusal would stop before the copy
    ['groups → ggml q4_1', (k) => k.groupsQ4_1(q.fill(0, 0, n / 32 * 20), g.rowPtr, g.colIdx, g.codes, g.scales, g.zeros, rows, cols, 128, false)],
  ]
  console.log(`\nExport encoders on one ${rows} × ${cols} linear, seconds (best of 2 native, 1 reference)`)
  console.log('encoder'.padEnd(28) + 'reference'.padStart(11) + 'native'.padStart(10) + 'ratio'.padStart(9))
  for (const [name, run] of encoders) {
    const r = best(1, () => run(refBackend)), nat = best(2, () => run(kernels()))
    console.log(name.padEnd(28) + r.toFixed(3).padStart(11) + nat.toFixed(3).padStart(10) + `${(r / nat).toFixed(1)}×`.padStart(9))
  }
}
