import {createHash} from 'node:crypto'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

export interface HubRepo {
  type: 'model' | 'dataset'
  id: string
  /** revision name → commit sha → files by path */
  revisions: Record<string, string>
  commits: Record<string, Record<string, Buffer>>
  gated?: boolean
}

export interface HubServer {
  url: string
  /** Every request as `METHOD path`, in order, for assertions on what was fetched. */
  requests: string[]
  /** Paths (a CDN path for LFS files, see cdnPath) whose transfer should be cut after this many bytes, once each. */
  dropAfter: Map<string, number>
  close(): Promise<void>
}

export const TOKEN = 'hf_test_token'

/** Reads a local folder into the file map of one commit. */
export function folderFiles(dir: string, prefix = ''): Record<string, Buffer> {
  const out: Record<string, Buffer> = {}
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name)
    if (statSync(p).isDirectory()) Object.assign(out, folderFiles(p, `${prefix}${name}/`))
    else out[`${prefix}${name}`] = readFileSync(p)
  }
  return out
}

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex')

/** The id git gives a file's content: sha1 of `blob <length>\0<content>`. */
export const gitBlobId = (body: Buffer) => createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex')

/** Files the hub keeps in Git LFS: the patterns of its default .gitattributes, and anything over 10 MiB. */
export const isLfs = (file: string, body: Buffer) => /\.(safetensors|parquet|gz|bin)$/.test(file) || body.length > 10 * 2 ** 20

/** Where the stand-in's CDN serves an LFS file's content. */
export const cdnPath = (body: Buffer) => `/cdn-lfs/${sha256(body)}`

/** The body, or the Range asked for, cut short once where dropAfter says so. */
function send(req: IncomingMessage, res: ServerResponse, body: Buffer, headers: Record<string, string>, dropAfter: Map<string, number>): void {
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
  const from = m ? Number(m[1]) : 0, to = m && m[2] ? Number(m[2]) : body.length - 1
  const all = {...headers, 'Accept-Ranges': 'bytes', 'Content-Length': String(to - from + 1)}
  res.writeHead(m ? 206 : 200, m ? {...all, 'Content-Range': `bytes ${from}-${to}/${body.length}`} : all)
  const chunk = body.subarray(from, to + 1)
  const pathname = new URL(req.url ?? '/', 'http://x').pathname
  const cut = dropAfter.get(pathname)
  if (req.method !== 'HEAD' && cut !== undefined && chunk.length > cut) {
    dropAfter.delete(pathname)
    res.write(chunk.subarray(0, cut), () => res.destroy())
    return
  }
  res.end(chunk)
}

/**
 * A stand-in for the Hugging Face hub on 127.0.0.1: /api/{models,datasets}/<id>/revision/<rev> and
 * /[datasets/]<id>/resolve/<rev>/<path>, with X-Repo-Commit, Range requests, 401 for gated repos
 * without the token, and 404s. As on the hub, a file stored in git is answered directly with its git
 * blob id as ETag, while an LFS file's /resolve/ answers 302 to a CDN address, with the content's
 * sha256 in X-Linked-Etag and its size in X-Linked-Size (its own ETag names the pointer file); the
 * CDN answers with an ETag of its own (an md5, as S3 gives).
 */
export async function startHub(repos: HubRepo[]): Promise<HubServer> {
  const requests: string[] = []
  const dropAfter = new Map<string, number>()
  const find = (type: string, id: string) => repos.find((r) => r.type === type && r.id === id)
  const commitOf = (r: HubRepo, rev: string) => (r.commits[rev] ? rev : r.revisions[rev])
  const cdn = new Map(repos.flatMap((r) => Object.values(r.commits).flatMap((files) => Object.values(files)))
    .map((body) => [cdnPath(body), body]))
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x')
    requests.push(`${req.method} ${url.pathname}`)
    const deny = (r: HubRepo) => r.gated && req.headers.authorization !== `Bearer ${TOKEN}`
    const api = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname)
    if (api) {
      const r = find(api[1].slice(0, -1), api[2])
      if (!r) { res.writeHead(404, {'Content-Type': 'application/json'}); res.end(JSON.stringify({error: 'Repository not found'})); return }
      if (deny(r)) { res.writeHead(401, {'Content-Type': 'application/json'}); res.end(JSON.stringify({error: 'Access to this repository is restricted'})); return }
      const sha = commitOf(r, decodeURIComponent(api[3]))
      if (!sha) { res.writeHead(404, {'Content-Type': 'application/json'}); res.end(JSON.stringify({error: 'Revision not found'})); return }
      res.writeHead(200, {'Content-Type': 'application/json'})
      res.end(JSON.stringify({_id: r.id, id: r.id, sha, private: false, gated: r.gated ?? false, downloads: 0, likes: 0,
        lastModified: '2026-01-01T00:00:00.000Z', siblings: Object.keys(r.commits[sha]).map((rfilename) => ({rfilename}))}))
      return
    }
    const file = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname)
    if (file) {
      const r = find(file[1] ? 'dataset' : 'model', file[2])
      if (!r) { res.writeHead(404); res.end(); return }
      if (deny(r)) { res.writeHead(401); res.end(); return }
      const sha = commitOf(r, decodeURIComponent(file[3]))
      const body = sha ? r.commits[sha][file[4]] : undefined
      if (!sha || !body) { res.writeHead(404, {'X-Error-Code': 'EntryNotFound'}); res.end(); return }
      if (isLfs(file[4], body)) {
        const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(body)}\nsize ${body.length}\n`)
        res.writeHead(302, {'Location': `http://${req.headers.host}${cdnPath(body)}`, 'X-Repo-Commit': sha, 'ETag': `"${gitBlobId(pointer)}"`,
          'X-Linked-Etag': `"${sha256(body)}"`, 'X-Linked-Size': String(body.length), 'Content-Length': '0'})
        res.end()
        return
      }
      send(req, res, body, {'ETag': `"${gitBlobId(body)}"`, 'X-Repo-Commit': sha}, dropAfter)
      return
    }
    const blob = cdn.get(url.pathname)
    if (blob) {
      send(req, res, blob, {'ETag': `"${createHash('md5').update(blob).digest('hex')}"`}, dropAfter)
      return
    }
    res.writeHead(404)
    res.end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`, requests, dropAfter,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}
