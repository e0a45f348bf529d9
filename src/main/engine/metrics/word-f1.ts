/**
 * Word-level F1 between a decoded prompt and a reference prompt (bag of words with counts,
 * lower-cased, punctuation stripped). Used by the planted-prompt benchmark and tests.
 */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9']+/)
    .filter((w) => w.length > 0);
}

export function wordF1(candidate: string, reference: string): { precision: number; recall: number; f1: number } {
  const c = words(candidate);
  const r = words(reference);
  if (c.length === 0 && r.length === 0) return { precision: 1, recall: 1, f1: 1 };
  const counts = new Map<string, number>();
  for (const w of r) counts.set(w, (counts.get(w) ?? 0) + 1);
  let overlap = 0;
  for (const w of c) {
    const n = counts.get(w) ?? 0;
    if (n > 0) {
      overlap++;
      counts.set(w, n - 1);
    }
  }
  const precision = c.length ? overlap / c.length : 0;
  const recall = r.length ? overlap / r.length : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}
