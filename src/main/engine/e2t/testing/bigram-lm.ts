/**
 * A real (if tiny) language model for the E2T tests: an interpolated word-bigram model
 * estimated from a small corpus of captions, over a closed vocabulary (the demo word list).
 * It implements LanguageModel with the same conventions as the GPT-2 one: BOS-conditioned mean
 * token NLL in nats, and the most likely next whole words after a prefix.
 *
 *   P(w | v) = λ · c(v, w) / c(v) + (1 - λ) · (c(w) + 1) / (N + |V|)
 *
 * (unigram with add-one smoothing, so every vocabulary word has a probability; words outside
 * the vocabulary get the add-one floor 1 / (N + |V|)).
 */
import type { LanguageModel } from '../language-model.js';

const BOS = '<s>';

export interface BigramLmOptions {
  /** Weight of the bigram estimate (default 0.8). */
  lambda?: number;
}

export class BigramLm implements LanguageModel {
  readonly name = 'bigram';
  /** Every prefix asked for and text scored, in order (for tests that check caching). */
  readonly calls: { prefixes: string[]; texts: string[] } = { prefixes: [], texts: [] };
  private readonly vocab: string[];
  private readonly unigram = new Map<string, number>();
  private readonly bigram = new Map<string, Map<string, number>>();
  private readonly context = new Map<string, number>();
  private readonly total: number;
  private readonly lambda: number;

  constructor(corpus: readonly string[], vocabulary: readonly string[], opts: BigramLmOptions = {}) {
    this.vocab = [...new Set(vocabulary)];
    this.lambda = opts.lambda ?? 0.8;
    let total = 0;
    for (const line of corpus) {
      const words = line.trim().split(/\s+/).filter(Boolean);
      let prev = BOS;
      for (const w of words) {
        this.unigram.set(w, (this.unigram.get(w) ?? 0) + 1);
        total++;
        let row = this.bigram.get(prev);
        if (!row) this.bigram.set(prev, (row = new Map()));
        row.set(w, (row.get(w) ?? 0) + 1);
        this.context.set(prev, (this.context.get(prev) ?? 0) + 1);
        prev = w;
      }
    }
    this.total = total;
  }

  /** P(w | prev). */
  prob(prev: string, w: string): number {
    const uni = ((this.unigram.get(w) ?? 0) + 1) / (this.total + this.vocab.length);
    const ctx = this.context.get(prev) ?? 0;
    if (ctx === 0) return uni;
    const bi = (this.bigram.get(prev)?.get(w) ?? 0) / ctx;
    return this.lambda * bi + (1 - this.lambda) * uni;
  }

  async meanNll(texts: string[]): Promise<number[]> {
    this.calls.texts.push(...texts);
    return texts.map((t) => {
      const words = t.trim().split(/\s+/).filter(Boolean);
      let prev = BOS;
      let nll = 0;
      for (const w of words) {
        nll -= Math.log(this.prob(prev, w));
        prev = w;
      }
      return words.length ? nll / words.length : 0;
    });
  }

  async nextWords(prefix: string, k: number): Promise<{ word: string; logProb: number }[]> {
    this.calls.prefixes.push(prefix);
    const words = prefix.trim().split(/\s+/).filter(Boolean);
    const prev = words.length ? words[words.length - 1]! : BOS;
    return this.vocab
      .map((word) => ({ word, logProb: Math.log(this.prob(prev, word)) }))
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
