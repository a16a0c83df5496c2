// A FLEET_FAST_FILTER module for the tests: selects the symbols whose name starts with "L" or "D",
// at most `max` (createFilter gets the FLEET_FAST_TOP/SURGE/MAX settings).
import type { SymbolFilter } from '../klines-fast/index.ts';

export function createFilter(opts: { top: number; surge: number; max: number }): SymbolFilter {
  return (volume) =>
    [...volume.keys()]
      .filter((s) => s.startsWith('L') || s.startsWith('D'))
      .sort()
      .slice(0, opts.max);
}
