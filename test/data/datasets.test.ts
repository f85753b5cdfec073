import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {parquetWriteFile} from 'hyparquet-writer'

import {loadDataset} from '../../src/data/dataset.js'
import {brownDocuments} from '../../src/data/brown.js'
import {TextTokenizer} from '../../src/model/tokenizer.js'
import {sparsify, tempDir, TINY_LLAMA} from '../helpers/cli.js'

const DOCS = ['The jury said Friday.', '', 'It was a long day, and "nobody" came.']

describe('datasets', () => {
  it('reads .txt (a document per line), .jsonl (text field), .parquet (text column) and .json token rows', async () => {
    const dir = tempDir()
    const txt = path.join(dir, 'd.txt'), jsonl = path.join(dir, 'd.jsonl'), parquet = path.join(dir, 'd.parquet'), json = path.join(dir, 'd.json')
    writeFileSync(txt, DOCS.join('\n'))
    writeFileSync(jsonl, DOCS.map((text, i) => JSON.stringify({id: i, text})).join('\n') + '\n')
    parquetWriteFile({filename: parquet, columnData: [{name: 'text', data: DOCS, type: 'STRING'}, {name: 'n', data: [1, 2, 3], type: 'INT32'}]})
    writeFileSync(json, '[[1,2,3],[4,5,6]]')
    for (const f of [txt, jsonl, parquet]) {
      const d = await loadDataset(f, 'eval')
      assert.equal(d.kind, 'text')
      if (d.kind === 'text') assert.deepEqual(d.documents, DOCS, f)
    }
    const t = await loadDataset(json, 'eval')
    assert.deepEqual(t.kind === 'tokens' && t.rows, [[1, 2, 3], [4, 5, 6]])
  })

  it('refuses malformed files with a line that names the problem', async () => {
    const dir = tempDir()
    const jsonl = path.join(dir, 'bad.jsonl'), parquet = path.join(dir, 'bad.parquet'), json = path.join(dir, 'bad.json')
    writeFileSync(jsonl, '{"text": "ok"}\n{"body": "no text"}\n')
    parquetWriteFile({filename: parquet, columnData: [{name: 'content', data: ['a'], type: 'STRING'}]})
    writeFileSync(json, '[[1, -2]]')
    await assert.rejects(loadDataset(jsonl, 'eval'), /bad\.jsonl:2: no string field "text"/)
    await assert.rejects(loadDataset(parquet, 'eval'), /no "text" column \(columns: content\)/)
    await assert.rejects(loadDataset(json, 'eval'), /array of token-id arrays/)
    // Offline with an empty cache: the named set is refused with what to do, and no request leaves.
    Object.assign(process.env, {HF_HUB_OFFLINE: '1', HF_HUB_CACHE: tempDir()})
    await assert.rejects(loadDataset('wikitext2', 'eval'), /Salesforce\/wikitext@b08601e04326c79dfdd32d625aee71d232d685c3 is not in the cache/)
  })

  it('brown: tags stripped, a fixed split by genre, test for eval and train for calibration', async () => {
    const test = brownDocuments('test'), train = brownDocuments('train')
    assert.equal(test.length, 52)
    assert.equal(train.length, 448)
    assert.ok(test[0].startsWith('East Providence should organize its civil defense setup'), test[0].slice(0, 40))   // ca05, the 5th file of genre ca
    assert.doesNotMatch(train.join('\n'), /\/(at|nn|np|vbd)\b/)
    assert.ok(train[0].startsWith('The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.'))
    const e = await loadDataset('brown', 'eval'), c = await loadDataset('brown', 'calib')
    assert.equal(e.name, 'brown:test')
    assert.equal(c.name, 'brown:train')
  })

  it('tokenizes with the model tokenizer.json and adds BOS as tokenizer_config.json says', async () => {
    const tok = TextTokenizer.load(TINY_LLAMA)
    const ids = await tok.encode('The jury said Friday.')
    assert.equal(ids[0], 0, 'BOS <s> first')
    assert.equal(ids.filter((i) => i === 0).length, 1, 'exactly one BOS')
    assert.ok(ids.length < 'The jury said Friday.'.length, 'merges apply')
    assert.deepEqual(await tok.encodePlain('The jury said Friday.'), ids.slice(1))
  })

  it('evaluates the same text identically from .txt, .jsonl and .parquet', () => {
    const dir = tempDir()
    const docs = brownDocuments('test').slice(0, 3).flatMap((d) => d.split('\n'))
    writeFileSync(path.join(dir, 'a.txt'), docs.join('\n'))
    writeFileSync(path.join(dir, 'a.jsonl'), docs.map((text) => JSON.stringify({text})).join('\n'))
    parquetWriteFile({filename: path.join(dir, 'a.parquet'), columnData: [{name: 'text', data: docs, type: 'STRING'}]})
    const ppl = ['a.txt', 'a.jsonl', 'a.parquet'].map((f) => {
      const r = sparsify(['eval', TINY_LLAMA, '--dataset', path.join(dir, f), '--seqlen', '64', '--nsamples', '3', '--json'])
      assert.equal(r.status, 0, r.stderr)
      return JSON.parse(r.stdout).perplexity
    })
    assert.equal(ppl[0], ppl[1])
    assert.equal(ppl[1], ppl[2])
  })
})
