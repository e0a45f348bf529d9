/**
 * `npm run bench:grad [-- --fraction 0.25 --latent 32 --runs 7 --threads default,1 --opt-level extended|all --profile [--profile-nodes FILE] [--profile-threads N] [--spinning on|off]]`
 *
 * Builds (with our own graph builder) a UNet with Stable Diffusion 1.5 proportions at a width
 * fraction (default a quarter: channels 80/160/320/320, 2 layers per block, 8 heads,
 * cross-attention dim 768, 77 tokens) at a 32x32 latent, then times in onnxruntime-node:
 *   forward            the UNet alone
 *   forward+VJP        the model from buildVjp(wrt encoder_hidden_states)
 * with the same session options, runs alternated (fwd, vjp, fwd, vjp, ...) after one warm-up
 * each, for every thread setting in --threads ('default' = onnxruntime's choice; default list:
 * default and 1). Wall-clock and process CPU time (user + system) medians; on a machine shared
 * with other jobs the CPU time and the min/min figures move far less than the wall medians.
 * Default graph optimisation level 'extended' ('all' adds only the NCHWc layout transform and
 * measured the same on this model); pass --opt-level all to compare.
 *
 * --profile adds a third figure per model that other load hardly disturbs: onnxruntime's
 * per-node kernel times on one thread, each node's minimum over the runs, summed (and the op
 * types that dominate the gradient part), the time spent outside kernels, and the forward+VJP
 * kernels by category (forward nodes by op type, gradient nodes by the forward op or fusion they
 * differentiate, from the nodes' doc_string). --profile-nodes FILE also writes every kernel as a
 * TSV line: kernel name, op, category, minimum µs, matched node name, its category entry. It also
 * prints a floor for the ratio from the forward's own kernels (see printFloor). --profile-threads N
 * profiles with N threads ('default' for onnxruntime's choice) instead of one.
 *
 * Peak RSS is measured per model in a child process that loads the written model file
 * (`--rss-of FILE`), so each figure covers one model's session and runs alone (node itself
 * included, the JS model build excluded).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildUnetModel, sd15UnetOptions } from '../src/main/engine/models/demo/unet.js';
import { specialise } from '../src/main/engine/onnx/specialise.js';
import { encodeModel } from '../src/main/engine/onnx/model-io.js';
import { buildVjp } from '../src/main/engine/autodiff/vjp.js';
import type { Model } from '../src/main/engine/onnx/ir.js';

const { values: args } = parseArgs({
  options: {
    fraction: { type: 'string', default: '0.25' },
    latent: { type: 'string', default: '32' },
    runs: { type: 'string', default: '7' },
    threads: { type: 'string', default: 'default,1' },
    'opt-level': { type: 'string', default: 'extended' },
    profile: { type: 'boolean', default: false },
    'profile-nodes': { type: 'string' },
    'profile-threads': { type: 'string', default: '1' },
    spinning: { type: 'string', default: 'on' },
    'rss-of': { type: 'string' },
  },
});
const fraction = Number(args.fraction);
const latent = Number(args.latent);
const runs = Math.max(1, Number(args.runs));
const SEQ = 77;
const optLevel = args['opt-level'] as 'disabled' | 'basic' | 'extended' | 'all';
/** Thread settings to measure: undefined = onnxruntime's default. */
/** Threads of the --profile sessions (1 unless --profile-threads; 'default' = onnxruntime's choice). */
const profileThreads = args['profile-threads'] === 'default' ? undefined : Number(args['profile-threads']);
const threadSettings = args.threads.split(',').map((t) => (t.trim() === 'default' ? undefined : Number(t)));

/** 'off' turns off the intra-op pool's spin-waiting (what the engine's CPU sessions do). */
const spinning = args.spinning === 'off' ? 'off' : 'on';

function sessionOptions(threads: number | undefined, extra: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: optLevel,
    executionMode: 'sequential',
    logSeverityLevel: 3,
    ...(threads ? { intraOpNumThreads: threads } : {}),
    ...(spinning === 'off' ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    ...extra,
  };
}

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function randTensor(shape: number[], seed: number): ort.Tensor {
  const r = mulberry(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return new ort.Tensor('float32', Float32Array.from({ length: n }, r), shape);
}

interface Built<T = Uint8Array> {
  fwd: T;
  vjp: T;
  /** VJP model node name -> category ('fwd <Op>' or 'vjp <label>'), for the profile tables. */
  categories?: Map<string, string>;
  /** Forward-model node roles for the floor estimate of --profile. */
  roles?: ForwardRoles;
  feeds: Record<string, ort.Tensor>;
  vjpFeeds: Record<string, ort.Tensor>;
  info: string;
}

/**
 * What the floor estimate needs to know about the forward model's nodes: which of them the
 * gradient has to go back through (an input depends on `wrt`), and for each attention P·V product
 * (MatMul whose left operand is a Softmax output) how many more products of its shape the
 * gradient needs beyond its own transposed twin.
 */
interface ForwardRoles {
  /** Forward node name -> whether the gradient goes back through it. */
  onPath: Map<string, boolean>;
  /** P·V node name -> extra P·V-shaped products of the gradient (dQ, dK, dV minus the twin). */
  attentionPV: Map<string, number>;
}

function forwardRoles(m: Model, wrt: string): ForwardRoles {
  const dependent = new Set([wrt]);
  const onPath = new Map<string, boolean>();
  const producer = new Map<string, Model['graph']['nodes'][number]>();
  for (const n of m.graph.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    // nodes are in topological order, so one sweep sees every dependency first
    onPath.set(
      n.name,
      n.inputs.some((i) => dependent.has(i)),
    );
    if (onPath.get(n.name)) for (const o of n.outputs) dependent.add(o);
  }
  const attentionPV = new Map<string, number>();
  for (const n of m.graph.nodes) {
    const sm = producer.get(n.inputs[0] ?? '');
    if (n.opType !== 'MatMul' || sm?.opType !== 'Softmax' || !onPath.get(n.name)) continue;
    // the logits' product, through the scaling / masking nodes between it and the Softmax
    let qk = producer.get(sm.inputs[0]!);
    while (qk && qk.opType !== 'MatMul' && ['Mul', 'Div', 'Add', 'Where', 'Cast'].includes(qk.opType)) qk = producer.get(qk.inputs[0]!);
    const needs = (v: string | undefined): number => (v !== undefined && dependent.has(v) ? 1 : 0);
    const count = (qk?.opType === 'MatMul' ? needs(qk.inputs[0]) + needs(qk.inputs[1]) : 2) + needs(n.inputs[1]);
    attentionPV.set(n.name, Math.max(0, count - 1));
  }
  return { onPath, attentionPV };
}

function build(): Built<Model> {
  const t0 = performance.now();
  const opts = sd15UnetOptions(fraction);
  const unet = buildUnetModel(opts);
  const fwd: Model = specialise(unet, {
    sample: [1, 4, latent, latent],
    timestep: [1],
    encoder_hidden_states: [1, SEQ, opts.crossAttentionDim],
  });
  const t1 = performance.now();
  const r = buildVjp(fwd, { wrt: ['encoder_hidden_states'] });
  const t2 = performance.now();
  let params = 0;
  for (const t of fwd.graph.initializers.values()) params += t.dims.reduce((a, b) => a * b, 1);
  const feeds: Record<string, ort.Tensor> = {
    sample: randTensor([1, 4, latent, latent], 1),
    timestep: new ort.Tensor('int64', BigInt64Array.of(500n), [1]),
    encoder_hidden_states: randTensor([1, SEQ, opts.crossAttentionDim], 2),
  };
  const vjpFeeds = { ...feeds, [r.cotangentInputs['out_sample']!]: randTensor([1, 4, latent, latent], 3) };
  const info =
    `UNet channels ${opts.channels.join('/')} (fraction ${fraction}), ${opts.layersPerBlock} layers/block, ${opts.heads} heads, ` +
    `cross-attention ${opts.crossAttentionDim}, latent ${latent}x${latent}, ${SEQ} tokens; ${(params / 1e6).toFixed(1)}M parameters\n` +
    `nodes: forward ${r.report.nodesBefore}, forward+VJP ${r.report.nodesAfter}; build ${(t1 - t0).toFixed(0)} ms, VJP transform ${(t2 - t1).toFixed(0)} ms`;
  return { fwd, vjp: r.model, feeds, vjpFeeds, info, roles: forwardRoles(fwd, 'encoder_hidden_states') };
}

/** Wall-clock ms and process CPU ms (user + system) of one run. */
async function time(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<[number, number]> {
  const c = process.cpuUsage();
  const t = performance.now();
  await session.run(feeds);
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(c);
  return [wall, (cpu.user + cpu.system) / 1000];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;
const list = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');

async function timed(b: Built, threads: number | undefined): Promise<void> {
  const sf = await ort.InferenceSession.create(b.fwd, sessionOptions(threads));
  const sv = await ort.InferenceSession.create(b.vjp, sessionOptions(threads));
  await time(sf, b.feeds);
  await time(sv, b.vjpFeeds);
  const tf: number[] = [],
    tv: number[] = [],
    cf: number[] = [],
    cv: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [a, ca] = await time(sf, b.feeds);
    const [v, cb] = await time(sv, b.vjpFeeds);
    tf.push(a);
    cf.push(ca);
    tv.push(v);
    cv.push(cb);
  }
  await sf.release();
  await sv.release();
  const f = median(tf);
  const v = median(tv);
  console.log(
    `\nintraOpNumThreads ${threads ?? 'default'} (graphOptimizationLevel '${optLevel}', sequential, spinning ${spinning}, ${runs} alternated runs)`,
  );
  console.log(`  forward:      median ${f.toFixed(1)} ms wall  (runs: ${list(tf)})`);
  console.log(`  forward+VJP:  median ${v.toFixed(1)} ms wall  (runs: ${list(tv)})`);
  console.log(`  ratio:        ${(v / f).toFixed(2)}  (target <= 2.0; min/min ${(Math.min(...tv) / Math.min(...tf)).toFixed(2)})`);
  console.log(
    `  CPU time:     forward ${median(cf).toFixed(0)} ms, forward+VJP ${median(cv).toFixed(0)} ms, ratio ${(median(cv) / median(cf)).toFixed(2)} ` +
      `(min/min ${(Math.min(...cv) / Math.min(...cf)).toFixed(2)}; includes thread-pool spinning)`,
  );
}

/**
 * Category of every node of the forward+VJP model: forward nodes by op type, gradient nodes by
 * what they differentiate (the doc_string "vjp of <Op> '<node>'" or "vjp of <fusion>: ...").
 */
function categorise(m: Model): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of m.graph.nodes) {
    const d = /^vjp of ([A-Za-z ]+?)(?: '([^']*)'|:|$)/.exec(n.docString ?? '');
    // emitted nodes without provenance are the accumulations of several contributions (Add / Sum)
    out.set(n.name, d ? `vjp ${d[1]}${d[2] ? `\t${d[2]}` : ''}` : n.name.startsWith('vjp/') ? 'vjp accumulation' : `fwd ${n.opType}`);
  }
  return out;
}

/**
 * The categorised node a profiled kernel belongs to: onnxruntime keeps one original node's name
 * for a fused node or appends a suffix, so the longest known prefix of the kernel's name decides.
 */
function knownNode<T>(known: Map<string, T>, node: string): [string, T] | undefined {
  for (let name = node; name.length > 0;) {
    const c = known.get(name);
    if (c !== undefined) return [name, c];
    const cut = Math.max(name.lastIndexOf('_'), name.lastIndexOf('/'));
    if (cut <= 0) break;
    name = name.slice(0, cut);
  }
  return undefined;
}

/** Category of a profiled kernel (forward ones by their kernel's op type). */
function categoryOf(cats: Map<string, string>, node: string, op: string): string {
  const c = knownNode(cats, node)?.[1];
  if (c) return c.startsWith('fwd ') ? `fwd ${op}` : c.split('\t')[0]!;
  // a node onnxruntime created (fusion, layout change) under a new name: the gradient's are prefixed
  return node.startsWith('vjp/') ? 'vjp (renamed by onnxruntime)' : `fwd ${op}`;
}

/** Sum over nodes of each node's minimum kernel time (1 thread), and per op type. */
async function profiled(b: Built): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-grad-'));
  try {
    const result: {
      total: number;
      byOp: Map<string, number>;
      nodes: Map<string, [number, string]>;
      overhead: number;
      kernels: number;
      run: number;
    }[] = [];
    const sessions = [];
    for (const [k, bytes] of [b.fwd, b.vjp].entries()) {
      sessions.push(
        await ort.InferenceSession.create(
          bytes,
          sessionOptions(profileThreads, { enableProfiling: true, profileFilePrefix: join(dir, `m${k}`) }),
        ),
      );
    }
    const feeds = [b.feeds, b.vjpFeeds];
    for (let k = 0; k < 2; k++) await sessions[k]!.run(feeds[k]!);
    for (let i = 0; i < runs; i++) for (let k = 0; k < 2; k++) await sessions[k]!.run(feeds[k]!);
    for (const [k, s] of sessions.entries()) {
      s.endProfiling();
      await s.release();
      const file = readdirSync(dir).find((f) => f.startsWith(`m${k}`) && f.endsWith('.json'))!;
      const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        cat?: string;
        name: string;
        dur: number;
        ts: number;
        args?: { op_name?: string };
      }[];
      const firstTimed = events.filter((e) => e.name === 'model_run')[1]?.ts ?? 0; // skip the warm-up
      const min = new Map<string, [number, string]>();
      for (const e of events) {
        if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < firstTimed) continue;
        const prev = min.get(e.name);
        if (!prev || e.dur < prev[0]) min.set(e.name, [e.dur, e.args?.op_name ?? '?']);
      }
      const byOp = new Map<string, number>();
      let total = 0;
      for (const [d, op] of min.values()) {
        total += d;
        byOp.set(op, (byOp.get(op) ?? 0) + d);
      }
      // per run: model_run time minus the kernels inside it = executor overhead (dispatch, allocation)
      const overheads: number[] = [];
      const runsEv = events.filter((e) => e.name === 'model_run' && e.ts >= firstTimed);
      for (const r of runsEv) {
        let kernels = 0;
        for (const e of events)
          if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= r.ts && e.ts < r.ts + r.dur) kernels += e.dur;
        overheads.push(r.dur - kernels);
      }
      result.push({
        total,
        byOp,
        nodes: min,
        overhead: overheads.length ? median(overheads) : 0,
        kernels: min.size,
        run: median(runsEv.map((e) => e.dur)),
      });
    }
    const [f, v] = result as [(typeof result)[0], (typeof result)[0]];
    console.log(`\nprofile (${profileThreads ?? 'default'} thread(s), ${runs} runs; per node the fastest run, summed):`);
    console.log(
      `  forward ${(f.total / 1000).toFixed(1)} ms, forward+VJP ${(v.total / 1000).toFixed(1)} ms, ratio ${(v.total / f.total).toFixed(2)}`,
    );
    console.log(
      `  run (profiled) median: forward ${(f.run / 1000).toFixed(1)} ms, forward+VJP ${(v.run / 1000).toFixed(1)} ms; ` +
        `outside kernels: forward ${(f.overhead / 1000).toFixed(1)} ms (${f.kernels} kernels), forward+VJP ${(v.overhead / 1000).toFixed(1)} ms (${v.kernels} kernels)`,
    );
    const extra = [...v.byOp].map(([op, d]) => [op, d - (f.byOp.get(op) ?? 0)] as const).sort((a, b) => b[1] - a[1]);
    console.log(
      `  added by the gradient (by op type, ms): ${extra
        .slice(0, 10)
        .map(([op, d]) => `${op} ${(d / 1000).toFixed(1)}`)
        .join(', ')}`,
    );
    if (b.roles) printFloor(b.roles, f.nodes, f.total);
    if (b.categories) {
      // forward+VJP kernels by category: forward nodes by op type, gradient nodes by what they differentiate x kernel op
      const byCat = new Map<string, number>();
      const lines: string[] = [];
      for (const [key, [d, op]] of v.nodes) {
        const node = key.replace(/_kernel_time$/, '');
        const c = categoryOf(b.categories, node, op);
        const k = c.startsWith('fwd ') ? c : `${c} / ${op}`;
        byCat.set(k, (byCat.get(k) ?? 0) + d);
        lines.push(`${node}\t${op}\t${c}\t${d}\t${(knownNode(b.categories, node) ?? []).join('\t')}`);
      }
      const rows = [...byCat].sort((a, b2) => b2[1] - a[1]);
      const fwdInVjp = rows.filter(([k]) => k.startsWith('fwd ')).reduce((a, [, d]) => a + d, 0);
      console.log(
        `  forward+VJP by category (ms; forward part ${(fwdInVjp / 1000).toFixed(1)}, forward model ${(f.total / 1000).toFixed(1)}):`,
      );
      for (const [k, d] of rows)
        if (d >= 500)
          console.log(
            `    ${k.padEnd(44)} ${(d / 1000).toFixed(1).padStart(7)}${k.startsWith('fwd ') ? `  (forward model ${((f.byOp.get(k.slice(4)) ?? 0) / 1000).toFixed(1)})` : ''}`,
          );
      if (args['profile-nodes']) writeFileSync(args['profile-nodes'], lines.join('\n') + '\n');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Kernel ops whose gradient is a pass-through or a view (no kernel of its own, or a free one). */
const FREE_GRADIENT_KERNELS = new Set(['Add', 'Sub', 'Reshape', 'Squeeze', 'Unsqueeze', 'Identity', 'Flatten']);

/** Kernel ops that are products or convolutions (onnxruntime's fused forms included). */
const PRODUCT_KERNELS = new Set(['Conv', 'FusedConv', 'MatMul', 'FusedMatMul', 'Gemm', 'FusedGemm']);

/**
 * A floor for the forward+VJP / forward ratio from the forward model's own kernel times: every
 * product and convolution the gradient goes back through needs its transposed twin (same FLOPs,
 * counted at the forward kernel's time), each attention core needs five passes over its matrix
 * where the forward has three — dP = dO·Vᵀ (shaped like QKᵀ), dS = P ⊙ (dP − r) (one pass, counted
 * at the Softmax's time) and those of dQ = dS·K, dV = Pᵀ·dO, dK = dSᵀ·Q whose operand depends on
 * wrt (each shaped like P·V, one of them already counted as P·V's twin) — and everything else
 * (normalisations, activations, layout ops, dispatch) is taken as free. What the real gradient costs above this is what could still be won.
 * A second figure also counts the other on-path nodes' gradients at their forward kernels' time
 * (normalisations, activations, transposes; not Add/Sub/reshapes, whose gradients are free).
 */
function printFloor(roles: ForwardRoles, kernels: Map<string, [number, string]>, forwardTotal: number): void {
  let products = 0;
  let softmax = 0;
  let pv = 0;
  let others = 0;
  for (const [key, [d, op]] of kernels) {
    const [name, onPath] = knownNode(roles.onPath, key.replace(/_kernel_time$/, '')) ?? ['', false];
    if (!onPath) continue;
    if (PRODUCT_KERNELS.has(op)) products += d;
    else if (op === 'Softmax') softmax += d;
    else if (!FREE_GRADIENT_KERNELS.has(op)) others += d;
    pv += d * (roles.attentionPV.get(name) ?? 0);
  }
  const floor = forwardTotal + products + softmax + pv;
  const ms = (us: number): string => (us / 1000).toFixed(1);
  console.log(
    `  floor: products/convolutions on the gradient path ${ms(products)} ms, their softmaxes ${ms(softmax)} ms, ` +
      `more P·V-shaped attention products ${ms(pv)} ms -> forward+VJP >= ${ms(floor)} ms, ratio >= ${(floor / forwardTotal).toFixed(2)} ` +
      `with everything else free;`,
  );
  console.log(
    `         with the other gradients at their forward's cost too (${ms(others)} ms; Add/Sub/reshapes free) ` +
      `>= ${ms(floor + others)} ms, ratio >= ${((floor + others) / forwardTotal).toFixed(2)}`,
  );
}

/** Child process: session + 2 runs of one model file, then print the peak RSS. */
async function rssOf(file: string): Promise<void> {
  const s = await ort.InferenceSession.create(file, sessionOptions(threadSettings[0]));
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, name] of s.inputNames.entries()) {
    const meta = s.inputMetadata[k];
    const shape = meta && meta.isTensor ? (meta.shape as number[]) : [];
    feeds[name] = name === 'timestep' ? new ort.Tensor('int64', BigInt64Array.of(500n), [1]) : randTensor(shape, k + 1);
  }
  for (let i = 0; i < 2; i++) await s.run(feeds);
  // VmHWM is this process image's own peak; ru_maxrss survives exec, so after spawn it can
  // report the parent's peak instead (Linux).
  const hwm = /VmHWM:\s*(\d+) kB/.exec(existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '');
  console.log(JSON.stringify({ maxRssKb: hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS }));
}

async function main(): Promise<void> {
  if (args['rss-of']) return rssOf(args['rss-of']);
  const m = build();
  const b: Built = { ...m, fwd: encodeModel(m.fwd), vjp: encodeModel(m.vjp), categories: categorise(m.vjp), roles: m.roles };
  console.log(b.info);
  for (const t of threadSettings) await timed(b, t);
  if (args.profile) await profiled(b);
  console.log(`\npeak RSS this process (all sessions): ${mb(process.resourceUsage().maxRSS)}`);

  const self = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'bench-grad-rss-'));
  try {
    for (const which of ['fwd', 'vjp'] as const) {
      const file = join(dir, `${which}.onnx`);
      writeFileSync(file, which === 'fwd' ? b.fwd : b.vjp);
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          self,
          '--rss-of',
          file,
          '--opt-level',
          optLevel,
          '--threads',
          args.threads.split(',')[0]!,
          '--spinning',
          spinning,
        ],
        { encoding: 'utf8' },
      );
      const line = r.stdout.trim().split('\n').pop() ?? '';
      try {
        const { maxRssKb } = JSON.parse(line) as { maxRssKb: number };
        console.log(`peak RSS ${which === 'fwd' ? 'forward     ' : 'forward+VJP '} (own process: session + 2 runs): ${mb(maxRssKb)}`);
      } catch {
        console.log(`peak RSS ${which}: measurement failed (${r.stderr.trim().split('\n').pop()})`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
