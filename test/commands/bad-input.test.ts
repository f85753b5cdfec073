import {describe, it} from 'node:test'
import {copyFileSync, readFileSync, writeFileSync, rmSync} from 'node:fs'
import path from 'node:path'

import {golden} from '../helpers/golden.js'
import {expectError, tempDir, TINY_LLAMA} from '../helpers/cli.js'

const g = golden('llama')
const evalFile = path.join(tempDir(), 'eval.json')
writeFileSync(evalFile, JSON.stringify(g.rows('eval_ids')))

/** A copy of the golden llama folder whose model.safetensors bytes went through `damage`. */
function damagedModel(damage: (bytes: Buffer) => Buffer): string {
  const dir = tempDir()
  copyFileSync(path.join(g.dir, 'config.json'), path.join(dir, 'config.json'))
  writeFileSync(path.join(dir, 'model.safetensors'), damage(readFileSync(path.join(g.dir, 'model.safetensors'))))
  return dir
}

/** Rewrites the JSON header (keeping the data) with `edit`. */
function editHeader(edit: (h: Record<string, any>) => void) {
  return (bytes: Buffer) => {
    const n = Number(bytes.readBigUInt64LE(0))
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'))
    edit(header)
    const json = Buffer.from(JSON.stringify(header))
    const prefix = Buffer.alloc(8)
    prefix.writeBigUInt64LE(BigInt(json.length))
    return Buffer.concat([prefix, json, bytes.subarray(8 + n)])
  }
}

const evalOf = (dir: string, extra: string[] = []) => ['eval', dir, '--dataset', evalFile, ...extra]

describe('bad input gets one error line and a documented exit code', () => {
  it('truncated safetensors file', () => {
    expectError(evalOf(damagedModel((b) => b.subarray(0, b.length - 100))), 5, /past the .* bytes of data/)
  })
  it('header length beyond the file', () => {
    expectError(evalOf(damagedModel((b) => { const c = Buffer.from(b); c.writeBigUInt64LE(BigInt(b.length)); return c })), 5, /runs past the end/)
  })
  it('invalid header JSON', () => {
    expectError(evalOf(damagedModel((b) => { const c = Buffer.from(b); c.write('#', 8); return c })), 5, /not valid UTF-8 JSON/)
  })
  it('overlapping offsets', () => {
    expectError(evalOf(damagedModel(editHeader((h) => {
      h['model.norm.weight'].data_offsets = [h['model.embed_tokens.weight'].data_offsets[0], h['model.embed_tokens.weight'].data_offsets[0] + 256]
    }))), 5, /overlap/)
  })
  it('out-of-range offsets', () => {
    expectError(evalOf(damagedModel(editHeader((h) => { h['model.norm.weight'].data_offsets = [1e9, 1e9 + 256] }))), 5, /past the/)
  })
  it('unknown dtype', () => {
    expectError(evalOf(damagedModel(editHeader((h) => { h['model.norm.weight'].dtype = 'F12' }))), 5, /unknown dtype "F12"/)
  })
  it('byte size that disagrees with the shape', () => {
    expectError(evalOf(damagedModel(editHeader((h) => { h['model.norm.weight'].shape = [63] }))), 5, /needs 252/)
  })
  it('missing model folder and missing config.json', () => {
    expectError(evalOf('/nonexistent/model'), 3, /does not exist/)
    const dir = damagedModel((b) => b)
    rmSync(path.join(dir, 'config.json'))
    expectError(evalOf(dir), 3, /no config\.json/)
  })
  it('missing weights', () => {
    const dir = damagedModel((b) => b)
    rmSync(path.join(dir, 'model.safetensors'))
    expectError(evalOf(dir), 3, /no model\.safetensors/)
  })
  it('missing tokenizer for text data', () => {
    expectError(['eval', g.dir, '--dataset', 'brown'], 3, /no tokenizer\.json/)
  })
  it('unsupported architecture', () => {
    const dir = damagedModel((b) => b)
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'))
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({...cfg, architectures: ['GPT2LMHeadModel']}))
    expectError(evalOf(dir), 5, /unsupported architecture GPT2LMHeadModel .*LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM/)
  })
  it('empty dataset', () => {
    const empty = path.join(tempDir(), 'empty.txt')
    writeFileSync(empty, '')
    expectError(['eval', TINY_LLAMA, '--dataset', empty], 5, /is empty/)
    const none = path.join(tempDir(), 'none.json')
    writeFileSync(none, '[]')
    expectError(['eval', g.dir, '--dataset', none], 5, /is empty/)
  })
  it('seqlen longer than the data', () => {
    expectError(evalOf(g.dir, ['--seqlen', '64']), 2, /fewer than seqlen 64/)
    const small = path.join(tempDir(), 'small.txt')
    writeFileSync(small, 'A few words only.')
    expectError(['eval', TINY_LLAMA, '--dataset', small, '--seqlen', '128'], 2, /fewer than seqlen 128/)
  })
  it('missing dataset file and unknown flag', () => {
    expectError(['eval', g.dir, '--dataset', '/nonexistent.jsonl'], 3, /not found/)
    expectError(['eval', g.dir, '--bogus'], 2, /Nonexistent flag/)
  })
  it('token ids outside the vocabulary', () => {
    const bad = path.join(tempDir(), 'bad.json')
    writeFileSync(bad, JSON.stringify([[1, 2, 99999, 3]]))
    expectError(['eval', g.dir, '--dataset', bad], 5, /outside the model's vocabulary/)
  })
})
