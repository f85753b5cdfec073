import {existsSync, statSync} from 'node:fs'
import path from 'node:path'

import {notFound, usage} from '../util/errors.js'
import {brownDocuments} from './brown.js'
import {readJsonl, readParquet, readTokenRows, readTxt} from './files.js'
import {hubDataset} from './hub-sets.js'
import {stderrLogger, type Logger} from '../util/log.js'
import type {Dataset, Purpose} from './types.js'

export const NAMED_SETS = ['wikitext2', 'c4', 'brown'] as const

export const DATA_HELP = 'a named set (brown, wikitext2, c4), or a .txt, .jsonl (field "text"), .parquet (column "text") or .json (array of token-id arrays) file'

export async function loadDataset(spec: string, purpose: Purpose, log: Logger = stderrLogger({quiet: true})): Promise<Dataset> {
  const [base, split] = spec.split(':') as [string, string | undefined]
  if (base === 'brown') {
    const s = split ?? (purpose === 'eval' ? 'test' : 'train')
    if (s !== 'train' && s !== 'test') throw usage(`unknown split ${s} of brown`, 'use brown, brown:train or brown:test')
    return {kind: 'text', name: `brown:${s}`, documents: brownDocuments(s)}
  }
  if (base === 'wikitext2' || base === 'c4') return hubDataset(base, purpose, log)
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
