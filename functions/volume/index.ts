// volume: the universe's 24 h quote volume, volume surge and funding rate, published to
// `volume` (what klines-fast selects by), and the universe itself (exchangeInfo rows: trading
// status, filters) published to `symbols` every FLEET_SYMBOLS_EVERY_MS.
//
// Surge = the quote volume traded over the last FLEET_SURGE_WINDOW_MS (the difference of two
// rolling 24 h figures) over the 24 h average for as long a window; "1" until the invocation has
// seen 10 s of history. ts = the newest exchange time of the symbol's ticker and premium index.

import { z } from 'zod';
import type { SymbolRow } from '../../core/protocol/topics.ts';
import { type Deps, get, paced, publish, type RunResult } from '../lib/common.ts';
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

const DAY = 86_400_000;

/** Surge from a history of (time, rolling 24 h quote volume) samples, oldest first. */
export function surgeOf(history: Array<[number, number]>, windowMs: number): number {
  const last = history[history.length - 1];
  if (!last || last[1] <= 0) return 1;
  let first = history[0];
  for (const h of history)
    if (h[0] >= last[0] - windowMs) {
      first = h;
      break;
    }
  const span = last[0] - first[0];
  if (span < 10_000) return 1;
  const recent = Math.max(0, last[1] - first[1]) / span;
  return recent / (last[1] / DAY);
}

export async function run(deps: Deps<VolumeConfig>, until: number): Promise<RunResult> {
  const history = new Map<string, Array<[number, number]>>();
  let symbolsAt = Number.NEGATIVE_INFINITY;
  return paced(deps, until, async (slot, signal) => {
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
    const funding = new Map(premiums.map((p) => [p.symbol, p]));
    const records = [];
    for (const t of tickers) {
      const p = funding.get(t.symbol);
      let h = history.get(t.symbol);
      if (!h) {
        h = [];
        history.set(t.symbol, h);
      }
      h.push([t.closeTime, Number(t.quoteVolume)]);
      while (h.length > 2 && h[1][0] < t.closeTime - deps.config.surgeWindowMs) h.shift();
      records.push({
        key: t.symbol,
        ts: Math.max(t.closeTime, p?.time ?? 0),
        data: {
          symbol: t.symbol,
          quoteVolume: t.quoteVolume,
          volumeSurge: surgeOf(h, deps.config.surgeWindowMs).toFixed(4),
          fundingRate: p?.lastFundingRate ?? '0',
        },
      });
    }
    await publish(deps, 'volume', records, signal);
  });
}

export const definition: FunctionDef<VolumeConfig> = { name: 'volume', account: false, config, run };
export const handler = fcHandler(definition);
