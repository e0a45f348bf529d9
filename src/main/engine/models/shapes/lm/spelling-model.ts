/**
 * A character-bigram spelling model for out-of-vocabulary words: P(spelling) = Π P(c_i | c_{i−1})
 * · P(end | c_last), add-k smoothed over a–z, one "other" class and the end mark. It gives any
 * string (a sub-word fragment such as "ange", a typo, a foreign word) a small but non-zero
 * probability, so the language model's NLL of such text is high but finite. Trained on the
 * vocabulary's spellings, fragments of real words score better than random letters.
 */

/** Outcomes per position: 26 letters, "other", end of word. */
const LETTERS = 26;
const OTHER = 26;
const END = 27;
const OUTCOMES = 28;
/** Previous-character states: 26 letters, other, start of word. */
const START = 27;
const STATES = 28;

function charClass(ch: string): number {
  const c = ch.charCodeAt(0) - 97;
  return c >= 0 && c < LETTERS ? c : OTHER;
}

export class SpellingModel {
  private readonly logP: Float64Array; // [STATES × OUTCOMES]

  /**
   * @param words spellings to learn from (lower case)
   * @param smoothing add-k pseudo-count per (state, outcome)
   */
  constructor(words: readonly string[], smoothing: number) {
    const counts = new Float64Array(STATES * OUTCOMES).fill(smoothing);
    for (const w of words) {
      let prev = START;
      for (const ch of w) {
        const c = charClass(ch);
        counts[prev * OUTCOMES + c]!++;
        prev = c;
      }
      counts[prev * OUTCOMES + END]!++;
    }
    this.logP = new Float64Array(STATES * OUTCOMES);
    for (let s = 0; s < STATES; s++) {
      let total = 0;
      for (let o = 0; o < OUTCOMES; o++) total += counts[s * OUTCOMES + o]!;
      for (let o = 0; o < OUTCOMES; o++) this.logP[s * OUTCOMES + o] = Math.log(counts[s * OUTCOMES + o]! / total);
    }
  }

  /** ln P(spelling) (nats, ≤ 0, finite). The empty string is just "end" after "start". */
  logProb(word: string): number {
    let lp = 0;
    let prev = START;
    for (const ch of word.toLowerCase()) {
      const c = charClass(ch);
      lp += this.logP[prev * OUTCOMES + c]!;
      prev = c;
    }
    return lp + this.logP[prev * OUTCOMES + END]!;
  }
}
