import { type Command, UsageError } from './main.ts';

// Benchmarks live in bench/<name>.ts, each exporting run(args) that prints one JSON object.
const BENCHES: Record<string, string> = {
  sim: 'simulator requests/s and p99 for book tickers and klines, against a bare node:http baseline',
  aggregator: 'publish-to-delivery latency at 1x and 3x the fleet load, against a bare ws relay',
  readers:
    'the local reader fleet on 200 symbols: budget share per address, 429/418, freshness against the plan',
  trader:
    'strategy checks per minute (200 symbols × 45 bars), decision latency p50/p99, end-to-end price jump → order',
  client: 'Binance REST client: budget share without 429/418, and per-request overhead against bare undici',
};

export const command: Command = {
  summary: 'run a benchmark and print one JSON object (fleet bench <name>)',
  usage: `fleet bench <name> [options]\n\nBenchmarks:\n${Object.entries(BENCHES)
    .map(([n, d]) => `  ${n.padEnd(10)} ${d}`)
    .join('\n')}`,
  async run(args) {
    const [name, ...rest] = args;
    if (name === undefined || !(name in BENCHES))
      throw new UsageError(`name one of: ${Object.keys(BENCHES).join(', ')}`);
    const mod = (await import(`../bench/${name}.ts`)) as { run(args: string[]): Promise<unknown> };
    const result = await mod.run(rest);
    console.log(JSON.stringify(result));
  },
};
