// klines: the slow reader. Each slot takes the next symbol of the universe from the aggregator
// cursor `klines.<interval>` (so any number of replicas split the list without talking to each
// other) and publishes its latest two bars, and every so often its window (lib/kline.ts).
// Other intervals by FLEET_KLINE_INTERVAL. A window of more than 98 bars costs 2, 5 or 10 weight
// per window read (the planner counts it; the pacer spaces the reads by it).

import { type Deps, moduleState, paced, type RunResult, universe } from '../lib/common.ts';
import { type FunctionDef, fcHandler } from '../lib/handler.ts';
import {
  type KlineConfig,
  klineConfig,
  nextOf,
  readKlines,
  readWeight,
  type WindowLog,
} from '../lib/kline.ts';

/** Per source (module scope, kept by a warm instance): when each symbol's window was last published. */
const windowLogs = new Map<string, WindowLog>();

export async function run(deps: Deps<KlineConfig>, until: number): Promise<RunResult> {
  const windows = moduleState(windowLogs, deps.config.source, (): WindowLog => new Map());
  // A due window read costs more than a 2-bar read: the pacer delays the next slot by the extra.
  deps.config.readWeight ??= readWeight();
  let symbols: string[] = [];
  let listedAt = Number.NEGATIVE_INFINITY;
  deps.agg.subscribe('symbols').catch(() => undefined);
  return paced(deps, until, async (slot, signal) => {
    if (symbols.length === 0 || slot - listedAt > 60_000) {
      const fromAggregator = deps.agg.records('symbols').size > 0;
      const next = await universe(deps, signal);
      if (next.length > 0) symbols = next;
      listedAt = slot;
      if (!fromAggregator) return; // this slot was spent on exchangeInfo
    }
    const symbol = await nextOf(deps, `klines.${deps.config.interval}`, symbols);
    if (symbol !== undefined) await readKlines(deps, symbol, windows, signal);
  });
}

export const definition: FunctionDef<KlineConfig> = {
  name: 'klines',
  account: false,
  config: klineConfig,
  run,
};
export const handler = fcHandler(definition);
