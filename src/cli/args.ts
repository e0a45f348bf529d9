/**
 * Argument handling shared by the CLI commands: node's parseArgs with the commands' common
 * conventions (a bad option or value is a usage error, exit 2, printed with the usage text;
 * `-h/--help` prints the usage, exit 0).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
export type CommandArgs<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true }>>;

/** Prints `inversion-studio COMMAND: message` and the usage to stderr; returns exit code 2. */
export function usageError(command: string, usage: string, message: string): number {
  console.error(`inversion-studio ${command}: ${message}\n\n${usage}`);
  return 2;
}

/**
 * Parse `argv` against `options` (which should include `help: { type: 'boolean', short: 'h' }`).
 * @returns the parsed arguments, or the exit code when there is nothing more to do (help: 0,
 *   a bad option: 2, both already printed)
 */
export function parseCommandArgs<O extends Options>(command: string, usage: string, argv: string[], options: O): CommandArgs<O> | number {
  let parsed: CommandArgs<O>;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options });
  } catch (e) {
    return usageError(command, usage, (e as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    return 0;
  }
  return parsed;
}

/**
 * An integer option in [min, max].
 * @returns undefined when absent, the number, or an error message (a string) for usageError
 */
export function intOption(v: string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | string | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*-?\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max)
    return `${name} must be an integer from ${min} to ${max} (got '${v}')`;
  return n;
}

/**
 * A finite number option in [min, max] (decimals and exponents allowed, e.g. `0.02`, `1e-3`).
 * @returns undefined when absent, the number, or an error message (a string) for usageError
 */
export function numberOption(v: string | undefined, name: string, min: number, max = Number.MAX_VALUE): number | string | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  // Number('') and Number(' ') are 0, and Number('0x10') is 16: accept only decimal notation.
  if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(v) || !Number.isFinite(n) || n < min || n > max) {
    return `${name} must be a number ${max === Number.MAX_VALUE ? `>= ${min}` : `from ${min} to ${max}`} (got '${v}')`;
  }
  return n;
}
