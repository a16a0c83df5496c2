// klines-fast: the kline read for the symbols a filter selects, so a handful of interesting
// symbols refresh many times faster on the same budget. The filter is a replaceable function of
// the `volume` topic (default: the top FLEET_FAST_TOP by 24 h quote volume, plus every symbol
// whose volume surge is at least FLEET_FAST_SURGE, at most FLEET_FAST_MAX in all);
// FLEET_FAST_FILTER=<module path> replaces it without a new function definition: the module
// exports `filter(volume)` (a SymbolFilter) or `createFilter({top, surge, max})` returning one.
// Replicas share the cursor `klines-fast.<interval>`.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { ClientRecord } from '../../core/protocol/client.ts';
import type { Volume } from '../../core/protocol/topics.ts';
import { type Deps, moduleState, paced, type RunResult } from '../lib/common.ts';
import { type Env, type FunctionDef, fcHandler } from '../lib/handler.ts';
import {
  type KlineConfig,
  klineConfig,
  nextOf,
  readKlines,
  readWeight,
  type WindowLog,
} from '../lib/kline.ts';

/** Per source (module scope): when each symbol's window was last published. */
const windowLogs = new Map<string, WindowLog>();

/** Selects symbols from the latest `volume` records (sorted result; same input, same output). */
export type SymbolFilter = (volume: ReadonlyMap<string, ClientRecord<Volume>>) => string[];

export interface FastConfig extends KlineConfig {
  top: number;
  surge: number;
  max: number;
  /** Replaces the default filter (set in code). */
  filter?: SymbolFilter;
  /** A module exporting the filter (FLEET_FAST_FILTER; see loadFilter). */
  filterModule?: string;
}

const loaded = new Map<string, Promise<SymbolFilter>>();

/**
 * Loads a filter module, as the trader loads a strategy: a path (relative to the working
 * directory, or absolute) or a package name. It exports `filter` (a SymbolFilter), or
 * `createFilter(opts)` called with the FLEET_FAST_TOP/SURGE/MAX settings and returning one.
 */
export function loadFilter(
  spec: string,
  opts: { top: number; surge: number; max: number },
): Promise<SymbolFilter> {
  let p = loaded.get(spec);
  if (!p) {
    p = (async () => {
      const target = spec.startsWith('.') || spec.startsWith('/') ? pathToFileURL(resolve(spec)).href : spec;
      const mod = (await import(target)) as {
        filter?: SymbolFilter;
        createFilter?: (o: typeof opts) => SymbolFilter;
      };
      if (typeof mod.createFilter === 'function') return mod.createFilter(opts);
      if (typeof mod.filter === 'function') return mod.filter;
      throw new TypeError(`filter module ${spec} exports neither filter(volume) nor createFilter(opts)`);
    })();
    p.catch(() => loaded.delete(spec));
    loaded.set(spec, p);
  }
  return p;
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
      filterModule: z.string().min(1).optional(),
    })
    .parse({
      top: env.FLEET_FAST_TOP || undefined,
      surge: env.FLEET_FAST_SURGE || undefined,
      max: env.FLEET_FAST_MAX || undefined,
      filterModule: env.FLEET_FAST_FILTER || undefined,
    });
  return { ...klineConfig(env), ...own };
}

export async function run(deps: Deps<FastConfig>, until: number): Promise<RunResult> {
  const { filterModule } = deps.config;
  const filter =
    deps.config.filter ??
    (filterModule ? await loadFilter(filterModule, deps.config) : volumeFilter(deps.config));
  const windows = moduleState(windowLogs, deps.config.source, (): WindowLog => new Map());
  // The selection is made from the volume snapshot of this run (a warm instance's mirror may be a
  // run old): wait for it, but never longer than 2 s; without it the first slots are skipped.
  let bound: NodeJS.Timeout | undefined;
  await Promise.race([
    deps.agg.subscribe('volume').catch(() => undefined),
    new Promise<void>((resolve) => {
      bound = setTimeout(resolve, 2000);
      bound.unref();
    }),
  ]);
  clearTimeout(bound);
  deps.config.readWeight ??= readWeight();
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
