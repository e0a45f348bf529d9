/**
 * A world-CLIP folder in the shapes set's layout (`clip/image_encoder.onnx`, `clip/text_encoder.onnx`,
 * `clip/config.json`, tokenizer in `../tokenizer`) built with the shapes set's own graph builders
 * at the tiny architecture, over the demo set's tokenizer, with random weights (the text
 * projection included). Enough to run PEZ and the CLIP metrics end to end.
 */
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TINY_ARCHITECTURE } from '../../../../../src/main/engine/models/shapes/architecture.js';
import { buildClipImageEncoder, buildClipTextEncoder, clipConfig } from '../../../../../src/main/engine/models/shapes/clip.js';
import { makeTensor } from '../../../../../src/main/engine/onnx/builder.js';
import { DataType } from '../../../../../src/main/engine/onnx/dtype.js';
import { writeModel } from '../../../../../src/main/engine/onnx/model-io.js';
import { loadClipTokenizer } from '../../../../../src/main/engine/diffusion/tokenizer/index.js';

/** Deterministic values in [-1, 1). */
function noise(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 31 - 1;
  });
}

/**
 * Write `<dir>/clip/` and `<dir>/tokenizer/` (copied from `tokenizerDir`).
 * @returns `dir`, to pass as the model set folder
 */
export async function writeClipFixture(dir: string, tokenizerDir: string): Promise<string> {
  const arch = TINY_ARCHITECTURE;
  await mkdir(path.join(dir, 'clip'), { recursive: true });
  await cp(tokenizerDir, path.join(dir, 'tokenizer'), { recursive: true });
  const tok = await loadClipTokenizer(path.join(dir, 'tokenizer'));
  const text = buildClipTextEncoder(arch, tok.vocabSize);
  const w = 'text_projection.weight';
  text.graph.initializers.set(
    w,
    makeTensor(w, DataType.FLOAT, [arch.text.hidden, arch.clipDim], noise(arch.text.hidden * arch.clipDim, 3)),
  );
  await writeModel(text, path.join(dir, 'clip', 'text_encoder.onnx'));
  await writeModel(buildClipImageEncoder(arch), path.join(dir, 'clip', 'image_encoder.onnx'));
  await writeFile(path.join(dir, 'clip', 'config.json'), JSON.stringify(clipConfig(arch, Math.log(1 / 0.07)), null, 2));
  return dir;
}
