import {existsSync, statSync} from 'node:fs'
import path from 'node:path'

import {notFound, usage} from '../util/errors.js'
import {brownDocuments} from './brown.js'
import {readJsonl, readParquet, readTokenRows, readTxt} from './files.js'

/** Text documents to tokenize, or token-id rows to use as they are. */
export type Dataset =
  | {kind: 'text'; name: string; documents: string[]}
  | {kind: 'tokens'; name: string; rows: number[][]}

/** Named sets have a split for evaluation and one for calibration. */
export type Purpose = 'eval' | 'calib'

export const NAMED_SETS = ['wikitext2', 'c4', 'brown'] as const

export const DATA_HELP = 'a named set (brown, wikitext2, c4), or a .txt, .jsonl (field "text"), .parquet (column "text") or .json (array of token-id arrays) file'

export async function loadDataset(spec: string, purpose: Purpose): Promise<Dataset> {
  const [base, split] = spec.split(':') as [string, string | undefined]
  if (base === 'brown') {
    const s = split ?? (purpose === 'eval' ? 'test' : 'train')
    if (s !== 'train' && s !== 'test') throw usage(`unknown split ${s} of brown`, 'use brown, brown:train or brown:test')
    return {kind: 'text', name: `brown:${s}`, documents: brownDocuments(s)}
  }
  if (base === 'wikitext2' || base === 'c4') {
    throw notFound(`dataset ${base} comes from the Hugging Face hub, which sparsify cannot download yet`,
      `use the bundled offline set brown, or a local file (${base === 'wikitext2' ? 'e.g. wikitext-2-raw-v1 test-00000-of-00001.parquet' : 'e.g. c4 .jsonl'})`)
  }
  if (!existsSync(spec) || !statSync(spec).isFile()) throw notFound(`dataset ${spec} not found`, `pass ${DATA_HELP}`)
  const name = spec
  switch (path.extname(spec).toLowerCase()) {
    case '.txt': return {kind: 'text', name, documents: readTxt(spec)}
    case '.jsonl': return {kind: 'text', name, documents: readJsonl(spec)}
    case '.parquet': return {kind: 'text', name, documents: await readParquet(spec)}
    case '.json': return {kind: 'tokens', name, rows: readTokenRows(spec)}
    default: throw usage(`cannot tell the format of ${spec} from its extension`, `pass ${DATA_HELP}`)
  }
}
