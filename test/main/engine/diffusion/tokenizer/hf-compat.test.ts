/**
 * Cross-check against Hugging Face's own JS tokenizer (@huggingface/tokenizers, which
 * transformers.js uses) on the same vocabulary, with the tokenizer.json that HF's CLIP converter
 * produces (NFC + whitespace + lowercase normaliser, CLIP split pattern, ByteLevel, RobertaProcessing).
 * Skips when the package is not installed (it comes with @huggingface/transformers).
 */
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../../../../src/main/engine/diffusion/tokenizer/clip-tokenizer.js';
import { trainDemoBpe } from '../../../../../src/main/engine/diffusion/tokenizer/train.js';
import { defaultWordListPath, readWordList } from '../../../../../src/main/engine/diffusion/tokenizer/word-list.js';

type HfTokenizer = { encode(text: string): { ids: number[] } };
type HfModule = { Tokenizer: new (json: object, config: object) => HfTokenizer };

async function loadHf(): Promise<HfModule | null> {
  try {
    const name = '@huggingface/tokenizers';
    return (await import(/* @vite-ignore */ name)) as HfModule;
  } catch {
    return null;
  }
}
const hf = await loadHf();

const PROMPTS = [
  'a photo of a cat',
  'A  Portrait of an old Knight, oil painting, dramatic lighting!!',
  "it's a dog's life -- don't worry",
  'cafe\u0301 au lait 2024 at 5:30pm',
  'zebra-striped teapot 🎨 日本語 naïve Ωmega',
  'watercolor landscape with mountains and a river at sunset; highly detailed, 8k',
  '<|startoftext|>hello<|endoftext|> world',
];

describe.skipIf(hf === null)('agreement with @huggingface/tokenizers (install @huggingface/transformers to run)', () => {
  it('gives the same ids on the demo vocabulary', () => {
    const bpe = trainDemoBpe(readWordList(defaultWordListPath()), { vocabSize: 3000 });
    const ours = new ClipTokenizer(bpe.vocab, bpe.merges);
    const bos = ours.bosId;
    const eos = ours.eosId;
    const json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [
        { id: bos, content: '<|startoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
        { id: eos, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
      ],
      normalizer: {
        type: 'Sequence',
        normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
      },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          {
            type: 'Split',
            pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
            behavior: 'Removed',
            invert: true,
          },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: {
        type: 'RobertaProcessing',
        sep: ['<|endoftext|>', eos],
        cls: ['<|startoftext|>', bos],
        trim_offsets: false,
        add_prefix_space: false,
      },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<|endoftext|>',
        continuing_subword_prefix: '',
        end_of_word_suffix: '</w>',
        fuse_unk: false,
        byte_fallback: false,
        vocab: bpe.vocab,
        merges: bpe.merges,
      },
    };
    const theirs = new hf!.Tokenizer(json, { model_max_length: 77, bos_token: '<|startoftext|>', eos_token: '<|endoftext|>' });
    for (const p of PROMPTS) {
      const mine = ours.encode(p);
      expect(Array.from(mine.ids.subarray(0, mine.length)), p).toEqual(theirs.encode(p).ids);
    }
  });
});
