/**
 * The prompt editor's live token counter: every token of a prompt with the span of text it came
 * from, how many fit in the text encoder's window, and what is dropped past it.
 */
import type { ClipTokenizer } from './clip-tokenizer.js';

export interface CountedToken {
  id: number;
  /** The token's text (BPE piece with `</w>` stripped). */
  text: string;
  /** [start, end) in the prompt as given; absent when the prompt is not in Unicode NFC (spans are offsets in its NFC form). */
  start?: number;
  end?: number;
}

export interface TokenCount {
  /** All prompt tokens (no BOS/EOS), including those past the limit. */
  tokens: CountedToken[];
  count: number;
  /** Prompt tokens the text encoder reads: its context length minus BOS and EOS (75 for CLIP). */
  limit: number;
  truncated: boolean;
  /** Character offset in the prompt where the dropped part starts; null when nothing is dropped. */
  droppedFrom: number | null;
  /** The words the model will not see. */
  droppedWords: string[];
}

/**
 * Count the tokens of `text` under `tok`.
 * @param caps bound the lists for a message (tokens and dropped words at most `maxItems`, each
 *   text at most `maxTextChars` characters); `count` is always the full number
 */
export function countTokens(tok: ClipTokenizer, text: string, caps: { maxItems?: number; maxTextChars?: number } = {}): TokenCount {
  const maxItems = caps.maxItems ?? Infinity;
  const maxText = caps.maxTextChars ?? Infinity;
  const tokens = tok.tokenizeWithSpans(text);
  const enc = tok.encode(text);
  const src = text.normalize('NFC');
  // Spans are offsets in the NFC form; they are only offsets in `text` when that is NFC too.
  const spansApply = src === text;
  return {
    tokens: tokens
      .slice(0, maxItems)
      .map(({ id, start, end }) => ({ id, text: tok.decodeToken(id).slice(0, maxText), ...(spansApply ? { start, end } : {}) })),
    count: tokens.length,
    limit: tok.contextLength - 2,
    truncated: enc.truncated !== null,
    droppedFrom: enc.truncated ? Math.max(0, src.trimEnd().length - enc.truncated.text.length) : null,
    droppedWords: (enc.truncated?.words ?? []).slice(0, maxItems).map((w) => w.slice(0, maxText)),
  };
}
