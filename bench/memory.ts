// `npm run bench -- memory`: peak memory of pruning the Gemma-3-1B-shaped model against the preflight estimate.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {seededRandom} from '../src/util/random.js'
import {cli} from './cli.js'
import {GEMMA3_1B} from './forward.js'
import {randomCheckpoint} from './random-checkpoint.js'

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`

/** `sparsify prune --method wanda` on n × seq random calibration tokens read from a file; its report carries both figures. */
function wandaMemory(model: string, n: number, seq: number): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'sparsify-bench-memory-'))
  try {
    const rand = seededRandom(9)
    const calib = path.join(dir, 'calib.json')
    writeFileSync(calib, JSON.stringify(Array.from({length: n}, () => Array.from({length: seq}, () => Math.floor(rand() * GEMMA3_1B.vocab_size)))))
    const r = cli(['prune', model, '--method', 'wanda', '--sparsity', '0.5', '--calib', calib, '--nsamples', String(n), '--seqlen', String(seq),
      '--eval', 'none', '--out', path.join(dir, 'out')])
    console.log(`  wanda 50%, ${n} × ${seq} calibration tokens: peak RSS ${mib(r.peak_rss_bytes)} vs the preflight estimate ${mib(r.estimated_peak_bytes)}: ` +
      `ratio ${(r.peak_rss_bytes / r.estimated_peak_bytes).toFixed(2)} (target ≤ 1); ${r.timings_seconds.total.toFixed(0)} s`)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/** GBLM's gradient pass over one sequence, in a child process (its peak RSS alone). */
function gradientMemory(model: string, seq: number): void {
  const child = spawnSync(process.execPath, [fileURLToPath(new URL('./gradient-child.js', import.meta.url)), model, String(seq)], {encoding: 'utf8'})
  if (child.status !== 0) throw new Error(child.stderr)
  const r = JSON.parse(child.stdout)
  console.log(`  GBLM gradient pass, 1 × ${seq} tokens: peak RSS ${mib(r.maxRss)} vs the estimate's share for it (with the weights and runtime) ${mib(r.estimate)}: ` +
    `ratio ${(r.maxRss / r.estimate).toFixed(2)} (target ≤ 1); ${r.seconds.toFixed(0)} s`)
}

export async function memoryBench(): Promise<void> {
  const model = randomCheckpoint('gemma3-1b', GEMMA3_1B, 6)
  console.log('\nMemory, random Gemma-3-1B shape (as in the forward section)')
  const which = process.argv[3]
  if (!which || which === 'gradient') gradientMemory(model, 1024)
  if (!which || which === 'wanda') wandaMemory(model, 8, 2048)
}
