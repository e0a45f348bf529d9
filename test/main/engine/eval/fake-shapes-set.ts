/**
 * A model set in the shapes set's layout without training it: the demo set's diffusion
 * components, a shapes stamp in model_index.json (64x64 defaults), the world CLIP fixture
 * (random tiny towers over the demo tokenizer) and an untrained world captioner. Exercises every
 * shapes-only path of the harness (world CLIP, captioner, checker, world LM).
 */
import { cp, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TINY_ARCHITECTURE } from '../../../../src/main/engine/models/shapes/architecture.js';
import { buildCaptionerModel, captionerConfig } from '../../../../src/main/engine/models/shapes/captioner.js';
import { writeModel } from '../../../../src/main/engine/onnx/model-io.js';
import { writeClipFixture } from '../inversion/methods/clip-fixture.js';

export async function writeFakeShapesSet(dir: string, demoDir: string): Promise<string> {
  await cp(demoDir, dir, { recursive: true });
  const index = JSON.parse(await readFile(path.join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  index._inversion_studio = {
    generator: 'shapes',
    version: 1,
    name: 'shapes-fake',
    defaults: { width: 64, height: 64, steps: 2, guidance: 3, scheduler: 'ddim' },
    sizeMultiple: 32,
    nativeSize: 64,
    components: { clip: 'clip/config.json', captioner: 'captioner/config.json' },
    training: {},
  };
  await writeFile(path.join(dir, 'model_index.json'), JSON.stringify(index, null, 2));
  await writeClipFixture(dir, path.join(demoDir, 'tokenizer'));
  await mkdir(path.join(dir, 'captioner'), { recursive: true });
  await writeModel(buildCaptionerModel(TINY_ARCHITECTURE.captioner), path.join(dir, 'captioner', 'model.onnx'));
  await writeFile(path.join(dir, 'captioner', 'config.json'), JSON.stringify(captionerConfig(), null, 2));
  return dir;
}
