import {readFileSync} from 'node:fs'
import {asyncBufferFromFile, parquetReadObjects, parquetMetadataAsync, parquetSchema} from 'hyparquet'
import {compressors} from 'hyparquet-compressors'

import {invalidFormat} from '../util/errors.js'

/** A .txt file: one document per line, as Hugging Face's "text" loader reads it. */
export function readTxt(file: string): string[] {
  return readFileSync(file, 'utf8').split(/\r?\n/)
}

/** The JSON value of each non-blank line of a .jsonl file, with its line number (from 1). */
export function readJsonlLines(file: string, hint: string): {value: unknown; line: number}[] {
  const out: {value: unknown; line: number}[] = []
  readFileSync(file, 'utf8').split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return
    try {
      out.push({value: JSON.parse(line), line: i + 1})
    } catch {
      throw invalidFormat(`${file}:${i + 1}: not valid JSON`, hint)
    }
  })
  return out
}

/** A .jsonl file: one JSON object per line with a string field `text`. */
export function readJsonl(file: string): string[] {
  const hint = 'each line of a .jsonl file must be one JSON object with a "text" field'
  return readJsonlLines(file, hint).map(({value, line}) => {
    const text = (value as {text?: unknown} | null)?.text
    if (typeof text !== 'string') throw invalidFormat(`${file}:${line}: no string field "text"`, hint)
    return text
  })
}

/** A .parquet file's `text` column. */
export async function readParquet(file: string): Promise<string[]> {
  let buffer
  try {
    buffer = await asyncBufferFromFile(file)
    const meta = await parquetMetadataAsync(buffer)
    const columns = parquetSchema(meta).children.map((c) => c.element.name)
    if (!columns.includes('text')) throw invalidFormat(`${file}: no "text" column (columns: ${columns.join(', ')})`, 'sparsify reads the "text" column of a parquet file')
    const rows = await parquetReadObjects({file: buffer, metadata: meta, columns: ['text'], compressors})
    return rows.map((r) => String((r as {text: unknown}).text ?? ''))
  } catch (err) {
    if ((err as {exitCode?: number}).exitCode) throw err
    throw invalidFormat(`${file}: cannot read parquet (${(err as Error).message})`, 'check that the file is a complete parquet file')
  }
}

/** A .json array of token-id arrays, used as-is. */
export function readTokenRows(file: string): number[][] {
  let rows: unknown
  try {
    rows = JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    throw invalidFormat(`${file}: not valid JSON`, 'a .json dataset is an array of token-id arrays, e.g. [[1, 2, 3], [4, 5, 6]]')
  }
  const ok = Array.isArray(rows) && rows.every((r) => Array.isArray(r) && r.every((t) => Number.isSafeInteger(t) && t >= 0))
  if (!ok) throw invalidFormat(`${file}: expected an array of token-id arrays`, 'a .json dataset is an array of token-id arrays, e.g. [[1, 2, 3], [4, 5, 6]]')
  return rows as number[][]
}
