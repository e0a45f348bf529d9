/**
 * onnxruntime sessions with provider choice, CPU fallback and the I/O metadata the pipeline needs
 * (element types and symbolic shapes of inputs and outputs, from `session.inputMetadata`).
 */
import { existsSync, statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../errors.js';
import { readModel } from '../onnx/model-io.js';
import { providerCandidates, type ExecutionProvider, type ProviderChoice, type ProviderEnvironment } from './providers.js';

/** Name, element type (onnxruntime's names: 'float32', 'float16', 'int64', ...) and shape of a model input/output. */
export interface TensorInfo {
  name: string;
  type: string;
  /** Numbers for fixed dims, strings for symbolic ones ('batch', 'height', ...). */
  shape: (number | string)[];
}

export interface RuntimeWarning {
  type: 'warning';
  code: 'PROVIDER_FALLBACK';
  message: string;
}

export interface CreateSessionOptions {
  /** Execution provider (default 'auto'). */
  provider?: ProviderChoice;
  /** Intra-op threads (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  /** Receives warnings such as a GPU provider falling back to CPU (default: ignored; they are also in `session.warnings`). */
  onWarning?: (w: RuntimeWarning) => void;
  /** Label used in messages (e.g. 'unet'). */
  name?: string;
  /** Override of the detected platform/backends (tests). */
  environment?: ProviderEnvironment;
  /** Test hook: providers listed here fail to start as if their libraries were broken. */
  simulateProviderFailure?: ExecutionProvider[];
}

export interface Session {
  readonly name: string;
  /** The provider the session actually runs on. */
  readonly provider: ExecutionProvider;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly warnings: readonly RuntimeWarning[];
  /** The underlying onnxruntime session. */
  readonly ort: ort.InferenceSession;
  input(name: string): TensorInfo | undefined;
  output(name: string): TensorInfo | undefined;
  /** Run with the given feeds; returns every output (or only `fetch`). Errors become EngineError('RUNTIME'). */
  run(feeds: Record<string, ort.Tensor>, fetch?: string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

function metadataOf(list: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return list.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

/**
 * The session options of every engine session (createSession, and sessions on edited in-memory
 * models). The intra-op pool does not spin-wait between kernels: the engine alternates several
 * sessions (UNet VJP, VAE, text encoder), and a pool spinning after its run competes for the cores
 * with the next session's work and with the rest of the machine. `npm run bench:grad --
 * --spinning on|off` on the 2-core development box, default pool: about even when the box is
 * idle (forward 183–202 vs 192–251 ms), and with one core busy elsewhere forward 396–411 → 259–280
 * ms, forward+VJP 943–1032 → 742 ms (docs/gradients.md).
 */
export function sessionOptions(provider: ExecutionProvider = 'cpu', threads?: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(threads ? { intraOpNumThreads: threads } : {}),
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/**
 * Create a session from a model file path or encoded model bytes.
 * A GPU provider that fails to start falls back to CPU with a PROVIDER_FALLBACK warning.
 * @throws EngineError('MODEL_FOLDER') when the file is missing, ('INVALID_MODEL') when onnxruntime rejects the model
 */
export async function createSession(pathOrBytes: string | Uint8Array, opts: CreateSessionOptions = {}): Promise<Session> {
  const name = opts.name ?? (typeof pathOrBytes === 'string' ? pathOrBytes : 'model');
  if (typeof pathOrBytes === 'string' && !existsSync(pathOrBytes))
    throw new EngineError('MODEL_FOLDER', `model file ${pathOrBytes} does not exist`);
  const candidates = providerCandidates(opts.provider ?? 'auto', opts.environment);
  const warnings: RuntimeWarning[] = [];
  let lastError: unknown;
  for (const provider of candidates) {
    try {
      if (opts.simulateProviderFailure?.includes(provider)) throw new Error(`simulated failure of the ${provider} execution provider`);
      const s =
        typeof pathOrBytes === 'string'
          ? await ort.InferenceSession.create(pathOrBytes, sessionOptions(provider, opts.threads))
          : await ort.InferenceSession.create(pathOrBytes, sessionOptions(provider, opts.threads));
      return wrap(s, name, provider, warnings);
    } catch (e) {
      lastError = e;
      if (provider === 'cpu') break;
      const w: RuntimeWarning = {
        type: 'warning',
        code: 'PROVIDER_FALLBACK',
        message: `the ${provider} execution provider could not start for ${name} (${firstLine(e)}); using the CPU instead`,
      };
      warnings.push(w);
      opts.onWarning?.(w);
    }
  }
  // onnxruntime's own text is long and technical (and cut off here); when the cause is a file we
  // can check (truncated or missing external weights, a truncated model.onnx), say that instead.
  if (typeof pathOrBytes === 'string') {
    const diagnosis = await diagnoseModelFile(pathOrBytes);
    if (diagnosis) throw new EngineError('INVALID_MODEL', `onnxruntime cannot load ${name}: ${diagnosis.message}`, { cause: lastError });
  }
  throw new EngineError('INVALID_MODEL', `onnxruntime cannot load ${name}: ${firstLine(lastError)}. Re-download or re-export the model.`, {
    cause: lastError,
  });
}

/** Model files up to this size are decoded to explain a load failure (bigger ones are self-contained exports). */
const DIAGNOSE_LIMIT_BYTES = 256 * 1024 * 1024;

/**
 * Why a model file cannot load, when it is something about the files: the model is truncated or
 * not ONNX, or its external data is missing or shorter than its tensors need (readModel's checks,
 * whose messages name the file and the tensor). Undefined when the files look fine.
 */
export async function diagnoseModelFile(file: string): Promise<EngineError | undefined> {
  try {
    if (statSync(file).size > DIAGNOSE_LIMIT_BYTES) return undefined;
    await readModel(file);
    return undefined;
  } catch (e) {
    return e instanceof EngineError ? e : undefined;
  }
}

/** The first line of an error message, at most 400 characters, cut at a word boundary. */
function firstLine(e: unknown): string {
  const line = String((e as Error)?.message ?? e).split('\n')[0]!;
  if (line.length <= 400) return line;
  const cut = line.slice(0, 400);
  const space = cut.lastIndexOf(' ');
  return `${space > 200 ? cut.slice(0, space) : cut}…`;
}

function wrap(s: ort.InferenceSession, name: string, provider: ExecutionProvider, warnings: RuntimeWarning[]): Session {
  const inputs = metadataOf(s.inputMetadata);
  const outputs = metadataOf(s.outputMetadata);
  return {
    name,
    provider,
    inputs,
    outputs,
    warnings,
    ort: s,
    input: (n) => inputs.find((i) => i.name === n),
    output: (n) => outputs.find((i) => i.name === n),
    async run(feeds, fetch) {
      try {
        return (fetch ? await s.run(feeds, fetch) : await s.run(feeds)) as Record<string, ort.Tensor>;
      } catch (e) {
        throw new EngineError('RUNTIME', `${name} failed to run: ${firstLine(e)}`, { cause: e });
      }
    },
    release: () => s.release(),
  };
}
