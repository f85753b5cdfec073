// `npm run bench`: our kernels and engine measured side by side with onnxruntime in one run.
import {rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import ort from 'onnxruntime-node'

import {kernels, threadCount} from '../src/kernels/index.js'
import {randomNormal, seededRandom} from '../src/util/random.js'
import {writeRandomLlama, type LlamaShape} from '../fixtures/gen/random-model.js'
import {matmulModel} from './onnx-matmul.js'
import {benchShape} from '../src/bench/formats.js'
import {decodeSpeed} from '../src/bench/decode.js'
import {Model} from '../src/model/model.js'
import {fixtureTasksBench, tasksBench} from './tasks.js'
import {exportEncodersBench} from './export-encoders.js'
import {forwardBench} from './forward.js'
import {cli} from './cli.js'
import {memoryBench} from './memory.js'

const rand = seededRandom(1)
const threads = threadCount()

/** Best of `reps` wall times (after one warm-up), in seconds. */
async function best(reps: number, fn: () => unknown): Promise<number> {
  await fn()
  let t = Infinity
  for (let i = 0; i < reps; i++) {
    const s = performance.now()
    await fn()
    t = Math.min(t, (performance.now() - s) / 1000)
  }
  return t
}

async function gemmBench(): Promise<void> {
  const k = kernels()
  const shapes: [string, number, number, number][] = [
    ['square 512', 512, 512, 512], ['square 1024', 1024, 1024, 1024], ['square 2048', 2048, 2048, 2048], ['square 4096', 4096, 4096, 4096],
    // Llama-3.2-1B linears against 4096 tokens: q/o, k/v, gate/up, down.
    ['1B q/o 4096×2048×2048', 4096, 2048, 2048], ['1B k/v 4096×512×2048', 4096, 512, 2048],
    ['1B gate/up 4096×8192×2048', 4096, 8192, 2048], ['1B down 4096×2048×8192', 4096, 2048, 8192],
  ]
  console.log(`\nGEMM, float32, ${threads} threads (ours: ${k.name}; onnxruntime-node ${ort.env.versions?.common ?? ''} MatMul, same threads)`)
  console.log('shape'.padEnd(28) + 'ours GFLOP/s'.padStart(14) + 'ort GFLOP/s'.padStart(14) + 'ours/ort'.padStart(10))
  for (const [label, m, n, kk] of shapes) {
    const a = randomNormal(m * kk, rand), w = randomNormal(n * kk, rand), c = new Float32Array(m * n)
    const flop = 2 * m * n * kk
    const reps = flop > 5e10 ? 2 : 5
    const ours = await best(reps, () => k.gemm(c, a, w, m, n, kk, {transB: true}))
    const session = await ort.InferenceSession.create(matmulModel(m, n, kk), {intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all'})
    const bT = randomNormal(kk * n, rand)
    const feeds = {A: new ort.Tensor('float32', a, [m, kk]), B: new ort.Tensor('float32', bT, [kk, n])}
    const theirs = await best(reps, () => session.run(feeds))
    await session.release()
    const g1 = flop / ours / 1e9, g2 = flop / theirs / 1e9
    console.log(label.padEnd(28) + g1.toFixed(1).padStart(14) + g2.toFixed(1).padStart(14) + (g1 / g2).toFixed(2).padStart(10))
  }
}

/**
 * End-to-end pruning of the bench Llama on 32 × 512 calibration tokens through the CLI, by phase,
 * against one dense forward pass over the same tokens (sparsify eval on them).
 */
async function pruneBench(): Promise<void> {
  const shape: LlamaShape = {vocab: 32000, hidden: 1024, intermediate: 2816, layers: 8, heads: 16, kvHeads: 4, maxPositions: 2048}
  const dir = path.join(tmpdir(), `sparsify-bench-prune-${process.pid}`)
  writeRandomLlama(path.join(dir, 'model'), shape, {seed: 3, dtype: 'BF16'})
  try {
    const n = 32, seq = 512, tokens = n * seq
    const calib = path.join(dir, 'calib.json')
    writeFileSync(calib, JSON.stringify(Array.from({length: n}, () => Array.from({length: seq}, () => Math.floor(rand() * shape.vocab)))))
    const dense = cli(['eval', path.join(dir, 'model'), '--dataset', calib])
    const hd = shape.hidden / shape.heads
    const q = shape.heads * hd, kv = shape.kvHeads * hd
    const linearFlop = 2 * tokens * (shape.hidden * (q + 2 * kv) + q * shape.hidden + 3 * shape.hidden * shape.intermediate)
    const attnFlop = 2 * 2 * n * shape.heads * hd * (seq * (seq + 1)) / 2
    const blockFlop = (linearFlop + attnFlop) * shape.layers
    const inputs = [shape.hidden, q, shape.hidden, shape.intermediate]
    const hessianFlop = inputs.reduce((a, c) => a + 2 * tokens * c * c, 0) * shape.layers
    console.log(`\nPrune, bench Llama (as above), ${n} × ${seq} calibration tokens; one dense forward over them (sparsify eval): ${dense.seconds.toFixed(2)} s`)
    console.log('method'.padEnd(11) + 'phase'.padEnd(22) + 'seconds'.padStart(9) + 'GFLOP/s'.padStart(10))
    for (const method of ['wanda', 'sparsegpt']) {
      const out = path.join(dir, `out-${method}`)
      const r = cli(['prune', path.join(dir, 'model'), '--method', method, '--sparsity', '0.5', '--calib', calib, '--nsamples', String(n),
        '--seqlen', String(seq), '--eval', 'none', '--out', out])
      const t = r.timings_seconds
      const rows: [string, number, number | null][] = [
        ['calibration forward', t.calibrationForward, blockFlop],
        ['statistics', t.statistics, method === 'sparsegpt' ? hessianFlop : null],
        ['solve', t.solve, null],
        ['re-run', t.rerun, blockFlop],
      ]
      for (const [phase, sec, flop] of rows) {
        console.log(method.padEnd(11) + phase.padEnd(22) + sec.toFixed(2).padStart(9) + (flop ? (flop / sec / 1e9).toFixed(1) : '').padStart(10))
      }
      const prune = t.calibrationForward + t.statistics + t.solve + t.rerun
      console.log(method.padEnd(11) + 'all four phases'.padEnd(22) + prune.toFixed(2).padStart(9) + `   = ${(prune / dense.seconds).toFixed(2)} × one dense forward${method === 'wanda' ? ' (target ≤ 2.3)' : ''}`)
      if (method === 'sparsegpt') {
        // The solve's math: a Cholesky (C³/3) and a triangular inverse (C³/3) per distinct input (q/k/v and
        // gate/up share theirs), and the OBS updates (2·R·C²) per linear.
        const gemmRate = blockFlop / t.calibrationForward
        let math = inputs.reduce((a, c) => a + (2 * c ** 3) / 3, 0)
        for (const [rows, cols] of [[q, shape.hidden], [kv, shape.hidden], [kv, shape.hidden], [shape.hidden, q], [shape.intermediate, shape.hidden], [shape.intermediate, shape.hidden], [shape.hidden, shape.intermediate]]) {
          math += 2 * rows * cols * cols
        }
        math *= shape.layers
        console.log(`sparsegpt  solve ${t.solve.toFixed(2)} s vs its math at the forward's GEMM rate ${(math / gemmRate).toFixed(2)} s: ratio ${(t.solve / (math / gemmRate)).toFixed(2)} (target ≤ 2)`)
      }
      rmSync(out, {recursive: true, force: true})
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/**
 * Perplexity on brown:test of the trained fixture, dense and pruned by every method at 50%,
 * 60% and 2:4, calibrated on brown:train (128 × 256 tokens, seed 0).
 */
async function qualityBench(): Promise<void> {
  const model = fileURLToPath(new URL('../../fixtures/tiny-llama', import.meta.url))
  const dir = path.join(tmpdir(), `sparsify-bench-quality-${process.pid}`)
  const targets: [string, string[]][] = [['50%', ['--sparsity', '0.5']], ['60%', ['--sparsity', '0.6']], ['2:4', ['--pattern', '2:4']]]
  const methods = ['magnitude', 'wanda', 'sparsegpt', 'gblm', 'dsnot']
  const table = new Map<string, string[]>()
  let dense = 0
  try {
    for (const method of methods) {
      for (const [label, flags] of targets) {
        const r = cli(['prune', model, '--method', method, ...flags, '--calib', 'brown', '--nsamples', '128', '--seqlen', '256',
          '--eval', 'brown', '--out', path.join(dir, `${method}-${label}`.replace(/[:%]/g, '_'))])
        dense = r.evaluation.dense_perplexity
        table.set(method, [...(table.get(method) ?? []), r.evaluation.pruned_perplexity.toFixed(2)])
      }
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
  console.log(`\nPerplexity of fixtures/tiny-llama on brown:test (seqlen 256), calibrated on 128 × 256 tokens of brown:train; dense ${dense.toFixed(2)}`)
  console.log('method'.padEnd(12) + targets.map(([l]) => l.padStart(10)).join(''))
  for (const [m, cells] of table) console.log(m.padEnd(12) + cells.map((c) => c.padStart(10)).join(''))
}

/** Magnitude pruning in place, 2:4 or 50% per row, through the kernels: the bench's stand-in for a pruned model. */
function magnitudePrune(pattern: '2:4' | '50%') {
  const k = kernels()
  return (w: Float32Array, _name: string, rows: number, cols: number) => {
    const score = new Float32Array(w.length), mask = new Uint8Array(w.length)
    k.absScaled(score, w, new Float32Array(cols).fill(1), rows, cols)
    if (pattern === '2:4') k.selectNM(mask, score, rows, cols, 2, 4)
    else k.selectRowK(mask, score, rows, cols, Math.floor(cols / 2))
    k.applyMask(w, mask)
  }
}

/**
 * Every weight format's GEMV (decode) and 8-token GEMM on Llama-7B shapes (the same measurement as
 * `sparsify bench`), then greedy decoding of the bench Llama with its linears in each format.
 */
async function formatsBench(): Promise<void> {
  const reps = 100
  console.log(`\nDecode products y = W·x per weight format; ms per product, best of ${reps} (GEMV) and of ${reps >> 2} (8-token GEMM) rounds, the formats taking turns`)
  console.log('shape'.padEnd(14) + 'format'.padEnd(14) + 'bytes/w'.padStart(9) + 'GEMV ms'.padStart(10) + 'GEMM8 ms'.padStart(10) + 'GEMV vs bf16'.padStart(14))
  for (const [rows, cols] of [[4096, 4096], [11008, 4096]]) {
    const r = benchShape(rows, cols, {reps})
    for (const f of r.formats) {
      console.log(`${rows}×${cols}`.padEnd(14) + f.format.padEnd(14) + f.bytes_per_weight.toFixed(3).padStart(9) + f.gemv_ms.toFixed(3).padStart(10) +
        f.gemm_ms.toFixed(3).padStart(10) + `${f.gemv_speedup_vs_bf16.toFixed(2)}×`.padStart(14))
    }
  }
  const shape: LlamaShape = {vocab: 32000, hidden: 1024, intermediate: 2816, layers: 8, heads: 16, kvHeads: 4, maxPositions: 2048}
  const dir = path.join(tmpdir(), `sparsify-bench-decode-${process.pid}`)
  writeRandomLlama(path.join(dir, 'model'), shape, {seed: 4, dtype: 'BF16'})
  try {
    // A GQSA W4S50 copy (one-shot, little calibration: the speed does not depend on the values).
    const calib = path.join(dir, 'calib.json')
    writeFileSync(calib, JSON.stringify(Array.from({length: 4}, () => Array.from({length: 64}, () => Math.floor(rand() * shape.vocab)))))
    cli(['prune', path.join(dir, 'model'), '--method', 'gqsa', '--bqpo-epochs', '0', '--calib', calib, '--nsamples', '4', '--seqlen', '64',
      '--eval', 'none', '--format', 'gqsa', '--out', path.join(dir, 'gqsa')])
    const model = Model.load(path.join(dir, 'model')), gqsa = Model.load(path.join(dir, 'gqsa'))
    const runs: [string, () => ReturnType<typeof decodeSpeed>][] = [
      ['f32', () => decodeSpeed(model, 'f32', {tokens: 64})],
      ['bf16', () => decodeSpeed(model, 'bf16', {tokens: 64})],
      ['nm 2:4 (bf16 values)', () => decodeSpeed(model, 'nm', {tokens: 64, prepare: magnitudePrune('2:4')})],
      ['bitmask 50% (bf16 values)', () => decodeSpeed(model, 'bitmask', {tokens: 64, prepare: magnitudePrune('50%')})],
      ['gqsa W4S50', () => decodeSpeed(gqsa, 'gqsa', {tokens: 64})],
    ]
    console.log(`\nGreedy decoding, bench Llama (hidden ${shape.hidden}, ${shape.layers} layers, vocab ${shape.vocab}), 64 tokens after 8, best of 3; head and embeddings float32`)
    console.log('linears'.padEnd(28) + 'tokens/s'.padStart(10) + 'linear MiB'.padStart(12) + 'vs bf16'.padStart(10))
    let bf16 = 0
    for (const [label, run] of runs) {
      const r = run()
      if ('skipped' in r) { console.log(label.padEnd(28) + `skipped: ${r.skipped}`); continue }
      if (r.format === 'bf16') bf16 = r.tokens_per_second
      console.log(label.padEnd(28) + r.tokens_per_second.toFixed(1).padStart(10) + (r.linear_bytes / 2 ** 20).toFixed(1).padStart(12) +
        (bf16 ? `${(r.tokens_per_second / bf16).toFixed(2)}×` : '').padStart(10))
    }
    model.close()
    gqsa.close()
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/**
 * GQSA against its baselines (issue 7): perplexity of dense, GQSA W4S50 one-shot, + BQPO, + E2E-OQP,
 * SparseGPT 2:4, and 2-bit group quantization by the same machinery at sparsity 0 (one-shot and + BQPO),
 * on the trained fixture (brown) and on the bench Llama (random weights and tokens: a timing and
 * sanity run, its perplexities sit near the vocabulary size).
 */
async function gqsaBench(): Promise<void> {
  const dir = path.join(tmpdir(), `sparsify-bench-gqsa-${process.pid}`)
  const runs: [string, string[]][] = [
    ['GQSA W4S50 one-shot', ['--method', 'gqsa', '--bqpo-epochs', '0']],
    ['GQSA W4S50 + BQPO', ['--method', 'gqsa']],
    ['GQSA W4S50 + BQPO + E2E', ['--method', 'gqsa', '--e2e-steps', 'E2E']],
    ['SparseGPT 2:4', ['--method', 'sparsegpt', '--pattern', '2:4']],
    ['W2 g16 one-shot', ['--method', 'gqsa', '--bits', '2', '--sparsity', '0', '--bqpo-epochs', '0']],
    ['W2 g16 + BQPO', ['--method', 'gqsa', '--bits', '2', '--sparsity', '0']],
  ]
  const shape: LlamaShape = {vocab: 32000, hidden: 1024, intermediate: 2816, layers: 8, heads: 16, kvHeads: 4, maxPositions: 2048}
  writeRandomLlama(path.join(dir, 'llama'), shape, {seed: 5, dtype: 'BF16'})
  const tokens = (n: number, seq: number) => JSON.stringify(Array.from({length: n}, () => Array.from({length: seq}, () => Math.floor(rand() * shape.vocab))))
  writeFileSync(path.join(dir, 'calib.json'), tokens(16, 256))
  writeFileSync(path.join(dir, 'eval.json'), tokens(8, 256))
  const models: [string, string, string[], number][] = [
    ['fixtures/tiny-llama, brown:test, calibrated on 128 × 256 tokens of brown:train', fileURLToPath(new URL('../../fixtures/tiny-llama', import.meta.url)),
      ['--calib', 'brown', '--nsamples', '128', '--seqlen', '256', '--eval', 'brown'], 128],
    ['bench Llama (random), 8 × 256 random tokens, calibrated on 16 × 256 others', path.join(dir, 'llama'),
      ['--calib', path.join(dir, 'calib.json'), '--nsamples', '16', '--seqlen', '256', '--eval', path.join(dir, 'eval.json')], 32],
  ]
  try {
    for (const [title, model, data, e2eSteps] of models) {
      console.log(`\nGQSA and its baselines: ${title}`)
      console.log('run'.padEnd(28) + 'perplexity'.padStart(12) + 'seconds'.padStart(10))
      let dense = 0
      for (const [label, flags] of runs) {
        const r = cli(['prune', model, ...flags.map((f) => (f === 'E2E' ? String(e2eSteps) : f)), ...data, '--out', path.join(dir, 'out'), '--overwrite'])
        if (!dense) { dense = r.evaluation.dense_perplexity; console.log('dense'.padEnd(28) + dense.toFixed(2).padStart(12)) }
        console.log((label + (label.includes('E2E') ? ` (${e2eSteps} steps)` : '')).padEnd(28) + r.evaluation.pruned_perplexity.toFixed(2).padStart(12) +
          r.timings_seconds.total.toFixed(1).padStart(10))
      }
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/** The OBS sweep with quantization (GPTQ, SparseGPT + wbits) against the plain SparseGPT sweep, one factor shared, on Llama-3.2-1B shapes. */
async function quantBench(): Promise<void> {
  const k = kernels()
  console.log(`\nOBS sweep with and without quantization, ${threads} threads (best of 3; the factor is computed once per shape)`)
  console.log('shape (out × in)'.padEnd(20) + 'sparsegpt 50%'.padStart(15) + '50% + w4'.padStart(12) + '2:4 + w4'.padStart(12) + 'gptq w4 g128'.padStart(14) + '  w4 / plain')
  for (const [rows, cols] of [[2048, 2048], [8192, 2048]]) {
    const x = randomNormal(2 * cols * cols, rand), h = new Float32Array(cols * cols), u = new Float32Array(cols * cols)
    k.gemm(h, x, x, cols, cols, 2 * cols, {transA: true})
    k.sparsegptFactor(u, h, cols, 0.01)
    const w0 = randomNormal(rows * cols, rand), mask = new Uint8Array(rows * cols)
    const q = (groupsize: number) => ({bits: 4, groupsize, sym: false, scaleDtype: 'F32' as const,
      scales: new Float32Array(rows * (groupsize ? cols / groupsize : 1)), zeros: new Float32Array(rows * (groupsize ? cols / groupsize : 1))})
    const sweep = (o: Parameters<typeof k.sparsegptPrune>[6]) => best(3, () => k.sparsegptPrune(w0.slice(), mask, u, h, rows, cols, o))
    const plain = await sweep({sparsity: 0.5, prunen: 0, prunem: 0, blocksize: 128})
    const joint = await sweep({sparsity: 0.5, prunen: 0, prunem: 0, blocksize: 128, quant: q(0)})
    const nm = await sweep({sparsity: 0, prunen: 2, prunem: 4, blocksize: 128, quant: q(0)})
    const gptq = await sweep({sparsity: -1, prunen: 0, prunem: 0, blocksize: 128, quant: q(128)})
    const ms = (t: number) => `${(t * 1000).toFixed(0)} ms`
    console.log(`${rows} × ${cols}`.padEnd(20) + ms(plain).padStart(15) + ms(joint).padStart(12) + ms(nm).padStart(12) + ms(gptq).padStart(14) + `  ${(joint / plain).toFixed(2)}×`)
  }
}

const which = process.argv[2]
if (!which || which === 'gemm') await gemmBench()
if (!which || which === 'forward') await forwardBench()
if (!which || which === 'memory') await memoryBench()
if (!which || which === 'prune') await pruneBench()
if (!which || which === 'quality') await qualityBench()
if (!which || which === 'formats') await formatsBench()
if (!which || which === 'gqsa') await gqsaBench()
if (!which || which === 'quant') await quantBench()
if (!which || which === 'export') exportEncodersBench()
if (!which || which === 'tasks') { await tasksBench(); await fixtureTasksBench() }
