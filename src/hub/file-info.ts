import {SparsifyError} from '../util/errors.js'
import {hubEndpoint, hubToken} from './env.js'

export interface FileInfo {
  /** The blob's name in the cache: the sha256 of a Git LFS file's content, the git blob id of a file stored in git. */
  etag: string
  size: number
  /** Where the bytes are: the CDN address an LFS file redirects to, else the /resolve/ address itself. */
  location: string
}

/** The token goes to the hub only: a CDN address is signed already, and another host must not see it. */
export function hubHeaders(url: string, extra: Record<string, string> = {}): Record<string, string> {
  const token = hubToken()
  return token && new URL(url).origin === new URL(hubEndpoint()).origin ? {...extra, Authorization: `Bearer ${token}`} : extra
}

/** `W/"abc"` and `"abc"` both name the blob `abc`, as huggingface_hub normalizes them. */
const normalizeEtag = (etag: string) => etag.replace(/^W\//, '').replace(/^"|"$/g, '')

/**
 * What huggingface_hub's metadata request learns about one file: a HEAD on its /resolve/ address
 * that does not follow the redirect to the CDN, because the CDN answers with an ETag of its own
 * (an md5 or similar) while the hub's redirect carries the content's sha256 in X-Linked-Etag and
 * its size in X-Linked-Size. A redirect without a host (a renamed repository) is followed, as
 * Python does. Null when the hub says the file is not in the repository.
 */
export async function fileInfo(url: string): Promise<FileInfo | null> {
  for (let hops = 0; hops < 5; hops++) {
    const res = await fetch(url, {method: 'HEAD', redirect: 'manual', headers: hubHeaders(url, {'Accept-Encoding': 'identity'})})
    const location = res.headers.get('location')
    if (res.status >= 300 && res.status < 400 && location && !/^[a-z][a-z\d+.-]*:\/\//i.test(location)) {
      url = new URL(location, url).href
      continue
    }
    if (res.status === 404 && res.headers.get('x-error-code') === 'EntryNotFound') return null
    if (!res.ok && !(res.status >= 300 && res.status < 400)) throw Object.assign(new Error(`HTTP ${res.status}`), {statusCode: res.status})
    const etag = res.headers.get('x-linked-etag') ?? res.headers.get('etag')
    const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length') ?? NaN)
    if (!etag || !Number.isSafeInteger(size)) {
      throw new SparsifyError(`${url} answered without an ETag or a size: it does not look like a Hugging Face hub`, undefined,
        'check HF_ENDPOINT')
    }
    return {etag: normalizeEtag(etag), size, location: location ? new URL(location, url).href : url}
  }
  throw new SparsifyError(`${url} redirects more than 5 times`, undefined, 'check HF_ENDPOINT')
}
