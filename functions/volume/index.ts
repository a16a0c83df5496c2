// volume: the universe's 24 h quote volume, volume surge and funding rate, published to
// `volume` (what klines-fast selects by), and the universe itself (exchangeInfo rows: trading
// status, filters) published to `symbols` every FLEET_SYMBOLS_EVERY_MS.
//
// Volume surge = the average quote volume per minute of the last FLEET_SURGE_WINDOW_MS (whole
// minutes, at least one) over the average per minute of the last 24 h (the 24 h ticker's
// quoteVolume / 1440): "1" is normal, "3" three times the day's pace. The recent minutes are the
// closed 1m bars' quote volumes (bar field 7) the klines readers publish to `kline.1m`, which this
// reader follows (no extra read); they are kept in module scope, so the figure carries across
// invocations of a warm instance (a cold one has at least the last closed bar from the aggregator
// snapshot). "1" while no closed bar of the window is known. ts = the newest exchange time of the
// symbol's ticker and premium index.

import { z } from 'zod';
import type { KlineBarRow, SymbolRow } from '../../core/protocol/topics.ts';
import { atMost, type Deps, get, moduleState, paced, publish, type RunResult } from '../lib/common.ts';
import { type Env, type FunctionDef, fcHandler } from '../lib/handler.ts';

export interface VolumeConfig {
  symbolsEveryMs: number;
  surgeWindowMs: number;
}

function config(env: Env): VolumeConfig {
  return z
    .object({
      symbolsEveryMs: z.coerce.number().positive().default(60_000),
      surgeWindowMs: z.coerce.number().positive().default(60_000),
    })
    .parse({
      symbolsEveryMs: env.FLEET_SYMBOLS_EVERY_MS || undefined,
      surgeWindowMs: env.FLEET_SURGE_WINDOW_MS || undefined,
    });
}

interface Ticker {
  symbol: string;
  quoteVolume: string;
  closeTime: number;
}
interface Premium {
  symbol: string;
  lastFundingRate: string;
  time: number;
}

const MINUTE = 60_000;
const MINUTES_PER_DAY = 1440;

/**
 * Surge from the closed 1m bars' quote volumes of the recent window (`recent`, any number ≥ 1)
 * and the 24 h quote volume: (mean of `recent`) / (quoteVolume24h / 1440). 1 without data.
 */
export function surgeOf(recent: readonly number[], quoteVolume24h: number): number {
  if (recent.length === 0 || !(quoteVolume24h > 0)) return 1;
  let sum = 0;
  for (const q of recent) sum += q;
  return sum / recent.length / (quoteVolume24h / MINUTES_PER_DAY);
}

/** Closed 1m bars per symbol: open time → quote volume (module scope, per source). */
type BarLog = Map<string, Map<number, number>>;
const memory = new Map<string, BarLog>();

/** Records the closed bars of the `kline.1m` records (a bar is closed when its close time is before the read). */
export function harvestBars(
  log: BarLog,
  records: Iterable<{ key: string; ts: number; data: { bars: KlineBarRow[] } }>,
  keepFrom: number,
): void {
  for (const r of records) {
    let bars = log.get(r.key);
    for (const b of r.data.bars) {
      if (!(b[6] < r.ts) || b[0] < keepFrom) continue;
      if (!bars) {
        bars = new Map();
        log.set(r.key, bars);
      }
      bars.set(b[0], Number(b[7]));
    }
    if (bars) for (const t of bars.keys()) if (t < keepFrom) bars.delete(t);
  }
}

/** The quote volumes of the closed bars within the window ending now (whole minutes, ≥ 1). */
export function recentBars(log: BarLog, symbol: string, now: number, windowMs: number): number[] {
  const bars = log.get(symbol);
  if (!bars) return [];
  const minutes = Math.max(1, Math.round(windowMs / MINUTE));
  // The last closed bar opened at most two minutes ago (one forming, one just closed).
  const from = Math.floor(now / MINUTE) * MINUTE - (minutes + 1) * MINUTE;
  return [...bars]
    .filter(([t]) => t >= from)
    .sort((x, y) => y[0] - x[0])
    .slice(0, minutes)
    .map(([, q]) => q);
}

export async function run(deps: Deps<VolumeConfig>, until: number): Promise<RunResult> {
  const log = moduleState(memory, deps.config.source, (): BarLog => new Map());
  const following = deps.agg.subscribe('kline.1m').catch(() => undefined);
  let first = true;
  let symbolsAt = Number.NEGATIVE_INFINITY;
  return paced(deps, until, async (slot, signal) => {
    if (first) await atMost(following, 500); // the snapshot's closed bars, when it comes soon
    first = false;
    if (slot - symbolsAt >= deps.config.symbolsEveryMs) {
      const info = await get<{ serverTime: number; symbols: SymbolRow[] }>(deps, '/fapi/v1/exchangeInfo');
      symbolsAt = slot;
      await publish(
        deps,
        'symbols',
        info.symbols.map((s) => ({ key: s.symbol, ts: info.serverTime, data: s })),
        signal,
      );
    }
    const [tickers, premiums] = await Promise.all([
      get<Ticker[]>(deps, '/fapi/v1/ticker/24hr'),
      get<Premium[]>(deps, '/fapi/v1/premiumIndex'),
    ]);
    const now = deps.clock.now();
    const windowMs = deps.config.surgeWindowMs;
    harvestBars(
      log,
      deps.agg.records<{ bars: KlineBarRow[] }>('kline.1m').values(),
      now - windowMs - 3 * MINUTE,
    );
    const funding = new Map(premiums.map((p) => [p.symbol, p]));
    const records = [];
    for (const t of tickers) {
      const p = funding.get(t.symbol);
      records.push({
        key: t.symbol,
        ts: Math.max(t.closeTime, p?.time ?? 0),
        data: {
          symbol: t.symbol,
          quoteVolume: t.quoteVolume,
          volumeSurge: surgeOf(recentBars(log, t.symbol, now, windowMs), Number(t.quoteVolume)).toFixed(4),
          fundingRate: p?.lastFundingRate ?? '0',
        },
      });
    }
    await publish(deps, 'volume', records, signal);
  });
}

export const definition: FunctionDef<VolumeConfig> = { name: 'volume', account: false, config, run };
export const handler = fcHandler(definition);
