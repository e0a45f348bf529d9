/**
 * `inversion-studio` command dispatcher. Each subcommand lives in `commands/<name>.ts` and
 * exports `run(argv): Promise<number>` (the exit code) plus a one-line `summary`.
 */
const COMMANDS = ['generate', 'invert', 'segment', 'edit', 'fuse', 'evolve', 'grad', 'eval', 'serve', 'models'] as const;
type CommandName = (typeof COMMANDS)[number];

interface CommandModule {
  summary: string;
  run(argv: string[]): Promise<number>;
}

async function load(name: CommandName): Promise<CommandModule | undefined> {
  try {
    return (await import(`./commands/${name}.ts`)) as CommandModule;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(`commands/${name}`))
      return undefined;
    throw e;
  }
}

async function usage(): Promise<string> {
  const lines = ['usage: inversion-studio <command> [options]', '', 'commands:'];
  for (const name of COMMANDS) {
    const mod = await load(name);
    if (mod) lines.push(`  ${name.padEnd(10)} ${mod.summary}`);
  }
  lines.push('', 'Run `inversion-studio <command> --help` for the options of a command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return name ? 0 : 1;
  }
  if (!(COMMANDS as readonly string[]).includes(name)) {
    console.error(`inversion-studio: unknown command '${name}'\n\n${await usage()}`);
    return 2;
  }
  const mod = await load(name as CommandName);
  if (!mod) {
    console.error(`inversion-studio: command '${name}' is not available in this build`);
    return 2;
  }
  try {
    return await mod.run(rest);
  } catch (e) {
    const err = e as Error;
    console.error(`inversion-studio ${name}: ${err.message}`);
    if (process.env.INVERSION_STUDIO_DEBUG) console.error(err.stack);
    return 1;
  }
}
