// Stream names of the Binance USDⓈ-M WebSocket streams the simulator serves, and the route each
// belongs to since the 2026 split (reference §1.2, §12.1): /public carries the book streams,
// /market the regular market data, /private the user data. Unrouted (legacy) connections only
// get /public data.

import { KLINE_INTERVALS, type KlineInterval } from '../contracts.ts';

export type Route = 'public' | 'market' | 'private' | 'legacy';

export type StreamSpec =
  | { kind: 'bookTicker'; symbol: string }
  | { kind: 'allBookTicker' }
  | { kind: 'partialDepth'; symbol: string; levels: number; period: number }
  | { kind: 'diffDepth'; symbol: string; period: number }
  | { kind: 'aggTrade'; symbol: string }
  | { kind: 'markPrice'; symbol: string; period: number }
  | { kind: 'allMarkPrice'; period: number }
  | { kind: 'kline'; symbol: string; interval: KlineInterval }
  | { kind: 'miniTicker'; symbol: string }
  | { kind: 'allMiniTicker' }
  | { kind: 'ticker'; symbol: string }
  | { kind: 'allTicker' };

/** Update periods in ms (0 = pushed on every market tick), as Binance documents them. */
export function streamPeriod(spec: StreamSpec): number {
  switch (spec.kind) {
    case 'bookTicker':
    case 'allBookTicker':
    case 'aggTrade':
      return 0;
    case 'partialDepth':
    case 'diffDepth':
    case 'markPrice':
    case 'allMarkPrice':
      return spec.period;
    case 'kline':
      return 250;
    case 'miniTicker':
    case 'ticker':
      return 2000;
    case 'allMiniTicker':
    case 'allTicker':
      return 1000;
  }
}

export function streamRoute(spec: StreamSpec): 'public' | 'market' {
  switch (spec.kind) {
    case 'bookTicker':
    case 'allBookTicker':
    case 'partialDepth':
    case 'diffDepth':
      return 'public';
    default:
      return 'market';
  }
}

/** Whether a connection on `route` receives data of a stream belonging to `streamRoute`. */
export function deliverable(route: Route, specRoute: 'public' | 'market'): boolean {
  return route === specRoute || (route === 'legacy' && specRoute === 'public');
}

/** The symbol a stream is about, or undefined for the all-market streams. */
export function streamSymbol(spec: StreamSpec): string | undefined {
  return 'symbol' in spec ? spec.symbol : undefined;
}

const WELL_FORMED = /^!?[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)*$/;

/**
 * Syntax check of a stream name. Binance refuses a syntactically broken name with
 * {"code":2,"msg":"Invalid request: invalid stream"} but acknowledges any well-formed one,
 * whether or not such a stream exists (it then never delivers).
 */
export function isWellFormed(name: string): boolean {
  return name.length > 0 && name.length <= 200 && WELL_FORMED.test(name);
}

const INTERVALS = new Set<string>(KLINE_INTERVALS);
const SPEEDS: Record<string, number> = { '100ms': 100, '500ms': 500 };
const SYMBOL = /^[a-z0-9_]+$/;

/**
 * Parses a market stream name. Returns undefined for names that are well-formed but name no
 * stream the simulator serves (unknown type, upper-case symbol, bad interval...). The symbol is
 * returned upper-case; whether it exists is the caller's business.
 */
export function parseStreamName(name: string): StreamSpec | undefined {
  switch (name) {
    case '!bookTicker':
      return { kind: 'allBookTicker' };
    case '!markPrice@arr':
      return { kind: 'allMarkPrice', period: 3000 };
    case '!markPrice@arr@1s':
      return { kind: 'allMarkPrice', period: 1000 };
    case '!miniTicker@arr':
      return { kind: 'allMiniTicker' };
    case '!ticker@arr':
      return { kind: 'allTicker' };
  }
  const parts = name.split('@');
  const [sym, type, speed, ...extra] = parts;
  if (type === undefined || extra.length > 0 || !SYMBOL.test(sym)) return undefined;
  const symbol = sym.toUpperCase();
  if (speed === undefined) {
    switch (type) {
      case 'bookTicker':
        return { kind: 'bookTicker', symbol };
      case 'aggTrade':
        return { kind: 'aggTrade', symbol };
      case 'markPrice':
        return { kind: 'markPrice', symbol, period: 3000 };
      case 'miniTicker':
        return { kind: 'miniTicker', symbol };
      case 'ticker':
        return { kind: 'ticker', symbol };
      case 'depth':
        return { kind: 'diffDepth', symbol, period: 250 };
    }
    if (type.startsWith('kline_')) {
      const interval = type.slice('kline_'.length);
      return INTERVALS.has(interval)
        ? { kind: 'kline', symbol, interval: interval as KlineInterval }
        : undefined;
    }
    const levels = partialLevels(type);
    return levels ? { kind: 'partialDepth', symbol, levels, period: 250 } : undefined;
  }
  if (type === 'markPrice') return speed === '1s' ? { kind: 'markPrice', symbol, period: 1000 } : undefined;
  const period = SPEEDS[speed];
  if (period === undefined) return undefined;
  if (type === 'depth') return { kind: 'diffDepth', symbol, period };
  const levels = partialLevels(type);
  return levels ? { kind: 'partialDepth', symbol, levels, period } : undefined;
}

function partialLevels(type: string): number | undefined {
  switch (type) {
    case 'depth5':
      return 5;
    case 'depth10':
      return 10;
    case 'depth20':
      return 20;
    default:
      return undefined;
  }
}

const PRIVATE_ITEM = /^([A-Za-z0-9]+)(?:@([A-Za-z_]+))?$/;

/**
 * A user-data item on the /private route: `<listenKey>` (every event) or `<listenKey>@<EVENT>`
 * (that event only; several such items make an allow-list). The URL form
 * `?listenKey=K&events=A/B` becomes the items `K@A` and `K@B`.
 */
export function parsePrivateItem(name: string): { listenKey: string; event?: string } | undefined {
  const m = PRIVATE_ITEM.exec(name);
  if (!m) return undefined;
  return m[2] === undefined ? { listenKey: m[1] } : { listenKey: m[1], event: m[2] };
}
