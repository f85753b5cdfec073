import type {Model} from '../model/model.js'
import {TextTokenizer} from '../model/tokenizer.js'
import {invalidFormat, usage} from '../util/errors.js'
import type {Dataset} from './types.js'
import {PythonRandom} from './python-random.js'

/**
 * Calibration windows as the Wanda/SparseGPT/DSnoT code draws them (§1.2): seeded Python
 * `random`; for each sample, documents drawn with randint until one tokenizes (alone, with
 * its special tokens) to more than seqlen tokens, then a window at randint(0, n − seqlen − 1).
 * Pre-tokenized rows are used in order, cut to seqlen.
 */
export async function calibrationSamples(model: Model, data: Dataset, nsamples: number, seqlen: number, seed: number): Promise<number[][]> {
  if (data.kind === 'tokens') {
    if (data.rows.length < nsamples) throw usage(`${data.name} has ${data.rows.length} rows, fewer than --nsamples ${nsamples}`, 'pass a smaller --nsamples or more rows')
    const rows = data.rows.slice(0, nsamples)
    const short = rows.findIndex((r) => r.length < seqlen)
    if (short >= 0) throw usage(`row ${short} of ${data.name} has ${rows[short].length} tokens, fewer than --seqlen ${seqlen}`, 'pass a smaller --seqlen')
    const samples = rows.map((r) => r.slice(0, seqlen))
    const bad = samples.flat().find((t) => t >= model.cfg.vocabSize)
    if (bad !== undefined) throw invalidFormat(`token id ${bad} in ${data.name} is outside the model's vocabulary of ${model.cfg.vocabSize}`, 'the data was tokenized for another model')
    return samples
  }
  const docs = data.documents
  if (docs.length === 0) throw invalidFormat(`dataset ${data.name} is empty`, 'give a file with some text in it')
  const tok = TextTokenizer.load(model.dir)
  const cache = new Map<number, number[]>()
  const encode = async (i: number) => {
    let ids = cache.get(i)
    if (!ids) { ids = await tok.encode(docs[i]); cache.set(i, ids) }
    return ids
  }
  // The reference loops forever when no document is long enough (wanda#82); we give up after
  // checking every document once, plus as many draws again.
  let longest = 0
  const rng = new PythonRandom(seed)
  const samples: number[][] = []
  for (let s = 0; s < nsamples; s++) {
    let ids: number[] | undefined
    for (let tries = 0; tries < 2 * docs.length + 100; tries++) {
      const cand = await encode(rng.randint(0, docs.length - 1))
      longest = Math.max(longest, cand.length)
      if (cand.length > seqlen) { ids = cand; break }
    }
    if (!ids) throw usage(`no document of ${data.name} is longer than --seqlen ${seqlen} tokens (longest seen: ${longest})`, 'pass a smaller --seqlen or longer documents')
    const start = rng.randint(0, ids.length - seqlen - 1)
    samples.push(ids.slice(start, start + seqlen))
  }
  return samples
}
