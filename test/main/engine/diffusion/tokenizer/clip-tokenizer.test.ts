import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../../../src/main/engine/errors.js';
import { BYTE_ALPHABET, fromByteLevel, toByteLevel } from '../../../../../src/main/engine/diffusion/tokenizer/byte-level.js';
import { ClipTokenizer, loadClipTokenizer } from '../../../../../src/main/engine/diffusion/tokenizer/clip-tokenizer.js';
import { trainDemoBpe, writeTokenizerFiles, type TrainedBpe } from '../../../../../src/main/engine/diffusion/tokenizer/train.js';

const WORDS = [
  'a',
  'photo',
  'of',
  'cat',
  'dog',
  'red',
  'hat',
  'the',
  'in',
  'on',
  'forest',
  'painting',
  'it',
  "it's",
  "don't",
  'cafe',
  'café',
  'watercolor',
  'sitting',
  'snowy',
];
const BPE: TrainedBpe = trainDemoBpe(WORDS, { vocabSize: 2000 });
const tok = new ClipTokenizer(BPE.vocab, BPE.merges);
const id = (t: string): number => {
  const v = tok.tokenToId(t);
  if (v === undefined) throw new Error(`no token ${t}`);
  return v;
};

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'tok-'));
}

describe('byte-level alphabet', () => {
  it('is the GPT-2/CLIP table: printable bytes first, then U+0100.. for the rest', () => {
    expect(BYTE_ALPHABET).toHaveLength(256);
    expect(new Set(BYTE_ALPHABET).size).toBe(256);
    expect(BYTE_ALPHABET[0]).toBe('!');
    expect(BYTE_ALPHABET[93]).toBe('~');
    expect(BYTE_ALPHABET[94]).toBe('¡');
    expect(BYTE_ALPHABET[188]).toBe('Ā'); // byte 0
    expect(toByteLevel(' ')).toBe('Ġ'); // byte 0x20 -> U+0120
    expect(toByteLevel('é')).toBe('Ã©');
    expect(fromByteLevel(toByteLevel('ünïcødé 🎨 日本'))).toBe('ünïcødé 🎨 日本');
  });
});

describe('ClipTokenizer.encode', () => {
  it('lowercases, collapses whitespace and splits punctuation like CLIP', () => {
    const e = tok.encode('  A   Photo\tof a CAT!\n');
    expect(e.tokens).toEqual(['<|startoftext|>', 'a</w>', 'photo</w>', 'of</w>', 'a</w>', 'cat</w>', '!</w>', '<|endoftext|>']);
    expect(e.length).toBe(8);
    expect(e.truncated).toBeNull();
  });

  it('produces 77 ids: BOS, tokens, EOS, then EOS padding (SD 1.x)', () => {
    const e = tok.encode('a red hat');
    expect(e.ids).toBeInstanceOf(Int32Array);
    expect(e.ids).toHaveLength(77);
    expect(Array.from(e.ids.subarray(0, 5))).toEqual([
      id('<|startoftext|>'),
      id('a</w>'),
      id('red</w>'),
      id('hat</w>'),
      id('<|endoftext|>'),
    ]);
    expect(e.ids.subarray(5).every((v) => v === tok.eosId)).toBe(true);
    expect(tok.bosId).toBe(Object.keys(BPE.vocab).length - 2);
    expect(tok.eosId).toBe(Object.keys(BPE.vocab).length - 1);
  });

  it('pads with "!" (id 0) when the tokenizer config says so (SD 2.x)', () => {
    const sd2 = new ClipTokenizer(BPE.vocab, BPE.merges, { padToken: '!' });
    const e = sd2.encode('a cat');
    expect(sd2.padId).toBe(0);
    expect(Array.from(e.ids.subarray(0, 5))).toEqual([sd2.bosId, id('a</w>'), id('cat</w>'), sd2.eosId, 0]);
    expect(sd2.decode(e.ids)).toBe('a cat');
  });

  it('keeps contractions, digits one by one, and handles NFC/NFD and unknown words via bytes', () => {
    expect(tok.encode("it's").tokens.slice(1, -1)).toEqual(['it</w>', "'s</w>"]);
    expect(tok.encode('2024').tokens.slice(1, -1)).toEqual(['2</w>', '0</w>', '2</w>', '4</w>']);
    expect(Array.from(tok.encode('cafe\u0301').ids)).toEqual(Array.from(tok.encode('café').ids));
    const weird = tok.encode('zq 🎨');
    expect(weird.tokens.slice(1, -1).join('')).toBe(toByteLevel('zq').replace(/q$/, 'q</w>') + toByteLevel('🎨') + '</w>');
    expect(tok.decode(weird.ids)).toBe('zq 🎨');
    // special tokens typed in the prompt are recognised
    expect(tok.encode('a<|endoftext|>cat').ids[2]).toBe(tok.eosId);
  });

  it('reports the truncated tail with the words as typed', () => {
    const many = Array.from({ length: 80 }, (_, i) => (i % 2 ? 'Red' : 'cat')).join(' ') + ' in the Forest';
    const e = tok.encode(many);
    expect(e.length).toBe(77);
    expect(e.ids[76]).toBe(tok.eosId);
    expect(e.truncated).not.toBeNull();
    // 75 content tokens fit; words 76..80 (Red, cat, ...) plus "in the Forest" are dropped
    expect(e.truncated!.words).toEqual(['Red', 'cat', 'Red', 'cat', 'Red', 'in', 'the', 'Forest']);
    expect(e.truncated!.text).toBe('Red cat Red cat Red in the Forest');
    expect(tok.countTokens(many)).toBe(83);
  });

  it('a word split across the limit counts as dropped; maxLength caps shorter (inversion uses 32)', () => {
    const prompt = 'a a a zzzzzz';
    const z = tok.countTokens('zzzzzz');
    expect(z).toBeGreaterThan(1);
    const e = tok.encode(prompt, { maxLength: 2 + 3 + 1 });
    expect(e.length).toBe(6);
    expect(e.truncated).toEqual({ text: 'zzzzzz', words: ['zzzzzz'] });
    expect(e.ids).toHaveLength(77);
    const short = tok.encode(Array(40).fill('cat').join(' '), { maxLength: 32 });
    expect(short.length).toBe(32);
    expect(short.truncated!.words).toHaveLength(10);
    expect(() => tok.encode('x', { maxLength: 78 })).toThrow(EngineError);
  });

  it('handles the empty prompt', () => {
    const e = tok.encode('   ');
    expect(e.length).toBe(2);
    expect(e.tokens).toEqual(['<|startoftext|>', '<|endoftext|>']);
    expect(tok.countTokens('')).toBe(0);
  });

  it('says which typed word each token came from (spans), also for multi-token and non-ASCII words', () => {
    const text = 'a  zebrafish, café cat';
    const e = tok.encode(text);
    expect(e.spans).toHaveLength(e.length);
    expect(e.spans[0]).toBeNull();
    expect(e.spans[e.length - 1]).toBeNull();
    const typed = e.spans.slice(1, -1).map((s) => text.slice(s!.start, s!.end));
    // 'zebrafish' is not in the vocabulary: several tokens, all pointing at the same word.
    expect(new Set(typed)).toEqual(new Set(['a', 'zebrafish', ',', 'café', 'cat']));
    expect(typed.filter((w) => w === 'zebrafish').length).toBeGreaterThan(1);
    expect(tok.tokenizeWithSpans(text).map((t) => t.id)).toEqual(tok.tokenize(text));
    // Truncated encodings keep one span per kept position.
    const short = tok.encode('a red hat on the cat', { maxLength: 5 });
    expect(short.spans).toHaveLength(5);
    expect(short.spans.slice(1, -1).map((s) => 'a red hat on the cat'.slice(s!.start, s!.end))).toEqual(['a', 'red', 'hat']);
  });
});

describe('ClipTokenizer.decode', () => {
  it('round-trips normalised text, stops at EOS, skips BOS', () => {
    const text = 'a photo of a cat in the snowy forest';
    expect(tok.decode(tok.encode(text).ids)).toBe(text);
    expect(tok.decode(tok.encode('A Photo, of  a CAT!').ids)).toBe('a photo , of a cat !');
    expect(tok.decode([id('red</w>'), id('hat</w>')])).toBe('red hat');
    expect(tok.decode(tok.encode('a cat').ids, { skipSpecialTokens: false })).toMatch(/^<\|startoftext\|> a cat <\|endoftext\|>/);
    expect(tok.decodeToken(id('painting</w>'))).toBe('painting');
  });
});

describe('loadClipTokenizer', () => {
  it('loads vocab.json + merges.txt written by writeTokenizerFiles (model folder or tokenizer folder)', async () => {
    const dir = tempDir();
    await writeTokenizerFiles(path.join(dir, 'tokenizer'), BPE);
    for (const p of [dir, path.join(dir, 'tokenizer')]) {
      const loaded = await loadClipTokenizer(p);
      expect(Array.from(loaded.encode("a cat, it's snowy").ids)).toEqual(Array.from(tok.encode("a cat, it's snowy").ids));
      expect(loaded.padId).toBe(tok.eosId);
      expect(loaded.contextLength).toBe(77);
    }
  });

  it('reads the pad token from tokenizer_config.json / special_tokens_map.json ({content} form too)', async () => {
    const dir = tempDir();
    await writeTokenizerFiles(dir, BPE, { padToken: '!' });
    expect((await loadClipTokenizer(dir)).padId).toBe(0);
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 77 }));
    writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: { content: '!', lstrip: false } }));
    expect((await loadClipTokenizer(dir)).padId).toBe(0);
  });

  it('loads a tokenizer.json (HF fast format) with the same result', async () => {
    const dir = tempDir();
    const json = {
      version: '1.0',
      added_tokens: [
        { id: tok.bosId, content: '<|startoftext|>', special: true },
        { id: tok.eosId, content: '<|endoftext|>', special: true },
      ],
      model: {
        type: 'BPE',
        unk_token: '<|endoftext|>',
        continuing_subword_prefix: '',
        end_of_word_suffix: '</w>',
        vocab: Object.fromEntries(Object.entries(BPE.vocab).filter(([k]) => !k.startsWith('<|'))),
        merges: BPE.merges.map((m) => m.split(' ')), // newer files store pairs
      },
    };
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    const loaded = await loadClipTokenizer(dir);
    expect(Array.from(loaded.encode('a photo of a dog on the red hat').ids)).toEqual(
      Array.from(tok.encode('a photo of a dog on the red hat').ids),
    );
  });

  it('names missing files and rejects malformed ones', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(BPE.vocab));
    await expect(loadClipTokenizer(dir)).rejects.toThrow(/merges\.txt/);
    writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\na b c\n');
    await expect(loadClipTokenizer(dir)).rejects.toMatchObject({ code: 'INVALID_MODEL' });
    const empty = tempDir();
    mkdirSync(path.join(empty, 'unet'));
    await expect(loadClipTokenizer(empty)).rejects.toMatchObject({ code: 'MODEL_FOLDER' });
    const gpt2 = tempDir();
    writeFileSync(path.join(gpt2, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: {}, end_of_word_suffix: '' } }));
    await expect(loadClipTokenizer(gpt2)).rejects.toThrow(/not a CLIP tokenizer/);
  });

  // The real SD 1.5 tokenizer (openai/clip-vit-large-patch14 vocabulary), where present.
  const REAL = process.env.INVERSION_STUDIO_CLIP_TOKENIZER ?? path.resolve(process.cwd(), '../shared/fixtures/clip-tokenizer');
  it.skipIf(!existsSync(path.join(REAL, 'vocab.json')) && !existsSync(path.join(REAL, 'tokenizer.json')))(
    `matches known SD 1.5 ids (needs a CLIP tokenizer folder at ${REAL})`,
    async () => {
      const real = await loadClipTokenizer(REAL);
      expect(Array.from(real.encode('a photo of a cat').ids.subarray(0, 8))).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 49407]);
    },
  );
});

describe('vocabulary accessors', () => {
  it('exposes the id space and token lookups', () => {
    expect(tok.vocabSize).toBe(Object.keys(BPE.vocab).length);
    expect(tok.idToToken(0)).toBe('!');
    expect(tok.tokenToId('cat</w>')).toBe(id('cat</w>'));
    expect(tok.tokenToId('no-such-token')).toBeUndefined();
  });
});
