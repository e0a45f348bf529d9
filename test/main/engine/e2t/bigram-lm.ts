/**
 * A real (if tiny) language model for the E2T tests: a word-bigram model estimated from a small
 * corpus of captions with the fixture decoders' estimator (hf/testing/bigram.ts: Witten-Bell
 * interpolation with an add-one unigram), over a closed vocabulary (the demo word list). It
 * implements LanguageModel with the same conventions as the GPT-2 one: BOS-conditioned mean
 * token NLL in nats, and the most likely next whole words after a prefix.
 *
 * The estimate is over the vocabulary, the corpus's other words, an unknown word and a text
 * boundary (begin = end, as GPT-2's <|endoftext|>). Texts are scored word by word without their
 * end, so P(w | v) here is the next word given that the text goes on: the estimate divided by
 * the mass of the vocabulary words after v, which makes it a distribution over the vocabulary.
 * A word outside the vocabulary and the corpus gets the unknown word's (add-one floor) estimate.
 */
import type { LanguageModel } from '../../../../src/main/engine/e2t/language-model.js';
import { estimateBigrams, type BigramTables } from '../hf/bigram.js';

const words = (text: string): string[] => text.trim().split(/\s+/).filter(Boolean);

export class BigramLm implements LanguageModel {
  readonly name = 'bigram';
  /** Every prefix asked for and text scored, in order (for tests that check caching). */
  readonly calls: { prefixes: string[]; texts: string[] } = { prefixes: [], texts: [] };
  private readonly vocab: string[];
  /** Word -> token id: the vocabulary first (ids 0 .. |vocab| - 1), then the corpus's other words. */
  private readonly ids = new Map<string, number>();
  private readonly unknown: number;
  private readonly boundary: number;
  private readonly tables: BigramTables;
  /** Per context row: log of the estimated probability of the vocabulary words. */
  private readonly logMass: Float64Array;

  constructor(corpus: readonly string[], vocabulary: readonly string[]) {
    this.vocab = [...new Set(vocabulary)];
    const lines = corpus.map(words);
    for (const w of [...this.vocab, ...lines.flat()]) if (!this.ids.has(w)) this.ids.set(w, this.ids.size);
    this.unknown = this.ids.size;
    this.boundary = this.unknown + 1;
    const seqs = lines.map((ws) => ws.map((w) => this.ids.get(w)!));
    this.tables = estimateBigrams([seqs], this.boundary + 1, this.boundary, this.boundary);
    const { rows, vocabSize, logProbs } = this.tables;
    this.logMass = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const off = r * vocabSize;
      let max = -Infinity;
      for (let v = 0; v < this.vocab.length; v++) max = Math.max(max, logProbs[off + v]!);
      let sum = 0;
      for (let v = 0; v < this.vocab.length; v++) sum += Math.exp(logProbs[off + v]! - max);
      this.logMass[r] = max + Math.log(sum);
    }
  }

  /** log P(w | prev) in nats; prev undefined = start of text. */
  private logProb(prev: string | undefined, w: string): number {
    const { contextOf, vocabSize, logProbs } = this.tables;
    const row = contextOf[prev === undefined ? this.boundary : (this.ids.get(prev) ?? this.unknown)]!;
    return logProbs[row * vocabSize + (this.ids.get(w) ?? this.unknown)]! - this.logMass[row]!;
  }

  /** P(w | prev); prev '<s>' (or undefined) = start of text. */
  prob(prev: string | undefined, w: string): number {
    return Math.exp(this.logProb(prev === '<s>' ? undefined : prev, w));
  }

  async meanNll(texts: string[]): Promise<number[]> {
    this.calls.texts.push(...texts);
    return texts.map((t) => {
      const ws = words(t);
      let nll = 0;
      ws.forEach((w, i) => (nll -= this.logProb(ws[i - 1], w)));
      return ws.length ? nll / ws.length : 0;
    });
  }

  async nextWords(prefix: string, k: number): Promise<{ word: string; logProb: number }[]> {
    this.calls.prefixes.push(prefix);
    const prev = words(prefix).at(-1);
    return this.vocab
      .map((word) => ({ word, logProb: this.logProb(prev, word) }))
      .sort((a, b) => b.logProb - a.logProb || (a.word < b.word ? -1 : 1))
      .slice(0, k);
  }
}

/**
 * Caption corpus the test LM is estimated from: everyday image-prompt sentences over the demo
 * vocabulary, written for these tests. The planted prompts of the decoder tests are not in it.
 */
export const CAPTION_CORPUS: readonly string[] = [
  'a photo of a dog on the grass',
  'a photo of a red car in the street',
  'a photo of a woman in a red dress',
  'a painting of a man with a hat',
  'a painting of a house by the river',
  'an oil painting of a boat at sea',
  'an old man with a beard',
  'an old church in the village',
  'an owl in the forest at night',
  'a cat sitting on a chair',
  'a cat sleeping on a red sofa',
  'a dog sitting on a wooden bench',
  'a dog running in the snow',
  'a bird sitting on a tree',
  'a bird flying in the sky',
  'a horse running in a field',
  'a horse in the snow',
  'a small house in the mountains',
  'a small dog with a blue ball',
  'a big tree in the garden',
  'a green field at sunset',
  'a blue sky over the sea',
  'a boat on the river at dawn',
  'a boat on the sea at night',
  'a ship in a storm',
  'a train in the station',
  'a stone bridge over the river',
  'a stone house in the forest',
  'a stone wall in the garden',
  'a wooden table in the kitchen',
  'a wooden chair by the window',
  'a wooden boat on the beach',
  'a cup of tea on the table',
  'a glass of water on a table',
  'a vase of flowers on the table',
  'a man reading a newspaper',
  'a woman reading a letter',
  'a child playing with a ball',
  'a girl with a red umbrella',
  'a boy with a dog',
  'a castle in the mountains',
  'a city at night in the rain',
  'a street in the city at night',
  'a forest in the snow',
  'a lake in the mountains at sunset',
  'a village by the sea',
  'a red apple on a white plate',
  'a yellow flower in a field',
  'a black cat in the dark',
  'a white cat on a blue blanket',
  'a brown bear in the forest',
  'a knight in armor',
  'a watercolor painting of a garden',
  'a portrait of a man in a suit',
  'the sun over the sea',
  'the moon over the city',
  'the street at night',
  'the beach at sunset',
];
