import {describe, it} from 'node:test'
import assert from 'node:assert/strict'

import {hellaswagPreprocess, TASKS} from '../../src/eval/tasks/definitions.js'
import {aggregate, meanStderr, scoreDoc} from '../../src/eval/tasks/metrics.js'
import {encodePair, groupRequests} from '../../src/eval/tasks/requests.js'
import {codePoints, pyCapitalize, pyStrip} from '../../src/eval/tasks/text.js'

const contexts = (name: string, doc: Record<string, unknown>) => TASKS[name].build(doc)

describe('task prompts as the harness builds them', () => {
  it('boolq: passage, question with "?", choices no/yes after the target delimiter', () => {
    const b = contexts('boolq', {passage: 'Cats purr.', question: 'do cats purr', label: 1n})
    assert.deepEqual(b.requests, [
      {context: 'Cats purr.\nQuestion: do cats purr?\nAnswer:', continuation: ' no'},
      {context: 'Cats purr.\nQuestion: do cats purr?\nAnswer:', continuation: ' yes'},
    ])
    assert.equal(b.gold, 1)
  })

  it('rte (GLUE): "True or False?", label 0 is True', () => {
    const b = contexts('rte', {sentence1: 'A dog ran.', sentence2: 'An animal moved.', label: 0})
    assert.equal(b.requests[0].context, 'A dog ran.\nQuestion: An animal moved. True or False?\nAnswer:')
    assert.deepEqual(b.requests.map((r) => r.continuation), [' True', ' False'])
    assert.equal(b.gold, 0)
    assert.equal(TASKS.rte.repo, 'nyu-mll/glue')
  })

  it('hellaswag: preprocessing of context and endings, capitalize lowers the rest, label a string', () => {
    const b = contexts('hellaswag', {
      activity_label: 'Making a cake', ctx_a: 'A woman mixes flour [header]  in a bowl.', ctx_b: 'sHE then ADDS',
      endings: ['[substeps] eggs and sugar.', ' milk [title] Stir well.', 'butter   slowly.', 'water.'], label: '2',
    })
    // "flour [header]  in": the bracket goes, three spaces remain, and one pass leaves two.
    assert.equal(b.requests[0].context, 'Making a cake: A woman mixes flour  in a bowl. She then adds')
    assert.deepEqual(b.choices, [' eggs and sugar.', 'milk. Stir well.', 'butter  slowly.', 'water.'])
    assert.deepEqual(b.requests.map((r) => r.continuation), ['  eggs and sugar.', ' milk. Stir well.', ' butter  slowly.', ' water.'])
    assert.equal(b.gold, 2)
  })

  it('hellaswag preprocess step by step: strip first, [title], brackets non-greedy, one pass of double spaces', () => {
    assert.equal(hellaswagPreprocess('  [substeps] X  '), ' X')
    assert.equal(hellaswagPreprocess('Title [title] Body'), 'Title. Body')
    assert.equal(hellaswagPreprocess('a [b] c [d] e'), 'a c e')
    assert.equal(hellaswagPreprocess('a   b'), 'a  b')
    assert.equal(pyCapitalize('éCOLE ÉTÉ'), 'École été')
    assert.equal(pyCapitalize('ǆungla'), 'ǅungla')
  })

  it('winogrande: partial scoring, two contexts up to the blank and one shared continuation', () => {
    const b = contexts('winogrande', {sentence: 'Ann helped Beth because _ was kind. ', option1: 'Ann', option2: 'Beth', answer: '2'})
    assert.deepEqual(b.requests, [
      {context: 'Ann helped Beth because Ann', continuation: ' was kind.'},
      {context: 'Ann helped Beth because Beth', continuation: ' was kind.'},
    ])
    assert.equal(b.gold, 1)
    assert.deepEqual(TASKS.winogrande.metrics, ['acc'])
  })

  it('arc: "Question: …\\nAnswer:", letter and numeric answer keys map to the matching label', () => {
    const letters = contexts('arc_easy', {question: 'What is hot?', choices: {text: ['ice', 'fire'], label: ['A', 'B']}, answerKey: 'B'})
    assert.equal(letters.requests[0].context, 'Question: What is hot?\nAnswer:')
    assert.deepEqual(letters.requests.map((r) => r.continuation), [' ice', ' fire'])
    assert.equal(letters.gold, 1)
    const digits = contexts('arc_challenge', {question: 'q', choices: {text: ['a', 'b', 'c'], label: ['1', '2', '3']}, answerKey: '3'})
    assert.equal(digits.gold, 2)
    assert.equal(TASKS.arc_challenge.config, 'ARC-Challenge')
  })

  it('openbookqa: the stem alone is the context, the answer key stripped', () => {
    const b = contexts('openbookqa', {question_stem: 'Plants need', choices: {text: ['light', 'rocks'], label: ['A', 'B']}, answerKey: ' A '})
    assert.deepEqual(b.requests, [{context: 'Plants need', continuation: ' light'}, {context: 'Plants need', continuation: ' rocks'}])
    assert.equal(b.gold, 0)
  })
})

/** Words with their leading space, as GPT-style BPE splits them; a lone trailing space is its own token. */
const VOCAB = ['Answer:', ' yes', ' no', ' ', 'Q', ' x', 'x']
const wordEncoder = {
  encode: async (t: string) => (t.match(/\s*\S+|\s+$/g) ?? []).map((w) => {
    const id = VOCAB.indexOf(w)
    if (id < 0) throw new Error(`no token for ${JSON.stringify(w)}`)
    return id
  }),
}

describe('the context/continuation split, token by token', () => {
  const o = {bos: null, emptyContext: 99, window: 100}

  it('moves the context\'s trailing space to the continuation, so " yes" is one token and not " " + "yes"', async () => {
    assert.deepEqual(await encodePair(wordEncoder, {context: 'Answer: ', continuation: 'yes'}, o), {ctx: [0], cont: [1]})
    assert.deepEqual(await encodePair(wordEncoder, {context: 'Answer:', continuation: ' no'}, o), {ctx: [0], cont: [2]})
  })

  it('an empty context becomes the EOS token; --add-bos puts BOS first (and stands for an empty context)', async () => {
    assert.deepEqual(await encodePair(wordEncoder, {context: '', continuation: ' x'}, o), {ctx: [99], cont: [5]})
    assert.deepEqual(await encodePair(wordEncoder, {context: '', continuation: ' x'}, {...o, bos: 42}), {ctx: [42], cont: [5]})
    assert.deepEqual(await encodePair(wordEncoder, {context: 'Answer:', continuation: ' yes'}, {...o, bos: 42}), {ctx: [42, 0], cont: [1]})
  })

  it('cuts long inputs from the left to window + 1 tokens, the last one not fed', async () => {
    const r = await encodePair(wordEncoder, {context: 'Q x x x x', continuation: ' yes'}, {...o, window: 3})
    assert.deepEqual(r, {ctx: [5, 5, 5], cont: [1]})
  })

  it('groups equal contexts and scores an identical request once', () => {
    const g = groupRequests([{ctx: [1, 2], cont: [3]}, {ctx: [1, 2], cont: [4, 5]}, {ctx: [1, 2], cont: [3]}, {ctx: [7], cont: [3]}])
    assert.deepEqual(g.groups, [{prefix: [1, 2], conts: [[3], [4, 5]]}, {prefix: [7], conts: [[3]]}])
    assert.deepEqual(g.at, [[0, 0], [0, 1], [0, 0], [1, 0]])
  })
})

describe('metrics by hand', () => {
  it('acc takes the first largest loglikelihood; acc_norm divides by the choice\'s length in code points', () => {
    // lengths 1, 4, 2: normalised −1, −0.5, −1.5 → choice 1; raw → choice 0.
    assert.deepEqual(scoreDoc([-1, -2, -3], ['a', 'bbbb', 'cc'], 1), {pred: 0, acc: 0, accNorm: 1})
    assert.deepEqual(scoreDoc([-2, -2], ['x', 'y'], 0), {pred: 0, acc: 1, accNorm: 1})
    // "😀😀" is 2 code points (4 UTF-16 units): −3/2 = −1.5 beats −2/1.
    assert.equal(codePoints('😀😀'), 2)
    assert.deepEqual(scoreDoc([-2, -3], ['x', '😀😀'], 1), {pred: 0, acc: 0, accNorm: 1})
  })

  it('standard error is the sample standard deviation over √n', () => {
    // [1, 0, 1, 1]: mean 0.75, Σ(x − mean)² = 0.75, variance 0.75/3 = 0.25, sd 0.5, se 0.5/2.
    assert.deepEqual(meanStderr([1, 0, 1, 1]), {mean: 0.75, stderr: 0.25})
    assert.deepEqual(meanStderr([1]), {mean: 1, stderr: null})
    const m = aggregate([{acc: 1, accNorm: 0}, {acc: 0, accNorm: 0}, {acc: 1, accNorm: 1}, {acc: 1, accNorm: 1}], ['acc', 'acc_norm'])
    assert.deepEqual(m, {n: 4, acc: 0.75, acc_stderr: 0.25, acc_norm: 0.5, acc_norm_stderr: Math.sqrt(1 / 3) / 2})
    assert.deepEqual(Object.keys(aggregate([{acc: 1, accNorm: 1}, {acc: 0, accNorm: 0}], ['acc'])), ['n', 'acc', 'acc_stderr'])
  })

  it('Python whitespace: strip takes \\x1c and \\x85 but keeps U+FEFF', () => {
    assert.equal(pyStrip('\x1c a \x85'), 'a')
    assert.equal(pyStrip('\ufeffa'), '\ufeffa')
  })
})
