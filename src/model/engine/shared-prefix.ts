import {kernels as defaultKernels, type Backend} from '../../kernels/index.js'
import {ropeTables, type RopeTables} from '../rope-tables.js'
import type {BlockWeights} from '../weights.js'
import type {WeightSource} from './backward.js'
import {BlockScratch, runBlock} from './block.js'
import {embed, headTiles} from './forward.js'

/** A context and the continuations scored after it: ll = Σ log p(cont[j] | prefix, cont[<j]). */
export interface PrefixGroup {
  prefix: readonly number[]
  conts: readonly (readonly number[])[]
}

export interface SharedPrefixOptions {
  kernels?: Backend
  /** Tokens per pass through the blocks: groups are packed up to this many rows (one group alone may exceed it). */
  tokensPerPass?: number
  /** After each pass: how many groups are done. */
  onGroups?: (done: number, total: number) => void
}

/** Where one group's rows sit in a pass: the prefix, then each continuation's tokens but its last (the last predicts nothing). */
interface Layout {
  start: number
  prefix: number
  conts: {start: number; rows: number; tokens: readonly number[]}[]
}

/**
 * Loglikelihoods of continuations, each context computed once: a pass packs several groups' rows
 * into one sequence of hidden states, so every linear layer is one product over all of them,
 * while attention keeps them apart (a prefix attends to itself; each continuation to its prefix
 * and to its own earlier tokens) and every row gets its own rotary position. The result per
 * group is one loglikelihood per continuation, in order.
 */
export function sharedPrefixLoglikelihoods(model: WeightSource, groups: readonly PrefixGroup[], opts: SharedPrefixOptions = {}): number[][] {
  const k = opts.kernels ?? defaultKernels()
  const budget = opts.tokensPerPass ?? 2048
  const rowsOf = (g: PrefixGroup) => g.prefix.length + g.conts.reduce((a, c) => a + c.length - 1, 0)
  for (const g of groups) {
    if (g.prefix.length === 0) throw new RangeError('a prefix needs at least one token')
    if (g.conts.some((c) => c.length === 0)) throw new RangeError('an empty continuation has no loglikelihood')
  }
  const longest = groups.reduce((a, g) => Math.max(a, g.prefix.length + Math.max(...g.conts.map((c) => c.length)) - 1), 1)
  const base = ropeTables(model.cfg, longest)
  const out: number[][] = []
  for (let first = 0; first < groups.length;) {
    let last = first + 1, rows = rowsOf(groups[first])
    while (last < groups.length && rows + rowsOf(groups[last]) <= budget) rows += rowsOf(groups[last++])
    out.push(...pass(model, k, groups.slice(first, last), rows, base))
    first = last
    opts.onGroups?.(first, groups.length)
  }
  return out
}

function layout(groups: readonly PrefixGroup[]): Layout[] {
  let at = 0
  return groups.map((g) => {
    const l: Layout = {start: at, prefix: g.prefix.length, conts: []}
    at += g.prefix.length
    for (const c of g.conts) {
      l.conts.push({start: at, rows: c.length - 1, tokens: c})
      at += c.length - 1
    }
    return l
  })
}

function pass(model: WeightSource, k: Backend, groups: readonly PrefixGroup[], rows: number, base: RopeTables): number[][] {
  const {cfg} = model, H = cfg.hidden, half = cfg.headDim / 2
  const lay = layout(groups)
  const ids = new Int32Array(rows)
  // Every row's rotary angles gathered from its position: row r of the table is row r of the pass.
  const rope: RopeTables = {cos: new Float32Array(rows * half), sin: new Float32Array(rows * half), seq: rows}
  const place = (row: number, token: number, position: number) => {
    ids[row] = token
    rope.cos.set(base.cos.subarray(position * half, (position + 1) * half), row * half)
    rope.sin.set(base.sin.subarray(position * half, (position + 1) * half), row * half)
  }
  groups.forEach((g, i) => {
    g.prefix.forEach((t, j) => place(lay[i].start + j, t, j))
    lay[i].conts.forEach((c) => { for (let j = 0; j < c.rows; j++) place(c.start + j, c.tokens[j], g.prefix.length + j) })
  })
  const x = new Float32Array(rows * H)
  embed(model, ids, x)
  const scratch = new BlockScratch(cfg, rows)
  const attend = attendWithin(k, cfg, lay)
  let w: BlockWeights | undefined
  for (let l = 0; l < cfg.layers; l++) {
    w = model.block(l, w)
    runBlock(k, cfg, w, x, 1, rows, rope, scratch, undefined, attend)
  }
  return score(model, k, x, lay)
}

/** Attention that keeps groups apart: each prefix is causal on its own rows, each continuation sees its prefix and itself. */
function attendWithin(k: Backend, cfg: WeightSource['cfg'], lay: Layout[]) {
  const hd = cfg.headDim, qw = cfg.heads * hd, kvw = cfg.kvHeads * hd, scale = 1 / Math.sqrt(hd)
  return (ctx: Float32Array, q: Float32Array, kk: Float32Array, v: Float32Array) => {
    for (const g of lay) {
      const p0 = g.start, P = g.prefix
      k.attention(ctx.subarray(p0 * qw, (p0 + P) * qw), q.subarray(p0 * qw, (p0 + P) * qw),
        kk.subarray(p0 * kvw, (p0 + P) * kvw), v.subarray(p0 * kvw, (p0 + P) * kvw), 1, P, cfg.heads, cfg.kvHeads, hd, scale)
      for (const c of g.conts) {
        if (c.rows === 0) continue
        const end = c.start + c.rows
        let kc: Float32Array, vc: Float32Array
        if (c.start === p0 + P) {
          // The first continuation follows its prefix: keys and values are already contiguous.
          kc = kk.subarray(p0 * kvw, end * kvw)
          vc = v.subarray(p0 * kvw, end * kvw)
        } else {
          kc = new Float32Array((P + c.rows) * kvw)
          vc = new Float32Array((P + c.rows) * kvw)
          kc.set(kk.subarray(p0 * kvw, (p0 + P) * kvw))
          kc.set(kk.subarray(c.start * kvw, end * kvw), P * kvw)
          vc.set(v.subarray(p0 * kvw, (p0 + P) * kvw))
          vc.set(v.subarray(c.start * kvw, end * kvw), P * kvw)
        }
        k.attentionCached(ctx.subarray(c.start * qw, end * qw), q.subarray(c.start * qw, end * qw), kc, vc, c.rows, P, cfg.heads, cfg.kvHeads, hd, scale)
      }
    }
  }
}

/** The rows that predict continuation tokens (the prefix's last, then each continuation's own) through the head. */
function score(model: WeightSource, k: Backend, x: Float32Array, lay: Layout[]): number[][] {
  const {hidden: H, vocabSize: V} = model.cfg
  const src: number[] = [], targets: number[] = [], owner: [number, number][] = []
  lay.forEach((g, i) => g.conts.forEach((c, j) => {
    for (let t = 0; t < c.tokens.length; t++) {
      src.push(t === 0 ? g.start + g.prefix - 1 : c.start + t - 1)
      targets.push(c.tokens[t])
      owner.push([i, j])
    }
  }))
  const rows = new Float32Array(src.length * H)
  src.forEach((r, i) => rows.set(x.subarray(r * H, (r + 1) * H), i * H))
  const out = lay.map((g) => g.conts.map(() => 0))
  headTiles(model, k, rows, src.length, (logits, r0, m) => {
    const nll = new Float32Array(m)
    k.nllRows(nll, logits.subarray(0, m * V), Int32Array.from(targets.slice(r0, r0 + m)), m, V)
    for (let r = 0; r < m; r++) {
      const [i, j] = owner[r0 + r]
      out[i][j] -= nll[r]
    }
  })
  return out
}
