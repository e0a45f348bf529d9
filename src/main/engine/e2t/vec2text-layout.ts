/**
 * The vec2text-style decoder of the EDITOR reference (a T5-base inverter reading the 768-d EOS
 * vector, plus a corrector iterated 20 times with beam 4, re-ranked by cosine), as ONNX
 * exports. This module fixes the folder layout the decoder will load and validates it; the
 * decoder itself is tracked as follow-up work (see docs/inversion.md).
 *
 * Layout (one folder per published checkpoint, exported with Optimum's seq2seq exporter):
 *   inverter/   embedding_projection.onnx   eos [B,768] f32 -> inputs_embeds [B,S,768]
 *               encoder_model.onnx          inputs_embeds, attention_mask -> last_hidden_state
 *               decoder_model_merged.onnx   input_ids, encoder_hidden_states, past_key_values.* -> logits
 *   corrector/  embedding_projection.onnx   (target, hypothesis, target-hypothesis) [B,3,768] -> inputs_embeds
 *               encoder_model.onnx, decoder_model_merged.onnx   (as above; the hypothesis text is appended)
 *   tokenizer.json, config.json           T5 tokenizer and the vec2text config (num_repeat_tokens etc.)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../errors.js';

export const VEC2TEXT_FILES = [
  'inverter/embedding_projection.onnx',
  'inverter/encoder_model.onnx',
  'inverter/decoder_model_merged.onnx',
  'corrector/embedding_projection.onnx',
  'corrector/encoder_model.onnx',
  'corrector/decoder_model_merged.onnx',
  'tokenizer.json',
  'config.json',
] as const;

/** Reference decoding settings (DESIGN §3). */
export const VEC2TEXT_DEFAULTS = { correctionSteps: 20, beam: 4, embeddingDim: 768 } as const;

/** Throws EngineError('MODEL_FOLDER') naming every missing file. */
export function validateVec2TextFolder(dir: string): void {
  const missing = VEC2TEXT_FILES.filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length > 0) {
    throw new EngineError(
      'MODEL_FOLDER',
      `${dir} is not a vec2text E2T export: missing ${missing.join(', ')}. ` +
        'Export the inverter and corrector with the layout in src/main/engine/e2t/vec2text-layout.ts, or use the training-free decoder (--e2t hotflip).',
    );
  }
}
