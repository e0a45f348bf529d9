/**
 * A tiny stand-in for `Xenova/gpt2` in the hub repo's file layout, for testing the real
 * transformers.js loader offline: GPT-2 config/tokenizer files and an ONNX decoder with GPT-2's
 * I/O (input_ids, attention_mask, position_ids, past_key_values.* -> logits, present.*) whose
 * logits are a smoothed bigram model of a small corpus of prompt-like sentences.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { estimateBigrams, type BigramTables } from './bigram.js';
import { wordIds, writeByteLevelTokenizer, type ByteLevelBpe } from './byte-level-bpe.js';
import { buildGpt2Decoder, gpt2ConfigFields } from './gpt2-decoder.js';
import { corpusWords, fixtureBpe } from './words.js';

/** Prompt-like sentences the fixture LM is estimated from (every word is in the demo word list). */
export const GPT2_FIXTURE_CORPUS: readonly string[] = [
  'a red cat on a blue sofa',
  'a red cat sleeping on a wooden table',
  'a black dog running on the beach',
  'a blue boat on the sea at sunset',
  'a green frog sitting on a leaf',
  'an oil painting of a house near a lake',
  'a bowl of fruit on a wooden table',
  'a white horse in a field of yellow flowers',
  'a small bird on a branch in the snow',
  'a portrait of an old man, oil painting',
  'a castle on a mountain at night',
  'a cup of coffee on a table',
];

export interface Gpt2FixtureOptions {
  /** `hub`: <cacheDir>/Xenova/gpt2 (a copied hub folder); `manifest`: <cacheDir>/models/gpt2 (what `models download gpt2` writes). */
  layout?: 'hub' | 'manifest';
  /** Which ONNX files to write under onnx/: the merged decoder (the manifest's file), model.onnx, or both. */
  onnxFiles?: ('decoder_model_merged' | 'model')[];
  corpus?: readonly string[];
}

export interface Gpt2Fixture {
  /** The repo folder. */
  dir: string;
  bpe: ByteLevelBpe;
  tables: BigramTables;
}

export const GPT2_FIXTURE_SHAPE = { nLayer: 2, nHead: 2, headDim: 4 } as const;

export async function writeGpt2Fixture(cacheDir: string, opts: Gpt2FixtureOptions = {}): Promise<Gpt2Fixture> {
  const corpus = opts.corpus ?? GPT2_FIXTURE_CORPUS;
  const dir = opts.layout === 'manifest' ? path.join(cacheDir, 'models', 'gpt2') : path.join(cacheDir, 'Xenova', 'gpt2');
  const bpe = fixtureBpe(corpusWords(corpus));
  const tables = estimateBigrams([corpus.map((s) => wordIds(bpe, s))], bpe.size, bpe.eosId, bpe.eosId);
  const { nLayer, nHead, headDim } = GPT2_FIXTURE_SHAPE;
  await mkdir(path.join(dir, 'onnx'), { recursive: true });
  await writeByteLevelTokenizer(dir, bpe);
  const config = {
    _name_or_path: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    ...gpt2ConfigFields(bpe.size, nLayer, nHead, headDim),
    task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(
    path.join(dir, 'generation_config.json'),
    JSON.stringify({ _from_model_config: true, bos_token_id: bpe.eosId, eos_token_id: bpe.eosId }, null, 2),
  );
  const model = buildGpt2Decoder({ tables, nLayer, nHead, headDim, positionIds: true, useCacheBranch: true });
  for (const f of opts.onnxFiles ?? ['decoder_model_merged']) await writeModel(model, path.join(dir, 'onnx', `${f}.onnx`));
  return { dir, bpe, tables };
}
