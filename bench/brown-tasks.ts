// Harness-shaped documents for the seven tasks, made from brown:test (the hub's task datasets cannot be
// reached here): cloze-style questions a model trained on brown:train can answer above chance.
import {brownDocuments} from '../src/data/brown.js'
import {seededRandom} from '../src/util/random.js'

type Doc = Record<string, unknown>

/** Sentences of brown:test with 10 to 40 words, and the paragraphs they come from. */
function corpus() {
  const paragraphs = brownDocuments('test').flatMap((d) => d.split('\n')).filter((p) => p.split(' ').length >= 12)
  const sentences = paragraphs.flatMap((p) => p.split(/(?<=[.!?])\s+/)).map((s) => s.trim()).filter((s) => {
    const n = s.split(' ').length
    return n >= 10 && n <= 40
  })
  return {paragraphs, sentences}
}

/** `n` documents of each task, in the field layout of its hub dataset. */
export function brownTaskDocs(n: number, seed = 1): Record<string, Doc[]> {
  const rand = seededRandom(seed)
  const {paragraphs, sentences} = corpus()
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]
  const words = (s: string) => s.split(' ')
  const tail = (s: string, k: number) => words(s).slice(-k).join(' ')
  const head = (s: string, k: number) => words(s).slice(0, -k).join(' ')
  /** The true item among `k − 1` others, at a random place: [choices, gold]. */
  const shuffleIn = (truth: string, others: () => string, k: number): [string[], number] => {
    const gold = Math.floor(rand() * k)
    return [Array.from({length: k}, (_, i) => (i === gold ? truth : others())), gold]
  }
  // Paragraphs with four or more sentences of six words or more: ARC-Challenge's distractors come from the same one.
  const rich = paragraphs.map((p) => p.split(/(?<=[.!?])\s+/).filter((x) => words(x).length >= 6)).filter((own) => own.length >= 4)
  const unquote = (s: string) => s.replace(/[.!?]$/, '').toLowerCase()
  const gen = (make: (i: number) => Doc) => Array.from({length: n}, (_, i) => make(i))
  return {
    boolq: gen((i) => {
      const p = pick(paragraphs), own = p.split(/(?<=[.!?])\s+/), yes = rand() < 0.5
      return {question: unquote(yes ? pick(own) : pick(sentences)), passage: p, idx: i, label: yes ? 1 : 0}
    }),
    rte: gen((i) => {
      const s = pick(sentences), entail = rand() < 0.5, other = pick(sentences)
      return {sentence1: s, sentence2: `${head(entail ? s : other, Math.floor(words(entail ? s : other).length / 2))}.`, label: entail ? 0 : 1, idx: i}
    }),
    hellaswag: gen((i) => {
      const s = pick(sentences), half = Math.floor(words(s).length / 2)
      const [endings, gold] = shuffleIn(tail(s, words(s).length - half), () => { const o = pick(sentences); return tail(o, words(o).length - Math.floor(words(o).length / 2)) }, 4)
      return {ind: i, activity_label: 'Reading', ctx_a: words(s).slice(0, half).join(' '), ctx_b: '', ctx: words(s).slice(0, half).join(' '),
        endings, source_id: 'brown:test', split: 'val', split_type: 'indomain', label: String(gold)}
    }),
    winogrande: gen(() => {
      for (;;) {
        const s = pick(sentences), w = words(s)
        const at = w.findIndex((x, j) => j > 2 && j < w.length - 3 && /^[a-z]{4,}$/.test(x) && rand() < 0.3)
        if (at < 0) continue
        const other = pick(words(pick(sentences)).filter((x) => /^[a-z]{4,}$/.test(x) && x !== w[at]).concat(['thing']))
        const first = rand() < 0.5
        return {sentence: [...w.slice(0, at), '_', ...w.slice(at + 1)].join(' '), option1: first ? w[at] : other, option2: first ? other : w[at], answer: first ? '1' : '2'}
      }
    }),
    // ARC-Easy: the last three words against other sentences' last three; ARC-Challenge: against the same
    // document's sentences', with the numeric labels some ARC documents have.
    arc_easy: gen((i) => {
      const s = pick(sentences), [text, gold] = shuffleIn(tail(s, 3), () => tail(pick(sentences), 3), 4)
      return {id: `e${i}`, question: head(s, 3), choices: {text, label: ['A', 'B', 'C', 'D']}, answerKey: 'ABCD'[gold]}
    }),
    arc_challenge: gen((i) => {
      const own = pick(rich), s = pick(own), [text, gold] = shuffleIn(tail(s, 4), () => tail(pick(own.filter((x) => x !== s)), 4), 4)
      return {id: `c${i}`, question: head(s, 4), choices: {text, label: ['1', '2', '3', '4']}, answerKey: String(gold + 1)}
    }),
    openbookqa: gen((i) => {
      const s = pick(sentences), k = Math.ceil(words(s).length / 3), [text, gold] = shuffleIn(tail(s, k), () => tail(pick(sentences), k), 4)
      return {id: `o${i}`, question_stem: head(s, k), choices: {text, label: ['A', 'B', 'C', 'D']}, answerKey: 'ABCD'[gold]}
    }),
  }
}
