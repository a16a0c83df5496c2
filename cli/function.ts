import { parseArgs } from 'node:util';
import { createInstance } from '../functions/lib/handler.ts';
import { FUNCTION_NAMES, type FunctionName } from '../functions/plan.ts';
import { FUNCTIONS } from '../functions/registry.ts';
import { asUsage, type Command, UsageError, untilSignal } from './main.ts';

const usage = `fleet function <name> [--once] [--seconds N]

Runs one function by itself, as its FC timer trigger would (every FLEET_TRIGGER_PERIOD_S, default
60 s, each run bounded to end before the next), against any exchange and aggregator. Names:
  ${FUNCTION_NAMES.join(', ')}
Configuration from the environment (see .env.example): FLEET_EXCHANGE (simulator by default,
demo, production), FLEET_BINANCE_REST, FLEET_BINANCE_WS,
FLEET_AGGREGATOR_URL, FLEET_AGGREGATOR_TOKEN (required), FLEET_LOCAL_ADDRESS, FLEET_REPLICA,
FLEET_REPLICAS, BINANCE_API_KEY/BINANCE_API_SECRET (account readers), FLEET_WEIGHT_LIMIT, …

  --once        one invocation, then exit
  --seconds N   bound every invocation to N seconds (FLEET_RUN_SECONDS)
Each invocation prints its own result as one JSON line (calls, weight, errors, records, skipped
of that invocation). SIGINT/SIGTERM ends the run under way, or the wait for the next firing,
cleanly and at once.`;

export const command: Command = {
  summary: 'run one reader function by itself against any exchange and aggregator',
  usage,
  async run(args) {
    const { values, positionals } = asUsage(() =>
      parseArgs({
        args,
        options: { once: { type: 'boolean' }, seconds: { type: 'string' } },
        allowPositionals: true,
        strict: true,
      }),
    );
    const name = positionals[0] as FunctionName | undefined;
    if (name === undefined || !(FUNCTION_NAMES as readonly string[]).includes(name))
      throw new UsageError(`name one of: ${FUNCTION_NAMES.join(', ')}`);
    const env = { ...process.env };
    if (values.seconds !== undefined) env.FLEET_RUN_SECONDS = values.seconds;
    const definition = await FUNCTIONS[name]();
    const inst = asUsage(() => createInstance(definition, env));
    const periodMs = Number(env.FLEET_TRIGGER_PERIOD_S ?? 60) * 1000;
    let stopping = false;
    const stopped = untilSignal().then(async (sig) => {
      stopping = true;
      console.error(`fleet function ${name}: ${sig}, stopping`);
      await inst.close();
    });
    do {
      const firedAt = Date.now();
      const event = Buffer.from(
        JSON.stringify({ triggerTime: new Date(firedAt).toISOString(), triggerName: 'local' }),
      );
      const res = await inst.handler(event).catch((err: unknown) => ({ error: String(err) }));
      console.log(JSON.stringify(res));
      if (values.once || stopping) break;
      const wait = firedAt + periodMs - Date.now();
      if (wait > 0) {
        // The wait for the next firing ends at once on SIGINT/SIGTERM.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          stopped,
          new Promise((r) => {
            timer = setTimeout(r, wait);
          }),
        ]);
        clearTimeout(timer);
      }
    } while (!stopping);
    await inst.close();
    process.exit(process.exitCode ?? 0);
  },
};
