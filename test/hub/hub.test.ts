import {after, before, describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {gzipSync} from 'node:zlib'
import {parquetWriteBuffer} from 'hyparquet-writer'

import {brownDocuments} from '../../src/data/brown.js'
import {HUB_SETS} from '../../src/data/hub-sets.js'
import {cdnPath, folderFiles, gitBlobId, startHub, TOKEN, type HubServer} from '../helpers/hub-server.js'
import {sparsifyAsync, tempDir, TINY_LLAMA} from '../helpers/cli.js'

const C1 = '1'.repeat(40), C2 = '2'.repeat(40)
const docs = brownDocuments('test').slice(0, 3).flatMap((d) => d.split('\n'))
const parquet = Buffer.from(parquetWriteBuffer({columnData: [{name: 'text', data: docs, type: 'STRING'}]}))
// C4 shards are gzipped JSON lines; 1200 documents, of which the evaluation protocol takes the first 1100.
const c4Docs = Array.from({length: 1200}, (_, i) => docs[i % docs.length])
const c4 = gzipSync(c4Docs.map((text, i) => JSON.stringify({text, timestamp: '2019', url: `u${i}`})).join('\n'))
const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex')
/** File requests, as against the API's revision lookups. */
const fileRequests = (requests: string[]) => requests.filter((p) => p.includes('/resolve/') || p.includes('/cdn-lfs/'))

describe('models and datasets from the Hugging Face hub (a local stand-in on 127.0.0.1)', () => {
  let hub: HubServer
  const files = folderFiles(TINY_LLAMA)
  before(async () => {
    hub = await startHub([
      {type: 'model', id: 'acme/tiny', revisions: {main: C2, v1: C1}, commits: {
        [C1]: {...files, 'generation_config.json': Buffer.from('{"bos_token_id": 0}')}, [C2]: {...files, 'README.md': Buffer.from('# tiny')}}},
      {type: 'model', id: 'acme/gated', revisions: {main: C1}, commits: {[C1]: files}, gated: true},
      {type: 'dataset', id: HUB_SETS.c4.repo, revisions: {main: C1}, commits: {[C1]: {[HUB_SETS.c4.files.eval]: c4, [HUB_SETS.c4.files.calib]: c4}}},
      {type: 'dataset', id: HUB_SETS.wikitext2.repo, revisions: {}, commits: {[HUB_SETS.wikitext2.commit]: {
        [HUB_SETS.wikitext2.files.eval]: parquet, [HUB_SETS.wikitext2.files.calib]: parquet}}},
    ])
  })
  after(() => hub.close())

  const online = (cache: string, extra: Record<string, string> = {}) => ({HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: '0', HF_HUB_CACHE: cache, ...extra})

  it('downloads into the shared cache layout, resumes a dropped transfer, and reuses the cache', async () => {
    const cache = tempDir()
    hub.dropAfter.set(cdnPath(files['model.safetensors']), 1_000_000)
    hub.requests.length = 0
    const r = await sparsifyAsync(['eval', 'acme/tiny', '--dataset', 'wikitext2', '--seqlen', '64', '--json'], online(cache))
    assert.equal(r.status, 0, r.stderr)
    const repo = path.join(cache, 'models--acme--tiny')
    assert.equal(readFileSync(path.join(repo, 'refs', 'main'), 'utf8'), C2)
    const link = path.join(repo, 'snapshots', C2, 'model.safetensors')
    assert.ok(lstatSync(link).isSymbolicLink())
    assert.match(readlinkSync(link), /^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/)
    assert.deepEqual(readFileSync(link), files['model.safetensors'], 'the resumed file is whole and correct')
    assert.ok(!existsSync(path.join(repo, 'snapshots', C2, 'README.md')), 'only the files a job needs')
    const weights = hub.requests.filter((p) => p.endsWith('/model.safetensors') || p.endsWith(cdnPath(files['model.safetensors'])))
    assert.equal(weights[0], `HEAD /acme/tiny/resolve/${C2}/model.safetensors`, 'the metadata request does not follow the redirect')
    assert.ok(weights.slice(1).every((p) => p === `GET ${cdnPath(files['model.safetensors'])}`), 'the bytes come from the CDN')
    assert.ok(weights.length >= 5, 'size probe, two header ranges, cut transfer, resumed transfer')
    assert.match(r.stderr, /acme\/tiny@main: 0\.003B parameters, 0\.01 GiB to download; a job holds about 0\.01 GiB of float32 weights at a time/)
    const viaHub = JSON.parse(r.stdout)
    assert.match(viaHub.dataset, /^wikitext2:test@b08601e04326$/)

    // The same evaluation on the local folder and the parquet file gives the same number.
    const local = path.join(tempDir(), 'test.parquet')
    writeFileSync(local, parquet)
    const direct = await sparsifyAsync(['eval', TINY_LLAMA, '--dataset', local, '--seqlen', '64', '--json'])
    assert.equal(JSON.parse(direct.stdout).perplexity, viaHub.perplexity)

    hub.requests.length = 0
    const again = await sparsifyAsync(['eval', 'acme/tiny', '--dataset', 'wikitext2', '--seqlen', '64', '--json'], online(cache))
    assert.equal(again.status, 0, again.stderr)
    assert.deepEqual(fileRequests(hub.requests), [], 'a second run makes no file request')

    hub.requests.length = 0
    const offline = await sparsifyAsync(['eval', 'acme/tiny', '--dataset', 'wikitext2', '--seqlen', '64', '--json'], {...online(cache), HF_HUB_OFFLINE: '1'})
    assert.equal(offline.status, 0, offline.stderr)
    assert.deepEqual(hub.requests, [], 'offline mode sends nothing')
    assert.equal(JSON.parse(offline.stdout).perplexity, viaHub.perplexity)
  })

  it('names blobs as huggingface_hub does: an LFS file by its sha256 (X-Linked-Etag), a file in git by its blob id', async () => {
    const cache = tempDir()
    const r = await sparsifyAsync(['download', 'acme/tiny'], online(cache))
    assert.equal(r.status, 0, r.stderr)
    const repo = path.join(cache, 'models--acme--tiny')
    const weights = files['model.safetensors']
    assert.equal(readlinkSync(path.join(repo, 'snapshots', C2, 'model.safetensors')), `../../blobs/${sha256(weights)}`)
    assert.equal(readlinkSync(path.join(repo, 'snapshots', C2, 'config.json')), `../../blobs/${gitBlobId(files['config.json'])}`)
    const expected = Object.keys(files).filter((f) => f !== 'README.md')
      .map((f) => (f.endsWith('.safetensors') ? sha256(files[f]) : gitBlobId(files[f]))).sort()
    assert.deepEqual(readdirSync(path.join(repo, 'blobs')).sort(), expected, 'no blob named by the CDN\'s md5 or the LFS pointer')
  })

  it('uses a cache laid out by Python\'s huggingface_hub without any file request, and links its blobs into a new commit', async () => {
    const cache = tempDir()
    const repo = path.join(cache, 'models--acme--tiny')
    mkdirSync(path.join(repo, 'blobs'), {recursive: true})
    mkdirSync(path.join(repo, 'refs'))
    mkdirSync(path.join(repo, 'snapshots', C2), {recursive: true})
    writeFileSync(path.join(repo, 'refs', 'main'), C2)
    for (const [file, body] of Object.entries(files)) {
      const blob = file.endsWith('.safetensors') ? sha256(body) : gitBlobId(body)
      writeFileSync(path.join(repo, 'blobs', blob), body)
      symlinkSync(`../../blobs/${blob}`, path.join(repo, 'snapshots', C2, file))
    }
    hub.requests.length = 0
    const r = await sparsifyAsync(['eval', 'acme/tiny', '--dataset', 'brown', '--seqlen', '64', '--nsamples', '2', '--json'], online(cache))
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(hub.requests, [`GET /api/models/acme/tiny/revision/main`], 'the revision is resolved, no file is requested')

    // Python fetched commit C2; v1 (C1) shares its weights and tokenizer: only its metadata is asked for.
    rmSync(path.join(repo, 'snapshots'), {recursive: true})
    hub.requests.length = 0
    const v1 = await sparsifyAsync(['download', 'acme/tiny@v1'], online(cache))
    assert.equal(v1.status, 0, v1.stderr)
    const transfers = fileRequests(hub.requests).filter((p) => p.startsWith('GET '))
    assert.deepEqual(transfers, [`GET /acme/tiny/resolve/${C1}/generation_config.json`], 'only the file Python did not have is transferred')
    assert.equal(readlinkSync(path.join(repo, 'snapshots', C1, 'model.safetensors')), `../../blobs/${sha256(files['model.safetensors'])}`)
  })

  it('c4: calibration from the train shard, evaluation by the SparseGPT/Wanda protocol on the validation shard', async () => {
    const cache = tempDir()
    const r = await sparsifyAsync(['eval', TINY_LLAMA, '--dataset', 'c4', '--seqlen', '64', '--json'], online(cache))
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.dataset, `c4:validation@${C1.slice(0, 12)}`)
    assert.equal(out.nsamples, 256, 'the first 1100 documents joined with " " hold more than 256 chunks: exactly 256 are kept')
    // The same text as a local file, joined the C4 way, gives the same perplexity.
    const local = path.join(tempDir(), 'c4.txt')
    writeFileSync(local, c4Docs.slice(0, 1100).join(' '))
    const direct = await sparsifyAsync(['eval', TINY_LLAMA, '--dataset', local, '--seqlen', '64', '--nsamples', '256', '--json'])
    assert.equal(JSON.parse(direct.stdout).perplexity, out.perplexity)
    const p = await sparsifyAsync(['prune', TINY_LLAMA, '--method', 'wanda', '--sparsity', '0.5', '--calib', 'c4', '--nsamples', '4', '--seqlen', '64',
      '--eval', 'none', '--out', path.join(tempDir(), 'o'), '--json'], online(cache))
    assert.equal(p.status, 0, p.stderr)
    assert.equal(JSON.parse(p.stdout).calibration.dataset, `c4:train@${C1.slice(0, 12)}`)
  })

  it('resolves @revision to its commit and writes the ref', async () => {
    const cache = tempDir()
    const r = await sparsifyAsync(['download', 'acme/tiny@v1', '--json'], online(cache))
    assert.equal(r.status, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).commit, C1)
    assert.equal(readFileSync(path.join(cache, 'models--acme--tiny', 'refs', 'v1'), 'utf8'), C1)
    assert.equal(readFileSync(path.join(cache, 'models--acme--tiny', 'snapshots', C1, 'generation_config.json'), 'utf8'), '{"bos_token_id": 0}')
  })

  it('a gated repo needs HF_TOKEN; a missing repo and a cache miss offline say what to do (exit 3)', async () => {
    const cache = tempDir()
    const gated = await sparsifyAsync(['download', 'acme/gated'], online(cache))
    assert.equal(gated.status, 3)
    assert.match(gated.stderr, /error: acme\/gated@main is gated or private \(HTTP 401\).*set HF_TOKEN/)
    const ok = await sparsifyAsync(['download', 'acme/gated'], online(cache, {HF_TOKEN: TOKEN}))
    assert.equal(ok.status, 0, ok.stderr)
    const missing = await sparsifyAsync(['eval', 'acme/nothing', '--dataset', 'brown'], online(cache))
    assert.equal(missing.status, 3)
    assert.match(missing.stderr, /error: repository: acme\/nothing@main was not found on http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\)/)
    const miss = await sparsifyAsync(['eval', 'acme/tiny', '--dataset', 'brown'], {HF_HUB_OFFLINE: '1', HF_HUB_CACHE: tempDir()})
    assert.equal(miss.status, 3)
    assert.match(miss.stderr, /not in the cache .* HF_HUB_OFFLINE is set/)
  })
})
