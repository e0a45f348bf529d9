import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readModel } from '../../../../src/main/engine/onnx/model-io.js';
import { defaultWordListPath, readWordList } from '../../../../src/main/engine/diffusion/tokenizer/word-list.js';
import { estimateBigrams } from './bigram.js';
import { idToText, wordIds, writeByteLevelTokenizer } from './byte-level-bpe.js';
import { writeGpt2Fixture } from './gpt2-fixture.js';
import { fixtureBpe } from './words.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'is-hf-fx-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('byte-level BPE fixture tokenizer', () => {
  it('transformers.js encodes every demo word as one token, with and without a leading space (GPT-2 layout)', async () => {
    const bpe = fixtureBpe();
    const dir = path.join(tmp, 'gpt2-tok');
    await writeByteLevelTokenizer(dir, bpe);
    const t = await import('@huggingface/transformers');
    const tok = await t.AutoTokenizer.from_pretrained(dir);
    const words = readWordList(defaultWordListPath());
    const split = words.filter(
      (w) => tok.encode(w, { add_special_tokens: false }).length !== 1 || tok.encode(` ${w}`, { add_special_tokens: false }).length !== 1,
    );
    expect(split).toEqual([]);
    const text = 'a red cat on a blue sofa, oil painting';
    expect(tok.encode(text, { add_special_tokens: false })).toEqual(wordIds(bpe, text));
    expect(tok.decode(wordIds(bpe, text))).toBe(text);
    expect(tok.encode('<|endoftext|>', { add_special_tokens: false })).toEqual([bpe.eosId]);
    expect(bpe.eosId).toBe(bpe.size - 1);
    expect(idToText(bpe)[bpe.vocab.get('\u0120cat')!]).toBe(' cat');
  });

  it('BART layout: specials first, encodings wrapped in <s> ... </s>', async () => {
    const bpe = fixtureBpe([], 'bart');
    expect([...bpe.specials]).toEqual([
      ['<s>', 0],
      ['<pad>', 1],
      ['</s>', 2],
      ['<unk>', 3],
      ['<mask>', bpe.size - 1],
    ]);
    const dir = path.join(tmp, 'bart-tok');
    await writeByteLevelTokenizer(dir, bpe);
    const t = await import('@huggingface/transformers');
    const tok = await t.AutoTokenizer.from_pretrained(dir);
    expect(tok.encode('a green frog')).toEqual([0, ...wordIds(bpe, 'a green frog'), 2]);
    expect(tok.decode(tok.encode('a green frog'), { skip_special_tokens: true })).toBe('a green frog');
  });
});

describe('smoothed bigram tables', () => {
  it('every row is a distribution; seen pairs follow Witten-Bell, unseen contexts the add-one unigram', () => {
    const V = 7;
    // Tokens: 0 = boundary, 1..5 words, 6 never used. Corpus A: "1 2 3", "1 2 4"; corpus B: "5".
    const t = estimateBigrams(
      [
        [
          [1, 2, 3],
          [1, 2, 4],
        ],
        [[5]],
      ],
      V,
      0,
      0,
    );
    expect(t.classes).toBe(2);
    for (let r = 0; r < t.rows; r++) {
      for (let k = 0; k < t.classes; k++) {
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(t.logProbs[(r * t.classes + k) * V + v]!);
        expect(sum).toBeCloseTo(1, 5);
      }
    }
    const p = (ctx: number, k: number, v: number) => Math.exp(t.logProbs[(t.contextOf[ctx]! * t.classes + k) * V + v]!);
    // Corpus A: 8 pairs; Puni(3) = (1 + 1) / (8 + 7). Context 2 is followed by 3 and 4 once each.
    expect(p(2, 0, 3)).toBeCloseTo((1 + 2 * (2 / 15)) / (2 + 2), 6);
    // Token 6 is never a context: the shared unseen row, i.e. each corpus's unigram.
    expect(t.contextOf[6]).toBe(0);
    expect(p(6, 0, 1)).toBeCloseTo(3 / 15, 6);
    // Corpus B (2 pairs) never saw context 1: its unigram there.
    expect(p(1, 1, 5)).toBeCloseTo(2 / 9, 6);
  });
});

describe('GPT-2 fixture files', () => {
  it('writes the Xenova/gpt2 file set with the export I/O names', async () => {
    const fx = await writeGpt2Fixture(tmp);
    expect(fx.dir).toBe(path.join(tmp, 'Xenova', 'gpt2'));
    for (const f of [
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'special_tokens_map.json',
      'vocab.json',
      'merges.txt',
    ]) {
      await expect(readFile(path.join(fx.dir, f))).resolves.toBeDefined();
    }
    const config = JSON.parse(await readFile(path.join(fx.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'gpt2', vocab_size: fx.bpe.size, n_layer: 2, n_head: 2, eos_token_id: fx.bpe.eosId });
    const model = await readModel(path.join(fx.dir, 'onnx', 'decoder_model_merged.onnx'));
    expect(model.graph.inputs.map((i) => i.name)).toEqual([
      'input_ids',
      'attention_mask',
      'position_ids',
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
      'use_cache_branch',
    ]);
    expect(model.graph.outputs.map((o) => o.name)).toEqual([
      'logits',
      'present.0.key',
      'present.0.value',
      'present.1.key',
      'present.1.value',
    ]);
    // transformers.js sizes the empty first-step cache from these symbolic dims.
    expect(model.graph.inputs[3]!.shape).toEqual(['batch_size', 2, 'past_sequence_length', 4]);
  });
});
