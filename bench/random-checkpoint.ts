// Random checkpoints of any family in the architecture table, at real models' shapes, for the bench.
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {parseConfig, type ModelConfig} from '../src/model/config.js'
import {blockTensors, globalNames, normName, routerName} from '../src/model/arch/layout.js'
import type {NormSlot} from '../src/model/arch/families.js'
import {encodeFloats, SafetensorsWriter} from '../src/model/safetensors/writer.js'
import {seededRandom} from '../src/util/random.js'

/** Bumped when the values written for a config change, so cached folders are not reused. */
const GENERATOR = 1
const CHUNK = 1 << 22

interface Planned {name: string; shape: number[]; norm: boolean}

/** Every tensor the engine reads from a checkpoint of `cfg`, in a streaming writer's order (no biases: the bench families have none). */
function plannedTensors(cfg: ModelConfig): Planned[] {
  const g = globalNames(cfg), H = cfg.hidden
  const out: Planned[] = [{name: g.embed, shape: [cfg.vocabSize, H], norm: false}]
  for (let l = 0; l < cfg.layers; l++) {
    for (const slot of Object.keys(cfg.family.norms) as NormSlot[]) {
      out.push({name: `${normName(cfg, l, slot)}.weight`, shape: [slot === 'q' || slot === 'k' ? cfg.headDim : H], norm: true})
    }
    if (cfg.moe?.sparse[l]) out.push({name: `${routerName(cfg, l)}.weight`, shape: [cfg.moe.experts, H], norm: false})
    for (const t of blockTensors(cfg, l)) out.push({name: `${t.name}.weight`, shape: [t.rows, t.cols], norm: false})
  }
  out.push({name: `${g.finalNorm}.weight`, shape: [H], norm: true})
  if (!cfg.tieEmbeddings) out.push({name: g.head, shape: [cfg.vocabSize, H], norm: false})
  return out
}

/**
 * Uniform values of standard deviation `std` (two per generator step: the bench needs the shapes, not
 * normal weights), encoded a chunk at a time.
 */
function* randomChunks(n: number, rand: () => number, std: number, dtype: 'BF16' | 'F32'): Generator<Uint8Array> {
  const a = std * Math.sqrt(3) / 32768, buf = new Float32Array(CHUNK)
  for (let done = 0; done < n; done += CHUNK) {
    const m = Math.min(CHUNK, n - done)
    for (let i = 0; i < m; i += 2) {
      const u = rand() * 4294967296
      buf[i] = ((u & 0xffff) - 32768) * a
      buf[i + 1] = ((u >>> 16) - 32768) * a
    }
    yield encodeFloats(buf.subarray(0, m), dtype)
  }
}

/**
 * The folder of a seeded random checkpoint for `config` (weights of std 0.02; norms the identity), written
 * tensor by tensor under the system's temp folder on first use and kept there for later runs.
 */
export function randomCheckpoint(label: string, config: Record<string, unknown>, seed: number, dtype: 'BF16' | 'F32' = 'BF16'): string {
  const key = createHash('sha256').update(JSON.stringify({config, seed, dtype, GENERATOR})).digest('hex').slice(0, 12)
  const dir = path.join(tmpdir(), 'sparsify-bench-models', `${label}-${key}`)
  if (existsSync(dir)) return dir
  const partial = `${dir}.partial-${process.pid}`
  mkdirSync(partial, {recursive: true})
  try {
    writeFileSync(path.join(partial, 'config.json'), `${JSON.stringify(config, null, 2)}\n`)
    const cfg = parseConfig(config)
    const tensors = plannedTensors(cfg)
    const w = SafetensorsWriter.create(path.join(partial, 'model.safetensors'), tensors.map((t) => ({name: t.name, dtype, shape: t.shape})), {format: 'pt'})
    const rand = seededRandom(seed)
    const identity = cfg.family.norm === 'rms1p' ? 0 : 1
    for (const t of tensors) {
      const n = t.shape.reduce((x, y) => x * y, 1)
      w.writeChunks(t.name, t.norm ? [encodeFloats(new Float32Array(n).fill(identity), dtype)] : randomChunks(n, rand, 0.02, dtype))
    }
    w.close()
    renameSync(partial, dir)
  } catch (err) {
    rmSync(partial, {recursive: true, force: true})
    throw err
  }
  return dir
}
