import {usage} from '../../util/errors.js'
import type {PrefixGroup} from '../../model/engine/shared-prefix.js'
import type {Request} from './definitions.js'
import {pyRstrip} from './text.js'

export interface PairEncoder {
  /** Ids without special tokens. */
  encode(text: string): Promise<number[]>
}

export interface EncodeOptions {
  /** Put before every context (--add-bos): the harness's add_special_tokens=True on a BOS-adding tokenizer. */
  bos: number | null
  /** Stands in for an empty context: the harness's EOS (its prefix token once BOS is added: then BOS). */
  emptyContext: number
  /** The model's window: longer inputs lose tokens from the left, as the harness cuts them. */
  window: number
}

/**
 * The harness's context/continuation split: trailing whitespace of the context moves to the
 * front of the continuation; the continuation's tokens are those of encode(context + continuation)
 * past encode(context)'s length, so merges across the boundary are honoured.
 */
export async function encodePair(tok: PairEncoder, req: Request, o: EncodeOptions): Promise<{ctx: number[]; cont: number[]}> {
  let {context, continuation} = req
  let ctx: number[], cont: number[]
  if (context === '') {
    ctx = [o.bos ?? o.emptyContext]
    cont = await tok.encode(continuation)
  } else {
    const kept = pyRstrip(context)
    continuation = context.slice(kept.length) + continuation
    context = kept
    const whole = await tok.encode(context + continuation)
    ctx = await tok.encode(context)
    cont = whole.slice(ctx.length)
    if (o.bos !== null) ctx.unshift(o.bos)
  }
  if (cont.length === 0) throw usage(`the continuation ${JSON.stringify(req.continuation)} has no tokens of its own`, 'check the dataset row')
  if (cont.length > o.window) throw usage(`a continuation of ${cont.length} tokens does not fit the model's window of ${o.window}`)
  // The harness feeds (ctx + cont)[-(window + 1):][:-1]: what is cut comes off the context.
  const cut = Math.max(0, ctx.length + cont.length - (o.window + 1))
  return {ctx: ctx.slice(cut), cont}
}

/** A document's requests as shared-prefix groups: equal contexts share one group, an identical (context, continuation) is scored once. */
export function groupRequests(pairs: readonly {ctx: number[]; cont: number[]}[]): {groups: PrefixGroup[]; at: [number, number][]} {
  const groups: {prefix: number[]; conts: number[][]; keys: Map<string, number>}[] = []
  const byPrefix = new Map<string, number>()
  const at = pairs.map(({ctx, cont}): [number, number] => {
    const pk = ctx.join(',')
    let g = byPrefix.get(pk)
    if (g === undefined) {
      g = groups.push({prefix: ctx, conts: [], keys: new Map()}) - 1
      byPrefix.set(pk, g)
    }
    const group = groups[g], ck = cont.join(',')
    let c = group.keys.get(ck)
    if (c === undefined) {
      c = group.conts.push(cont) - 1
      group.keys.set(ck, c)
    }
    return [g, c]
  })
  return {groups: groups.map(({prefix, conts}) => ({prefix, conts})), at}
}
