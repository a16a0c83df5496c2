// klines-fast: the kline read for the symbols a filter selects, so a handful of interesting
// symbols refresh many times faster on the same budget. The filter is a replaceable function of
// the `volume` topic (default: the top FLEET_FAST_TOP by 24 h quote volume, plus every symbol
// whose volume surge is at least FLEET_FAST_SURGE, at most FLEET_FAST_MAX in all). Replicas
// share the cursor `klines-fast.<interval>`.

import { z } from 'zod';
import type { ClientRecord } from '../../core/protocol/client.ts';
import type { Volume } from '../../core/protocol/topics.ts';
import { type Deps, paced, type RunResult } from '../lib/common.ts';
import { type Env, type FunctionDef, fcHandler } from '../lib/handler.ts';
import { type KlineConfig, klineConfig, nextOf, readKlines, type WindowLog } from '../lib/kline.ts';

/** Selects symbols from the latest `volume` records (sorted result; same input, same output). */
export type SymbolFilter = (volume: ReadonlyMap<string, ClientRecord<Volume>>) => string[];

export interface FastConfig extends KlineConfig {
  top: number;
  surge: number;
  max: number;
  /** Replaces the default filter (set in code, not by the environment). */
  filter?: SymbolFilter;
}

export function volumeFilter(opts: { top: number; surge: number; max: number }): SymbolFilter {
  return (volume) => {
    const rows = [...volume.values()].map((r) => r.data);
    const byVolume = [...rows].sort((a, b) => Number(b.quoteVolume) - Number(a.quoteVolume));
    const picked = new Set(byVolume.slice(0, opts.top).map((r) => r.symbol));
    const surging = rows
      .filter((r) => Number(r.volumeSurge) >= opts.surge && !picked.has(r.symbol))
      .sort((a, b) => Number(b.volumeSurge) - Number(a.volumeSurge));
    for (const r of surging) {
      if (picked.size >= opts.max) break;
      picked.add(r.symbol);
    }
    return [...picked].sort();
  };
}

export function fastConfig(env: Env): FastConfig {
  const own = z
    .object({
      top: z.coerce.number().int().min(0).default(8),
      surge: z.coerce.number().positive().default(2),
      max: z.coerce.number().int().min(1).default(16),
    })
    .parse({
      top: env.FLEET_FAST_TOP || undefined,
      surge: env.FLEET_FAST_SURGE || undefined,
      max: env.FLEET_FAST_MAX || undefined,
    });
  return { ...klineConfig(env), ...own };
}

export async function run(deps: Deps<FastConfig>, until: number): Promise<RunResult> {
  const filter = deps.config.filter ?? volumeFilter(deps.config);
  const windows: WindowLog = new Map();
  deps.agg.subscribe('volume').catch(() => undefined);
  return paced(deps, until, async (_slot, signal) => {
    const selected = filter(deps.agg.records<Volume>('volume'));
    const symbol = await nextOf(deps, `klines-fast.${deps.config.interval}`, selected);
    if (symbol === undefined) {
      deps.stats.skipped++; // nothing selected yet: no read
      return;
    }
    await readKlines(deps, symbol, windows, signal);
  });
}

export const definition: FunctionDef<FastConfig> = {
  name: 'klines-fast',
  account: false,
  config: fastConfig,
  run,
};
export const handler = fcHandler(definition);
