import {readFileSync} from 'node:fs'
import path from 'node:path'
import {gunzipSync} from 'node:zlib'

import {snapshot} from '../hub/download.js'
import {invalidFormat} from '../util/errors.js'
import type {Logger} from '../util/log.js'
import type {Dataset, Purpose} from './types.js'
import {readParquet} from './files.js'

/**
 * The named sets of the reference repositories, pinned to a commit of their hub repository.
 * wikitext2: test for evaluation, train for calibration. c4: shard 0 of train for calibration,
 * shard 0 of validation for evaluation by the SparseGPT/Wanda protocol (the first 1100 documents
 * joined with " ", 256 chunks).
 */
export const HUB_SETS = {
  wikitext2: {
    repo: 'Salesforce/wikitext',
    commit: 'b08601e04326c79dfdd32d625aee71d232d685c3',
    files: {eval: 'wikitext-2-raw-v1/test-00000-of-00001.parquet', calib: 'wikitext-2-raw-v1/train-00000-of-00001.parquet'},
  },
  c4: {
    repo: 'allenai/c4',
    // No commit of allenai/c4 could be verified from here; main is resolved and recorded instead.
    commit: 'main',
    files: {eval: 'en/c4-validation.00000-of-00008.json.gz', calib: 'en/c4-train.00000-of-01024.json.gz'},
  },
} as const

function readJsonGz(file: string): string[] {
  return gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    const text = (JSON.parse(l) as {text?: unknown}).text
    if (typeof text !== 'string') throw invalidFormat(`${file}:${i + 1}: no string field "text"`)
    return text
  })
}

export async function hubDataset(name: keyof typeof HUB_SETS, purpose: Purpose, log: Logger): Promise<Dataset> {
  const set = HUB_SETS[name]
  const file = set.files[purpose]
  const {dir, commit} = await snapshot({type: 'dataset', id: set.repo, revision: set.commit}, (f) => f === file, log)
  const local = path.join(dir, file)
  const label = `${name}:${purpose === 'eval' ? (name === 'c4' ? 'validation' : 'test') : 'train'}@${commit.slice(0, 12)}`
  if (name === 'wikitext2') return {kind: 'text', name: label, documents: await readParquet(local)}
  const docs = readJsonGz(local)
  return purpose === 'eval'
    ? {kind: 'text', name: label, documents: docs.slice(0, 1100), protocol: {join: ' ', maxChunks: 256}}
    : {kind: 'text', name: label, documents: docs}
}
