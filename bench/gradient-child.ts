// Run by bench/memory.ts: GBLM's gradient pass (stage A) over one random sequence, reporting its peak RSS and the estimate's
// share for it with the weights and runtime that the preflight estimate adds.
import {Model} from '../src/model/model.js'
import {gradientNorms} from '../src/methods/gradnorm.js'
import {gradientPassBytes} from '../src/prune/memory.js'
import {RUNTIME_BYTES, weightBytes} from '../src/model/engine/memory.js'
import {seededRandom} from '../src/util/random.js'

const [dir, seq] = [process.argv[2], Number(process.argv[3])]
const model = Model.load(dir)
const rand = seededRandom(8)
const sample = Array.from({length: seq}, () => Math.floor(rand() * model.cfg.vocabSize))
const start = performance.now()
gradientNorms(model, [sample])
process.stdout.write(JSON.stringify({seconds: (performance.now() - start) / 1000, maxRss: process.resourceUsage().maxRSS * 1024,
  estimate: weightBytes(model.cfg) + gradientPassBytes(model.cfg, seq) + RUNTIME_BYTES}))
