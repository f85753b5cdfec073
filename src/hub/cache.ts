import {existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {hubCache} from './env.js'

export type RepoType = 'model' | 'dataset'

/**
 * One repository in the Hugging Face cache layout that Python's huggingface_hub uses:
 *   <cache>/models--org--name/{blobs/<etag>, snapshots/<commit>/<file> → ../../blobs/<etag>, refs/<revision>}
 * where the etag is the sha256 of a Git LFS file's content and the git blob id of a file stored in
 * git, so a blob downloaded by either side is found by the other under the same name.
 */
export class CachedRepo {
  readonly root: string

  constructor(readonly type: RepoType, readonly id: string) {
    this.root = path.join(hubCache(), `${type}s--${id.split('/').join('--')}`)
  }

  /** The commit a revision (branch, tag) pointed to when last resolved, or the revision itself if it is a commit. */
  commitOf(revision: string): string | null {
    if (/^[0-9a-f]{40}$/.test(revision)) return revision
    const ref = path.join(this.root, 'refs', revision)
    return existsSync(ref) ? readFileSync(ref, 'utf8').trim() : null
  }

  writeRef(revision: string, commit: string): void {
    if (revision === commit) return
    const ref = path.join(this.root, 'refs', revision)
    mkdirSync(path.dirname(ref), {recursive: true})
    writeFileSync(`${ref}.tmp`, commit)
    renameSync(`${ref}.tmp`, ref)
  }

  snapshot(commit: string): string {
    return path.join(this.root, 'snapshots', commit)
  }

  blob(etag: string): string {
    return path.join(this.root, 'blobs', etag)
  }

  /** Points snapshots/<commit>/<file> at blobs/<etag> with a relative link, as Python does. */
  link(commit: string, file: string, etag: string): void {
    const at = path.join(this.snapshot(commit), file)
    mkdirSync(path.dirname(at), {recursive: true})
    if (existsSync(at)) unlinkSync(at)
    symlinkSync(path.relative(path.dirname(at), this.blob(etag)), at)
  }
}
