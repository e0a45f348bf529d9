import type { Rule } from 'eslint';
export function layerOf(file: string): string | undefined;
declare const plugin: { rules: { layers: Rule.RuleModule } };
export default plugin;
