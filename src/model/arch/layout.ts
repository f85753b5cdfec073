import type {ModelConfig} from '../config.js'
import type {NormSlot, Role, TensorSpec} from './families.js'

/**
 * A block's weight tensors by name and shape, from the config and its family: what loading, pruning,
 * export and inspect walk over. One stored tensor is one matrix to prune, fused or not.
 */
export interface TensorInfo {
  /** The full name without `.weight`. */
  name: string
  rows: number
  cols: number
  /** The activation that feeds it (InputName): tensors with the same input share its statistics. */
  input: InputName
  roles: readonly Role[]
  /** The expert it belongs to, or null outside a mixture of experts. */
  expert: number | null
}

/** attn_in (q, k, v), attn_out (o), mlp_in (gate, up), mlp_out (down); an expert's are `experts.<e>.mlp_in` / `.mlp_out`. */
export type InputName = string

/** The config with the prefix the checkpoint uses: the family's, or one of its alternatives (OPT's `decoder.` without `model.`). */
export function withCheckpointPrefix(cfg: ModelConfig, has: (name: string) => boolean): ModelConfig {
  const prefix = [cfg.family.prefix, ...cfg.family.altPrefixes ?? []].find((p) => has(globalNames({...cfg, prefix: p}).embed)) ?? cfg.prefix
  return {...cfg, prefix}
}

export const layerPrefix = (cfg: ModelConfig, layer: number) => `${cfg.prefix}${cfg.family.layers}.${layer}.`

/** The names of the tensors outside the blocks. */
export const globalNames = (cfg: ModelConfig) => ({
  embed: `${cfg.prefix}${cfg.family.embed}.weight`,
  positions: cfg.family.positions ? `${cfg.prefix}${cfg.family.positions.name}.weight` : null,
  finalNorm: `${cfg.prefix}${cfg.family.finalNorm}`,
  head: `${cfg.family.head}.weight`,
  /** project_in (hidden, embedDim) and project_out (embedDim, hidden) where the widths differ, else null. */
  projectIn: projected(cfg) ? `${cfg.prefix}${cfg.family.projections!.in}.weight` : null,
  projectOut: projected(cfg) ? `${cfg.prefix}${cfg.family.projections!.out}.weight` : null,
})

const projected = (cfg: ModelConfig) => cfg.family.projections !== undefined && cfg.embedDim !== cfg.hidden

export const normName = (cfg: ModelConfig, layer: number, slot: NormSlot) => `${layerPrefix(cfg, layer)}${cfg.family.norms[slot]}`
export const routerName = (cfg: ModelConfig, layer: number) => `${layerPrefix(cfg, layer)}${cfg.family.moe!.router}`

/** (rows, cols) of one role; `width` is the MLP's intermediate size (an expert's own). */
export function roleShape(cfg: ModelConfig, role: Role, width = cfg.intermediate): [number, number] {
  const q = cfg.heads * cfg.headDim, kv = cfg.kvHeads * cfg.headDim
  switch (role) {
    case 'q': return [q, cfg.hidden]
    case 'k': case 'v': return [kv, cfg.hidden]
    case 'o': return [cfg.hidden, q]
    case 'gate': case 'up': return [width, cfg.hidden]
    case 'down': return [cfg.hidden, width]
  }
}

const INPUT: Record<Role, string> = {q: 'attn_in', k: 'attn_in', v: 'attn_in', o: 'attn_out', gate: 'mlp_in', up: 'mlp_in', down: 'mlp_out'}
export const expertInput = (e: number, input: string) => `experts.${e}.${input}`

function info(cfg: ModelConfig, prefix: string, spec: TensorSpec, width: number, expert: number | null): TensorInfo {
  const shapes = spec.roles.map((r) => roleShape(cfg, r, width))
  const input = INPUT[spec.roles[0]]
  return {name: `${prefix}${spec.name}`, rows: shapes.reduce((a, s) => a + s[0], 0), cols: shapes[0][1], roles: spec.roles,
    input: expert === null ? input : expertInput(expert, input), expert}
}

/** The tensors of block `layer` that pruning visits, in the reference pruners' order. */
export function blockTensors(cfg: ModelConfig, layer: number): TensorInfo[] {
  const p = layerPrefix(cfg, layer), f = cfg.family
  const out = f.attention.map((s) => info(cfg, p, s, cfg.intermediate, null))
  if (cfg.moe?.sparse[layer]) {
    const {experts, width} = cfg.moe
    for (let e = 0; e < experts; e++) out.push(...f.moe!.expert.map((s) => info(cfg, `${p}${f.moe!.experts}${e}.`, s, width, e)))
  } else {
    // Qwen3-MoE's dense layers are gated MLPs under the llama names.
    out.push(...(f.mlp.length ? f.mlp : MOE_DENSE).map((s) => info(cfg, p, s, cfg.intermediate, null)))
  }
  return out
}

const MOE_DENSE: readonly TensorSpec[] = [{name: 'mlp.gate_proj', roles: ['gate']}, {name: 'mlp.up_proj', roles: ['up']}, {name: 'mlp.down_proj', roles: ['down']}]

/** Every block tensor by full name (without `.weight`). */
export function tensorsByName(cfg: ModelConfig): Map<string, TensorInfo> {
  const all = new Map<string, TensorInfo>()
  for (let l = 0; l < cfg.layers; l++) for (const t of blockTensors(cfg, l)) all.set(t.name, t)
  return all
}

/** The block a tensor name belongs to, or null (embeddings, head, final norm, other towers). */
export function layerOf(cfg: ModelConfig, name: string): number | null {
  const start = `${cfg.prefix}${cfg.family.layers}.`
  if (!name.startsWith(start)) return null
  const n = Number.parseInt(name.slice(start.length), 10)
  return Number.isInteger(n) ? n : null
}

/** The order a streamed writer lays tensors out in: the embeddings (−1), then each block's, then (null) the rest. */
export function writeOrder(cfg: ModelConfig): (name: string) => number | null {
  const g = globalNames(cfg)
  return (name) => layerOf(cfg, name) ?? (name === g.embed || name === g.positions || name === g.projectIn ? -1 : null)
}
