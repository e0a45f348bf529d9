/**
 * Execution-provider choice. `auto` picks the GPU provider that ships for the platform
 * (CUDA on Linux when its libraries were installed, DirectML on Windows, CoreML on macOS) and
 * CPU otherwise; an explicit choice is tried first. CPU always ends the list: a GPU provider that
 * fails to start falls back to it (createSession reports that as a warning).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

export const PROVIDER_CHOICES = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ProviderChoice = (typeof PROVIDER_CHOICES)[number];
export type ExecutionProvider = Exclude<ProviderChoice, 'auto'>;

export function isProviderChoice(v: string): v is ProviderChoice {
  return (PROVIDER_CHOICES as readonly string[]).includes(v);
}

/** Backends compiled into this onnxruntime-node build (name, and whether its libraries ship in the package). */
export function supportedBackends(): { name: string; bundled: boolean }[] {
  try {
    return (
      (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends?.() ?? [
        { name: 'cpu', bundled: true },
      ]
    );
  } catch {
    return [{ name: 'cpu', bundled: true }];
  }
}

let cudaLibCache: boolean | undefined;

/**
 * Whether the CUDA provider library is present next to the onnxruntime-node binding. It is not
 * bundled in the npm package: on Linux it is downloaded at install time unless the project's
 * `.npmrc` skips it (see README: CUDA opt-in).
 */
export function cudaProviderInstalled(): boolean {
  if (cudaLibCache !== undefined) return cudaLibCache;
  cudaLibCache = false;
  try {
    const req = createRequire(import.meta.url);
    const root = path.dirname(path.dirname(req.resolve('onnxruntime-node')));
    const bin = path.join(root, 'bin');
    for (const napi of readdirSync(bin)) {
      const dir = path.join(bin, napi, process.platform, process.arch);
      if (existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('libonnxruntime_providers_cuda'))) cudaLibCache = true;
    }
  } catch {
    /* layout unknown: treat as not installed */
  }
  return cudaLibCache;
}

export interface ProviderEnvironment {
  platform: NodeJS.Platform;
  backends: string[];
  cudaInstalled: boolean;
}

function currentEnvironment(): ProviderEnvironment {
  return { platform: process.platform, backends: supportedBackends().map((b) => b.name), cudaInstalled: cudaProviderInstalled() };
}

/** The GPU provider `auto` would use on this platform, if any is usable. */
export function autoGpuProvider(env: ProviderEnvironment = currentEnvironment()): ExecutionProvider | undefined {
  if (env.platform === 'linux' && env.backends.includes('cuda') && env.cudaInstalled) return 'cuda';
  if (env.platform === 'win32' && env.backends.includes('dml')) return 'dml';
  if (env.platform === 'darwin' && env.backends.includes('coreml')) return 'coreml';
  return undefined;
}

/** Providers to try in order for a choice; always ends with 'cpu'. */
export function providerCandidates(choice: ProviderChoice, env: ProviderEnvironment = currentEnvironment()): ExecutionProvider[] {
  if (choice === 'cpu') return ['cpu'];
  if (choice === 'auto') {
    const gpu = autoGpuProvider(env);
    return gpu ? [gpu, 'cpu'] : ['cpu'];
  }
  return [choice, 'cpu'];
}
