import {createWriteStream, existsSync, mkdirSync, renameSync, statSync} from 'node:fs'
import path from 'node:path'
import {datasetInfo, modelInfo} from '@huggingface/hub'

import {EXIT, SparsifyError, notFound} from '../util/errors.js'
import {numel} from '../model/safetensors/dtypes.js'
import {parseHeader} from '../model/safetensors/header.js'
import type {Logger} from '../util/log.js'
import {CachedRepo, type RepoType} from './cache.js'
import {hubEndpoint, hubOffline, hubToken} from './env.js'
import {fileInfo, hubHeaders, type FileInfo} from './file-info.js'

export interface RepoRef {
  type: RepoType
  id: string
  revision: string
}

/** "org/name" or "org/name@revision". */
export function parseRepo(spec: string, type: RepoType): RepoRef | null {
  const m = /^([\w.-]+\/[\w.-]+)(?:@([\w./-]+))?$/.exec(spec)
  return m ? {type, id: m[1], revision: m[2] ?? 'main'} : null
}

/** Hub errors as the user can act on them: 401/403 → set HF_TOKEN, 404 → no such repo, network → offline mode. */
function hubError(err: unknown, ref: RepoRef, what: string): SparsifyError {
  const status = (err as {statusCode?: number}).statusCode
  const name = `${ref.type === 'dataset' ? 'dataset ' : ''}${ref.id}@${ref.revision}`
  if (status === 401 || status === 403) {
    return notFound(`${name} is gated or private (HTTP ${status}) on ${hubEndpoint()}`, 'set HF_TOKEN to a token that has access to it (and accept its terms on the hub)')
  }
  if (status === 404) return notFound(`${what}: ${name} was not found on ${hubEndpoint()} (HTTP 404)`, 'check the repository name and revision')
  return new SparsifyError(`cannot reach ${hubEndpoint()} for ${name}: ${(err as Error).message.split('\n')[0]}`, EXIT.runtime,
    'check the network, or set HF_HUB_OFFLINE=1 to use only the local cache')
}

async function resolve(ref: RepoRef): Promise<{commit: string; files: string[]}> {
  const params = {name: ref.id, revision: ref.revision, hubUrl: hubEndpoint(), accessToken: hubToken()}
  let info: {sha?: string; siblings?: {rfilename: string}[]}
  try {
    info = ref.type === 'model'
      ? await modelInfo({...params, additionalFields: ['sha', 'siblings'] as never[]}) as never
      : await datasetInfo({...params, additionalFields: ['sha', 'siblings'] as never[]}) as never
  } catch (err) {
    throw hubError(err, ref, 'repository')
  }
  if (!info.sha) throw new SparsifyError(`${hubEndpoint()} gave no commit for ${ref.id}@${ref.revision}`, EXIT.runtime)
  return {commit: info.sha, files: (info.siblings ?? []).map((s) => s.rfilename)}
}

/** Streams one file into blobs/<etag>.incomplete, resuming from what is there, then renames it complete. */
async function fetchBlob(url: string, dest: string, size: number, onBytes: (n: number) => void): Promise<void> {
  const partial = `${dest}.incomplete`
  mkdirSync(path.dirname(dest), {recursive: true})
  for (let attempt = 1; ; attempt++) {
    const have = existsSync(partial) ? statSync(partial).size : 0
    if (have > size) renameSync(partial, `${partial}.bad`)
    const from = have > size ? 0 : have
    try {
      if (from < size) {
        const headers = hubHeaders(url, from > 0 ? {Range: `bytes=${from}-`} : {})
        const res = await fetch(url, {headers, redirect: 'follow'})
        if (!res.ok || !res.body) throw Object.assign(new Error(`HTTP ${res.status}`), {statusCode: res.status})
        const append = from > 0 && res.status === 206
        const out = createWriteStream(partial, {flags: append ? 'a' : 'w'})
        let done = append ? from : 0
        onBytes(done)
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
          done += chunk.length
          onBytes(done)
        }
        await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())))
      }
      const got = statSync(partial).size
      if (got !== size) throw new Error(`received ${got} bytes, expected ${size}`)
      renameSync(partial, dest)
      return
    } catch (err) {
      const status = (err as {statusCode?: number}).statusCode
      if (attempt >= 4 || (status !== undefined && status >= 400 && status < 500)) throw err
    }
  }
}

/**
 * The local snapshot folder of a hub repository holding the files `wanted` selects, downloading
 * only what the cache lacks. A revision is resolved to its commit first, and the ref written, so
 * that Python's offline mode finds it too. HF_HUB_OFFLINE=1 uses the cache alone.
 */
export async function snapshot(ref: RepoRef, wanted: (file: string) => boolean, log: Logger): Promise<{dir: string; commit: string}> {
  const repo = new CachedRepo(ref.type, ref.id)
  if (hubOffline()) {
    const commit = repo.commitOf(ref.revision)
    if (!commit || !existsSync(repo.snapshot(commit))) {
      throw notFound(`${ref.id}@${ref.revision} is not in the cache (${repo.root}) and HF_HUB_OFFLINE is set`, 'download it first with `sparsify download`, or unset HF_HUB_OFFLINE')
    }
    return {dir: repo.snapshot(commit), commit}
  }
  const {commit, files} = await resolve(ref)
  repo.writeRef(ref.revision, commit)
  const todo = files.filter(wanted).filter((f) => !existsSync(path.join(repo.snapshot(commit), f)))
  const infos = new Map<string, FileInfo>()
  for (const file of todo) {
    let info
    try {
      info = await fileInfo(`${hubEndpoint()}/${ref.type === 'dataset' ? 'datasets/' : ''}${ref.id}/resolve/${commit}/${file}`)
    } catch (err) {
      if (err instanceof SparsifyError) throw err
      throw hubError(err, ref, file)
    }
    if (!info) throw notFound(`${file} is listed in ${ref.id} but cannot be downloaded`)
    infos.set(file, info)
  }
  // A blob another commit or Python's huggingface_hub already fetched has the same name: it is only linked.
  const have = (info: FileInfo) => existsSync(repo.blob(info.etag)) && statSync(repo.blob(info.etag)).size === info.size
  await announce(ref, new Map([...infos].filter(([, info]) => !have(info))), log)
  for (const file of todo) {
    const info = infos.get(file)!
    const blob = repo.blob(info.etag)
    if (!have(info)) {
      let last = 0
      const start = performance.now()
      try {
        await fetchBlob(info.location, blob, info.size, (n) => {
          if (n !== info.size && n - last < info.size / 50) return
          last = n
          const rate = n / 2 ** 20 / Math.max(1e-3, (performance.now() - start) / 1000)
          log.step(`downloading ${file} (MiB)`, Math.round(n / 2 ** 20 * 10) / 10, Math.round(info.size / 2 ** 20 * 10) / 10, `${rate.toFixed(1)} MiB/s`)
        })
      } catch (err) {
        throw hubError(err, ref, file)
      }
    }
    repo.link(commit, file, info.etag)
  }
  return {dir: repo.snapshot(commit), commit}
}

/**
 * Before any weight is fetched: the safetensors headers alone (two range requests per file) give
 * the parameter count and dtypes, hence the disk the download takes and the float32 memory of
 * one decoder block beside the embeddings, which is what a job holds at a time.
 */
async function announce(ref: RepoRef, infos: Map<string, FileInfo>, log: Logger): Promise<void> {
  const shards = [...infos.keys()].filter((f) => f.endsWith('.safetensors'))
  const bytes = [...infos.values()].reduce((a, i) => a + i.size, 0)
  if (shards.length === 0) {
    if (bytes > 0) log.info(`${ref.id}: ${(bytes / 2 ** 20).toFixed(1)} MiB to download`)
    return
  }
  let params = 0, largestBlock = 0, outside = 0
  const perBlock = new Map<number, number>()
  for (const file of shards) {
    const url = infos.get(file)!.location
    const range = async (from: number, to: number) => {
      const res = await fetch(url, {headers: hubHeaders(url, {Range: `bytes=${from}-${to}`})})
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), {statusCode: res.status})
      return new Uint8Array(await res.arrayBuffer())
    }
    let header
    try {
      const prefix = await range(0, 7)
      const n = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true))
      const body = n > 0 && n < 1e8 ? await range(8, 8 + n - 1) : new Uint8Array(0)
      header = parseHeader(`${ref.id}/${file}`, infos.get(file)!.size, prefix, () => body)
    } catch (err) {
      if (err instanceof SparsifyError) throw err
      throw hubError(err, ref, file)
    }
    for (const t of header.tensors.values()) {
      const count = numel(t.shape)
      params += count
      const m = /^model\.layers\.(\d+)\./.exec(t.name)
      if (m) perBlock.set(Number(m[1]), (perBlock.get(Number(m[1])) ?? 0) + count)
      else outside += count
    }
  }
  for (const v of perBlock.values()) largestBlock = Math.max(largestBlock, v)
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`
  log.info(`${ref.id}@${ref.revision}: ${(params / 1e9).toFixed(3)}B parameters, ${gib(bytes)} to download; ` +
    `a job holds about ${gib(4 * (largestBlock + outside))} of float32 weights at a time (one block, embeddings and head)`)
}

/** Files a model job reads: config, weights and their index, tokenizer files. */
export const MODEL_FILES = (file: string) =>
  /^(config\.json|generation_config\.json|model\.safetensors\.index\.json|[^/]*\.safetensors|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|tokenizer\.model|vocab\.json|merges\.txt|added_tokens\.json|chat_template\.jinja)$/.test(file)

/** A model argument: a local folder as it is, otherwise a hub id org/name[@revision] fetched into the cache. */
export async function resolveModel(spec: string, log: Logger): Promise<string> {
  if (existsSync(spec)) return spec
  const ref = parseRepo(spec, 'model')
  if (!ref) return spec   // not a hub id either: Model.load says the folder does not exist
  const {dir, commit} = await snapshot(ref, MODEL_FILES, log)
  log.info(`${ref.id}@${ref.revision}: commit ${commit.slice(0, 12)} in ${dir}`)
  return dir
}
