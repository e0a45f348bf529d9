import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, describe, it } from 'vitest';
import layers from '../../eslint/layers.js';

// RuleTester reports through the test framework's hooks.
Object.assign(RuleTester, { afterAll, describe, it });

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const at = (rel: string): string => path.join(root, rel);
const tester = new RuleTester({ languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' } });

tester.run('project/layers', layers.rules.layers, {
  valid: [
    {
      filename: at('src/main/engine/inversion/invert.ts'),
      code: "import { x } from '../onnx/ir.js'; import * as ort from 'onnxruntime-node'; import fs from 'node:fs';",
    },
    { filename: at('src/main/engine/diffusion/pipeline.ts'), code: "import { parse } from '../../../shared/prompt-syntax.js';" },
    {
      filename: at('src/renderer/views/InvertView.tsx'),
      code: "import { useState } from 'react'; import type { StudioApi } from '../../shared/api.js';",
    },
    { filename: at('src/shared/ipc/requests.ts'), code: "import { z } from 'zod'; import { IdSchema } from './common.js';" },
    {
      filename: at('src/preload/index.ts'),
      code: "import { contextBridge } from 'electron'; import { createStudioApi } from '../shared/client.js';",
    },
    {
      filename: at('test/main/host/engine-host.test.ts'),
      code: "import { createFakeEngine } from './fake-engine.js'; import { EngineHost } from '../../../src/main/host/engine-host.js';",
    },
  ],
  invalid: [
    {
      filename: at('src/main/engine/runtime/session.ts'),
      code: "import { app } from 'electron';",
      errors: [{ message: /engine layer must not import 'electron'/ }],
    },
    {
      filename: at('src/main/engine/models/cache.ts'),
      code: "import { x } from '../../host/paths.js';",
      errors: [{ message: /engine layer must not import the host layer/ }],
    },
    {
      filename: at('src/main/host/library.ts'),
      code: "import { y } from '../../../test/main/host/collector.js';",
      errors: [{ message: /must not import test code/ }],
    },
    {
      filename: at('src/renderer/api/store.ts'),
      code: "import fs from 'node:fs';",
      errors: [{ message: /renderer layer must not import 'node:fs'/ }],
    },
    {
      filename: at('src/renderer/views/LibraryView.tsx'),
      code: "const m = import('../../main/engine/errors.js');",
      errors: [{ message: /renderer layer must not import the engine layer/ }],
    },
    {
      filename: at('src/shared/ipc/jobs.ts'),
      code: "export * from '../../main/engine/errors.js';",
      errors: [{ message: /shared layer must not import the engine layer/ }],
    },
    {
      filename: at('src/shared/api.ts'),
      code: "import React from 'react';",
      errors: [{ message: /shared layer must not import 'react'/ }],
    },
    {
      filename: at('src/main/host/engine-host.ts'),
      code: "import { utilityProcess } from 'electron';",
      errors: [{ message: /host layer must not import 'electron'/ }],
    },
  ],
});
