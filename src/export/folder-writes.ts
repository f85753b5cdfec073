import {copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {INDEX_FILE, type Checkpoint} from '../model/safetensors/checkpoint.js'
import {writeSafetensors} from '../model/safetensors/writer.js'
import {usage} from '../util/errors.js'
import type {Encoded} from './compressed-tensors.js'

// How every exporter writes a folder: through a work folder renamed into place, shard by shard.

/** Builds `out` through a work folder beside it, renamed into place when complete. */
export function intoFolder(out: string, overwrite: boolean, build: (work: string) => void): void {
  const target = path.resolve(out)
  if (existsSync(target) && readdirSync(target).length > 0 && !overwrite) throw usage(`--out ${out} exists and is not empty`, 'choose another folder, or pass --overwrite')
  const work = path.join(path.dirname(target), `.${path.basename(target)}.sparsify-export`)
  rmSync(work, {recursive: true, force: true})
  mkdirSync(work, {recursive: true})
  try {
    build(work)
    rmSync(target, {recursive: true, force: true})
    renameSync(work, target)
  } catch (err) {
    rmSync(work, {recursive: true, force: true})
    throw err
  }
}

/** Rewrites each shard with `transform`, keeping shard names, and the index's weight_map to match. */
export function rewriteShards(ck: Checkpoint, work: string, transform: (file: string) => Encoded[]): void {
  const weightMap: Record<string, string> = {}
  for (const f of ck.files) {
    const name = path.basename(f.path)
    const tensors = transform(f.path)
    writeSafetensors(path.join(work, name), tensors, {...f.metadata, format: 'pt'})
    for (const t of tensors) weightMap[t.name] = name
  }
  const index = path.join(ck.dir, INDEX_FILE)
  if (existsSync(index)) {
    const idx = JSON.parse(readFileSync(index, 'utf8'))
    writeFileSync(path.join(work, INDEX_FILE), `${JSON.stringify({...idx, weight_map: weightMap}, null, 2)}\n`)
  }
}

/** A prune run's report files, carried into its packed output. */
export function copyReportFiles(from: string, to: string): void {
  for (const f of ['sparsify.json', 'sparsify-report.json', 'REPORT.md', 'README.md', 'sparsify-chart.svg']) {
    if (existsSync(path.join(from, f))) copyFileSync(path.join(from, f), path.join(to, f))
  }
}
