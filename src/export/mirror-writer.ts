import {copyFileSync, existsSync} from 'node:fs'
import path from 'node:path'

import {INDEX_FILE, type Checkpoint} from '../model/safetensors/checkpoint.js'
import {isFloatDtype} from '../model/safetensors/dtypes.js'
import type {TensorEntry} from '../model/safetensors/header.js'
import {encodeFloats, SafetensorsWriter} from '../model/safetensors/writer.js'

/** Which decoder block a tensor belongs to (embeddings −1), or null: written after the blocks (head, final norm, other towers). */
export type BlockOf = (name: string) => number | null

const AFTER_BLOCKS = 2 ** 30

interface Shard {
  writer: SafetensorsWriter
  pending: TensorEntry[]   // in write order
}

/**
 * Writes a checkpoint with the input's shards, tensor names, dtypes and shapes, streaming:
 * each shard's tensors are laid out in block order, so that block b can be written as soon
 * as it is pruned. Tensors not replaced are copied byte for byte.
 */
export class MirrorWriter {
  private readonly shards: Shard[] = []
  private readonly blockOf: (name: string) => number

  /** With `doneThrough` (a block index), continues files already written through that block. */
  constructor(private readonly src: Checkpoint, readonly outDir: string, metadata: Record<string, string>, doneThrough: number | undefined, blockOf: BlockOf) {
    this.blockOf = (name) => blockOf(name) ?? AFTER_BLOCKS
    for (const file of src.files) {
      const entries = [...file.tensors.values()].sort((a, b) => this.blockOf(a.name) - this.blockOf(b.name) || (a.name < b.name ? -1 : 1))
      const target = path.join(outDir, path.basename(file.path))
      const meta = {...file.metadata, ...metadata}
      if (doneThrough === undefined) {
        this.shards.push({writer: SafetensorsWriter.create(target, entries, meta), pending: entries})
      } else {
        const written = entries.filter((e) => this.blockOf(e.name) <= doneThrough).length
        this.shards.push({writer: SafetensorsWriter.resume(target, entries, meta, written), pending: entries.slice(written)})
      }
    }
    const index = path.join(src.dir, INDEX_FILE)
    if (existsSync(index)) copyFileSync(index, path.join(outDir, INDEX_FILE))
  }

  /** Writes every tensor up to and including block `layer`, taking float32 replacements from `replaced`. */
  writeThrough(layer: number, replaced: Map<string, Float32Array> = new Map()): void {
    for (const shard of this.shards) {
      while (shard.pending.length > 0 && this.blockOf(shard.pending[0].name) <= layer) {
        const t = shard.pending.shift()!
        const values = replaced.get(t.name)
        if (values && isFloatDtype(t.dtype)) shard.writer.write(t.name, encodeFloats(values, t.dtype))
        else shard.writer.write(t.name, this.src.file(t.name).readBytes(t.name))
      }
    }
  }

  finish(): void {
    this.writeThrough(AFTER_BLOCKS)
    for (const s of this.shards) s.writer.close()
  }

  /** Makes what was written so far durable: the point a resumed run continues from. */
  sync(): void {
    for (const s of this.shards) s.writer.sync()
  }

  /** Leaves the files as they are (an interrupted or failed job). */
  abandon(): void {
    for (const s of this.shards) s.writer.abandon()
  }
}
