import {existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {GQSA_DEFAULTS} from '../methods/gqsa-types.js'
import type {ExpertUsage, LinearResult} from '../methods/sequential.js'
import type {Model} from '../model/model.js'
import {EXIT, SparsifyError, usage} from '../util/errors.js'
import type {Logger} from '../util/log.js'
import {VERSION} from '../version.js'
import type {PruneOptions} from './options.js'

/** What an interrupted run leaves in its work folder: enough to continue it. */
export interface Progress {
  fingerprint: string
  doneThrough: number
  linears: LinearResult[]
  /** Mixture blocks finished so far: tokens per expert (absent in progress files of dense models). */
  experts?: ExpertUsage[]
}

const PROGRESS = 'sparsify-progress.json'

/** The folder beside --out where the output is built, renamed into place only when complete. */
export const workFolderOf = (out: string) => path.join(path.dirname(out), `.${path.basename(out)}.sparsify-work`)

/** Everything that decides the output: a resumed run must match it exactly. */
export function jobFingerprint(o: PruneOptions, model: Model): string {
  const files = model.ckpt.files.map((f) => { const st = statSync(f.path); return [path.resolve(f.path), st.size, st.mtimeMs] })
  const {model: m, method, sparsity, pattern, owl, calib, nsamples, seqlen, seed, skip, format, wbits, groupsize, sym} = o
  const gqsa = method === 'gqsa' ? {...GQSA_DEFAULTS, ...o.gqsa} : null
  const plan = o.plan === undefined ? undefined : readFileSync(o.plan, 'utf8')
  return JSON.stringify({model: path.resolve(m), files, method, sparsity, pattern, owl, plan, calib, nsamples, seqlen, seed, skip, format, gqsa, wbits, groupsize, sym, version: VERSION})
}

/** Prepares the work folder: fresh, or the interrupted run's when resuming it. */
export function startWork(work: string, fingerprint: string, o: PruneOptions, log: Logger): Progress | null {
  const p = readProgress(work)
  if (existsSync(work)) {
    if (o.resume && p) {
      if (p.fingerprint !== fingerprint) throw usage(`the interrupted run in ${work} used other options or another model`, 'run it with its own options, or pass --overwrite to start over')
      log.info(`resuming after block ${p.doneThrough + 1} (${work})`)
      return p
    }
    if (p && !o.overwrite) throw usage(`an interrupted run of this job is in ${work}`, 'pass --resume to continue it, or --overwrite to start over')
    rmSync(work, {recursive: true, force: true})
  } else if (o.resume) {
    log.info('nothing to resume: starting from the first block')
  }
  mkdirSync(work, {recursive: true})
  return null
}

export function saveProgress(work: string, p: Progress): void {
  const tmp = path.join(work, `${PROGRESS}.tmp`)
  writeFileSync(tmp, JSON.stringify(p))
  renameSync(tmp, path.join(work, PROGRESS))
}

/** All blocks are done: the work folder is about to become the output. */
export const clearProgress = (work: string) => rmSync(path.join(work, PROGRESS), {force: true})

function readProgress(work: string): Progress | null {
  const file = path.join(work, PROGRESS)
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Progress) : null
}

/**
 * An interrupted job keeps its finished blocks for --resume; any other failure leaves nothing.
 * Returns the error to throw: an interruption names the block it stopped after.
 */
export function abandonWork(work: string, err: unknown, layers: number): unknown {
  const code = (err as SparsifyError).exitCode
  const interrupted = code === EXIT.sigint || code === EXIT.sigterm
  const p = readProgress(work)
  if (interrupted && p) {
    return new SparsifyError(`interrupted by ${code === EXIT.sigint ? 'SIGINT' : 'SIGTERM'} after block ${p.doneThrough + 1} of ${layers}; --out is untouched`,
      code as typeof EXIT.sigint, `run the same command with --resume to continue (finished blocks are kept in ${work})`)
  }
  rmSync(work, {recursive: true, force: true})
  return err
}
