// `fleet`: one CLI for every component. Each command lives in its own module and is loaded on
// demand, so `fleet --help` stays instant.

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<void>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  sim: async () => (await import('./sim.ts')).command,
  stack: async () => (await import('./stack.ts')).command,
  aggregator: async () => (await import('./aggregator.ts')).command,
  trader: async () => (await import('./trader.ts')).command,
  gateway: async () => (await import('./gateway.ts')).command,
  function: async () => (await import('./function.ts')).command,
  plan: async () => (await import('./plan.ts')).command,
  bench: async () => (await import('./bench.ts')).command,
};

async function help(): Promise<void> {
  const lines = [
    'fleet: infrastructure for trading Binance USDⓈ-M futures',
    '',
    'Usage: fleet <command> [options]',
    '',
    'Commands:',
  ];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const c = await load();
    lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  }
  lines.push('', 'Run `fleet <command> --help` for the options of one command.');
  console.log(lines.join('\n'));
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    await help();
    return;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`fleet: unknown command "${name}"`);
    await help();
    process.exitCode = 2;
    return;
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${cmd.summary}\n\n${cmd.usage}`);
    return;
  }
  try {
    await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`fleet ${name}: ${err.message}\n\n${cmd.usage}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

/** A bad flag or value: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** Runs a parser of flags or configuration; whatever it throws becomes a UsageError. */
export function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** Resolves when the process receives SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
