/**
 * The shapes world's "prompt alignment" and "image fidelity" measures, exact where the papers
 * need a learned model: the checker reads a scene back from an image, `readSlots` from a text,
 * and slot accuracy compares either with the true scene (world/slots.ts: the background plus
 * shape, colour, size and position of each object; missing and extra objects count as wrong).
 */
import { checkImage, readSlots, slotAccuracy, tensorToImage, type Scene, type SlotAccuracy } from '../models/shapes/world/index.js';
import type { TargetImage } from '../inversion/invert.js';

/** Fraction of slots right, 0 when there are none. */
export function slotRatio(a: SlotAccuracy): number {
  return a.total > 0 ? a.correct / a.total : 0;
}

/** Slot accuracy of the scene the checker reads from `image` (CHW [-1, 1]) against the truth. */
export function imageSlotAccuracy(truth: Scene, image: TargetImage): SlotAccuracy {
  return slotAccuracy(truth, checkImage(tensorToImage(image.data, image.width, image.height)).scene);
}

/** Slot accuracy of what a prompt says (readSlots: any word order, unknown words ignored) against the truth. */
export function textSlotAccuracy(truth: Scene, text: string): SlotAccuracy {
  return slotAccuracy(truth, readSlots(text));
}
