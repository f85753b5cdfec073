// Run by bench/forward.ts: one forward pass over random tokens, reporting time, GEMM time, peak RSS and the engine's estimate.
import {kernels, threadCount, type Backend} from '../src/kernels/index.js'
import {Model} from '../src/model/model.js'
import {sequenceLosses, toBatch} from '../src/model/engine/forward.js'
import {estimateForwardBytes} from '../src/model/engine/memory.js'
import {seededRandom} from '../src/util/random.js'

const [dir, n, seq] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
const baseRss = process.resourceUsage().maxRSS * 1024
const clock = {gemm: 0}
const inner = kernels()
const timed: Backend = {...inner, gemm(...args) { const s = performance.now(); inner.gemm(...args); clock.gemm += performance.now() - s }}
const model = Model.load(dir)
const rand = seededRandom(5)
const seqs = Array.from({length: n}, () => Array.from({length: seq}, () => Math.floor(rand() * model.cfg.vocabSize)))
const start = performance.now()
sequenceLosses(model, toBatch(seqs), {kernels: timed})
const seconds = (performance.now() - start) / 1000
process.stdout.write(JSON.stringify({seconds, gemmSeconds: clock.gemm / 1000, maxRss: process.resourceUsage().maxRSS * 1024, baseRss,
  estimate: estimateForwardBytes(model.cfg, n, seq, threadCount())}))
