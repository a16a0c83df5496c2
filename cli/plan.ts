import { parseArgs } from 'node:util';
import { KLINE_INTERVALS } from '../core/protocol/topics.ts';
import { formatPlan, plan } from '../functions/plan.ts';
import { asUsage, type Command, UsageError } from './main.ts';
import { parseReplicas } from './stack.ts';

const usage = `fleet plan [--replicas NAME=N]... [--symbols 200] [--fast-symbols 16]
           [--weight-limit 2400] [--budget-share 0.96] [--kline-interval 1m]
           [--kline-window 90] [--kline-window-every-ms 60000] [--json]

Each reader's weight per read, reads per minute, period and slot (book: replica i of n at i/n of
the period), the share of its address's budget, and the freshness each topic can have.
Replicas default to the local stack's. The kline settings default to FLEET_KLINE_INTERVAL,
FLEET_KLINE_WINDOW and FLEET_KLINE_WINDOW_EVERY_MS (a window over 98 bars raises the weight of
a window read: 2, 5 or 10). --budget-share is at most 1. --json prints the plan as JSON.`;

export interface PlanArgs {
  replicas: ReturnType<typeof parseReplicas>;
  symbols: number;
  fastSymbols: number;
  weightLimit: number;
  budgetShare: number;
  klineInterval: string;
  klineWindow: number;
  klineWindowEveryMs: number;
  json: boolean;
}

/** Parses the flags (environment defaults for the kline settings); throws UsageError. */
export function parsePlanArgs(
  args: string[],
  env: Record<string, string | undefined> = process.env,
): PlanArgs {
  const { values } = asUsage(() =>
    parseArgs({
      args,
      options: {
        replicas: { type: 'string', multiple: true },
        symbols: { type: 'string' },
        'fast-symbols': { type: 'string' },
        'weight-limit': { type: 'string' },
        'budget-share': { type: 'string' },
        'kline-interval': { type: 'string' },
        'kline-window': { type: 'string' },
        'kline-window-every-ms': { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    }),
  );
  const num = (name: string, v: string | undefined, d: number, min = Number.MIN_VALUE, max = Infinity) => {
    const n = v === undefined || v === '' ? d : Number(v);
    if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be a number in ${min}..${max}`);
    return n;
  };
  const klineInterval = values['kline-interval'] ?? (env.FLEET_KLINE_INTERVAL || '1m');
  if (!(KLINE_INTERVALS as readonly string[]).includes(klineInterval))
    throw new UsageError(`--kline-interval one of ${KLINE_INTERVALS.join(', ')}`);
  return {
    replicas: parseReplicas(values.replicas ?? []),
    symbols: num('symbols', values.symbols, 200),
    fastSymbols: num('fast-symbols', values['fast-symbols'], 16),
    weightLimit: num('weight-limit', values['weight-limit'], 2400),
    budgetShare: num('budget-share', values['budget-share'], 0.96, Number.MIN_VALUE, 1),
    klineInterval,
    klineWindow: Math.round(
      num('kline-window', values['kline-window'] ?? env.FLEET_KLINE_WINDOW, 90, 2, 1499),
    ),
    klineWindowEveryMs: num(
      'kline-window-every-ms',
      values['kline-window-every-ms'] ?? env.FLEET_KLINE_WINDOW_EVERY_MS,
      60_000,
      0,
    ),
    json: values.json === true,
  };
}

export const command: Command = {
  summary: 'the rate-budget plan: each reader’s rate and slot, and the freshness per topic',
  usage,
  async run(args) {
    const a = parsePlanArgs(args);
    const p = plan(a);
    console.log(a.json ? JSON.stringify(p) : formatPlan(p));
  },
};
