import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {invalidFormat, notFound} from '../../util/errors.js'
import {SafetensorsFile} from './reader.js'
import type {TensorEntry} from './header.js'

export const INDEX_FILE = 'model.safetensors.index.json'
export const SINGLE_FILE = 'model.safetensors'

/** A model folder's weights: one safetensors file or shards named by model.safetensors.index.json. */
export class Checkpoint {
  private constructor(readonly dir: string, readonly files: SafetensorsFile[], private readonly owner: Map<string, SafetensorsFile>) {}

  static open(dir: string): Checkpoint {
    const index = path.join(dir, INDEX_FILE)
    let shardNames: string[]
    if (existsSync(index)) {
      let weightMap: Record<string, string>
      try {
        weightMap = JSON.parse(readFileSync(index, 'utf8')).weight_map
        if (typeof weightMap !== 'object' || weightMap === null) throw new Error()
      } catch {
        throw invalidFormat(`${index} is not a valid safetensors index (no weight_map)`, 'download or export the checkpoint again')
      }
      shardNames = [...new Set(Object.values(weightMap))]
    } else if (existsSync(path.join(dir, SINGLE_FILE))) {
      shardNames = [SINGLE_FILE]
    } else {
      throw notFound(`${dir} has no ${SINGLE_FILE} or ${INDEX_FILE}`, 'pass the folder of a Hugging Face checkpoint in safetensors format')
    }
    const files: SafetensorsFile[] = []
    const owner = new Map<string, SafetensorsFile>()
    try {
      for (const shard of shardNames) {
        const f = SafetensorsFile.open(path.join(dir, shard))
        files.push(f)
        for (const name of f.tensors.keys()) owner.set(name, f)
      }
    } catch (err) {
      for (const f of files) f.close()
      throw err
    }
    return new Checkpoint(dir, files, owner)
  }

  has(name: string): boolean { return this.owner.has(name) }
  names(): string[] { return [...this.owner.keys()] }

  entry(name: string): TensorEntry {
    return this.file(name).entry(name)
  }

  file(name: string): SafetensorsFile {
    const f = this.owner.get(name)
    if (!f) throw invalidFormat(`checkpoint ${this.dir} has no tensor ${name}`, 'the checkpoint is incomplete or of another architecture')
    return f
  }

  readF32(name: string): Float32Array { return this.file(name).readF32(name) }
  readF32Into(name: string, out: Float32Array): Float32Array { return this.file(name).readF32Into(name, out) }

  close(): void { for (const f of this.files) f.close() }
}
