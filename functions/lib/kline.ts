// The kline read shared by `klines` (every symbol, round-robin) and `klines-fast` (the symbols a
// filter selects): take the next symbol from an aggregator cursor, read its klines, publish the
// last closed and the forming bar to `kline.<interval>` (ts = exchange time of the read) and,
// when the symbol's window is due, the last N closed bars to `kline.<interval>.window`. A read
// asks for 2 bars, or N+1 when the window is due: never more than is published.

import { z } from 'zod';
import { endpointWeight } from '../../core/binance/weights.ts';
import { KLINE_INTERVALS, type KlineBarRow } from '../../core/protocol/topics.ts';
import { type Deps, get, publish } from './common.ts';
import type { Env } from './handler.ts';

export interface KlineConfig {
  interval: (typeof KLINE_INTERVALS)[number];
  /** Closed bars in the calibration window (≤ 98 keeps a window read at weight 1; more costs 2, 5 or 10). */
  window: number;
  /** How often one symbol's window is published again (ms). */
  windowEveryMs: number;
}

export function klineConfig(env: Env): KlineConfig {
  return z
    .object({
      interval: z.enum(KLINE_INTERVALS).default('1m'),
      window: z.coerce.number().int().min(2).max(1499).default(90),
      windowEveryMs: z.coerce.number().min(0).default(60_000),
    })
    .parse({
      interval: env.FLEET_KLINE_INTERVAL || undefined,
      window: env.FLEET_KLINE_WINDOW || undefined,
      windowEveryMs: env.FLEET_KLINE_WINDOW_EVERY_MS || undefined,
    });
}

/** When each symbol's window was last published (exchange time; module scope, per source). */
export type WindowLog = Map<string, number>;

/** IP weight of the read of a slot without a due window (2 bars): what klines slots are planned at. */
export function readWeight(): number {
  return endpointWeight('GET', '/fapi/v1/klines', { limit: '2' }).ip;
}

/** Reads one symbol and publishes it. */
export async function readKlines(
  deps: Deps<KlineConfig>,
  symbol: string,
  windows: WindowLog,
  signal: AbortSignal,
): Promise<void> {
  const { interval, window, windowEveryMs } = deps.config;
  const due = windowEveryMs > 0 && deps.clock.now() - (windows.get(symbol) ?? 0) >= windowEveryMs;
  const bars = await get<KlineBarRow[]>(deps, '/fapi/v1/klines', {
    symbol,
    interval,
    limit: due ? window + 1 : 2,
  });
  const ts = Math.floor(deps.clock.now());
  if (bars.length === 0) return;
  await publish(deps, `kline.${interval}`, [{ key: symbol, ts, data: { bars: bars.slice(-2) } }], signal);
  if (due && bars.length > 1) {
    windows.set(symbol, ts);
    await publish(
      deps,
      `kline.${interval}.window`,
      [{ key: symbol, ts, data: { bars: bars.slice(0, -1) } }],
      signal,
    );
  }
}

/** Takes the next index of a shared round-robin cursor over `list`. */
export async function nextOf(
  deps: Deps<unknown>,
  cursor: string,
  list: string[],
): Promise<string | undefined> {
  if (list.length === 0) return undefined;
  const { value } = await deps.agg.cursor(cursor, list.length);
  return list[value % list.length];
}
