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
  /** Every request path, in order, for assertions on what was fetched. */
  requests: string[]
  /** Resolve URLs whose transfer should be cut after this many bytes, once each. */
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

/**
 * A stand-in for the Hugging Face hub on 127.0.0.1, serving the endpoints @huggingface/hub calls:
 * /api/{models,datasets}/<id>/revision/<rev> and /[datasets/]<id>/resolve/<rev>/<path>, with
 * ETag, X-Repo-Commit, Range requests, 401 for gated repos without the token, and 404s.
 */
export async function startHub(repos: HubRepo[]): Promise<HubServer> {
  const requests: string[] = []
  const dropAfter = new Map<string, number>()
  const find = (type: string, id: string) => repos.find((r) => r.type === type && r.id === id)
  const commitOf = (r: HubRepo, rev: string) => (r.commits[rev] ? rev : r.revisions[rev])
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x')
    requests.push(url.pathname)
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
      const etag = createHash('sha256').update(body).digest('hex')
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
      const from = m ? Number(m[1]) : 0, to = m && m[2] ? Number(m[2]) : body.length - 1
      const headers = {'ETag': `"${etag}"`, 'X-Repo-Commit': sha, 'Accept-Ranges': 'bytes', 'Content-Length': String(to - from + 1)}
      res.writeHead(m ? 206 : 200, m ? {...headers, 'Content-Range': `bytes ${from}-${to}/${body.length}`} : headers)
      const chunk = body.subarray(from, to + 1)
      const cut = dropAfter.get(url.pathname)
      if (cut !== undefined && chunk.length > cut) {
        dropAfter.delete(url.pathname)
        res.write(chunk.subarray(0, cut), () => res.destroy())
        return
      }
      res.end(chunk)
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
