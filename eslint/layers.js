// The project's layer rule (docs/architecture.md, "Layers and who imports what"): each file of a
// layer may import only the layers and packages listed for it. Relative specifiers are resolved
// against the importing file, so the rule holds at any folder depth.
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** Layer of a file (by its folder), or undefined for files no rule covers. */
export function layerOf(file) {
  const rel = path.relative(root, file).split(path.sep).join('/');
  if (rel.startsWith('test/')) return 'test';
  if (rel.startsWith('src/shared/')) return 'shared';
  if (rel.startsWith('src/main/engine/')) return 'engine';
  if (rel.startsWith('src/main/host/')) return 'host';
  if (rel.startsWith('src/main/app/')) return 'app';
  if (rel.startsWith('src/preload/')) return 'preload';
  if (rel.startsWith('src/renderer/')) return 'renderer';
  if (rel.startsWith('src/cli/')) return 'cli';
  return undefined;
}

/**
 * layer -> { layers: project layers it may import, packages: predicate on bare specifiers }.
 * Node built-ins count as packages (`node:fs`).
 */
const node = (s) => s.startsWith('node:');
const any = () => true;
const RULES = {
  shared: { layers: ['shared'], packages: (s) => s === 'zod' || s.startsWith('zod/') },
  engine: { layers: ['engine', 'shared'], packages: (s) => s !== 'electron' && !s.startsWith('electron/') },
  host: { layers: ['host', 'engine', 'shared'], packages: (s) => s !== 'electron' && !s.startsWith('electron') },
  app: { layers: ['app', 'host', 'engine', 'shared'], packages: any },
  preload: { layers: ['preload', 'shared'], packages: (s) => s === 'electron' },
  renderer: { layers: ['renderer', 'shared'], packages: (s) => !node(s) && /^(react|react-dom|monaco-editor)(\/|$)/.test(s) },
  cli: { layers: ['cli', 'engine', 'host', 'shared'], packages: (s) => s !== 'electron' && !s.startsWith('electron') },
  test: { layers: ['test', 'shared', 'engine', 'host', 'app', 'preload', 'renderer', 'cli'], packages: any },
};

function check(context, node, spec) {
  if (typeof spec !== 'string') return;
  const from = layerOf(context.filename);
  if (!from) return;
  const rule = RULES[from];
  if (spec.startsWith('.')) {
    const target = layerOf(path.resolve(path.dirname(context.filename), spec));
    if (target === 'test' && from !== 'test')
      context.report({
        node,
        message: `product code (${from}) must not import test code ('${spec}'): test support lives in test/ and serves tests only.`,
      });
    else if (target && !rule.layers.includes(target))
      context.report({
        node,
        message: `the ${from} layer must not import the ${target} layer ('${spec}'); allowed: ${rule.layers.join(', ')} (docs/architecture.md).`,
      });
  } else if (!rule.packages(spec)) {
    context.report({ node, message: `the ${from} layer must not import '${spec}' (docs/architecture.md lists what each layer may use).` });
  }
}

export default {
  rules: {
    layers: {
      meta: { type: 'problem', docs: { description: 'imports follow the project layers' }, schema: [] },
      create(context) {
        return {
          ImportDeclaration: (n) => check(context, n.source, n.source.value),
          ExportNamedDeclaration: (n) => n.source && check(context, n.source, n.source.value),
          ExportAllDeclaration: (n) => check(context, n.source, n.source.value),
          ImportExpression: (n) => n.source.type === 'Literal' && check(context, n.source, n.source.value),
        };
      },
    },
  },
};
