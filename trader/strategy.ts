// The strategy interface. A strategy is a plain module exporting `createStrategy(params)`; the
// trader calls `evaluate(symbol, view, emit)` for every symbol whose bars, book or position
// changed, and sends what it emits through pre-trade risk and the order tracker (or the gateway).
// A strategy never sends anything itself, never awaits, and should not allocate per call.

import type { KlineBook } from './book.ts';

export type Side = 'BUY' | 'SELL';

/** Order style: a taker (MARKET) order, or a post-only maker order with a timeout. */
export type IntentStyle =
  | { kind: 'taker' }
  /** LIMIT GTX at the near touch; after timeoutMs the rest is cancelled, then sent as taker if thenTaker. */
  | { kind: 'maker'; timeoutMs: number; thenTaker: boolean };

/** Size in quote (USDT notional, converted at the decision price) or base (contracts). */
export type IntentSize = { quote: string } | { base: string };

export interface Intent {
  symbol: string;
  /** open: new or larger position; close: reduce-only; adjust: either way, not reduce-only. */
  action: 'open' | 'close' | 'adjust';
  side: Side;
  size: IntentSize;
  style: IntentStyle;
  /**
   * Stable identity of the decision on this symbol (e.g. `open:<bar open time>`): the same
   * (symbol, key) gives the same client order id, so re-emitting a decision can never send a
   * second order.
   */
  key: string;
  /** The price the decision was made on (last close or mid); used to size quote intents. */
  refPrice?: number;
  reason?: string;
}

export interface PositionView {
  /** Signed position in base units (one-way mode); 0 when flat. */
  amt: number;
  entryPrice: number;
  unrealizedPnl: number;
  /** Exchange time of the data. */
  ts: number;
}

export interface BalanceView {
  wallet: number;
  available: number;
  ts: number;
}

/** What a strategy may read. Reads are cheap (no allocation on the hot path). */
export interface MarketView {
  /** Bars of the trader's interval (1m), corrected by book ticks. */
  readonly book: KlineBook;
  /**
   * The position (last record plus fills not yet in one). The returned object is shared and
   * overwritten by the next call: read it at once, or copy it (`{ ...view.position(s) }`) to
   * keep it.
   */
  position(symbol: string): PositionView;
  balance(asset: string): BalanceView | undefined;
  /** Orders of this trader on the symbol that are not final (new, in flight, open, unknown). */
  activeOrders(symbol: string): number;
  /** Open orders on the exchange for the symbol (aggregator `orders.open`, any owner). */
  exchangeOpenOrders(symbol: string): number;
  /** The symbol or ALL is banned (risk.ban). */
  banned(symbol: string): boolean;
  /** Exchange time now (ms). */
  now(): number;
  /** This trader's opening orders on the symbol that are not final, and their unfilled quantity. */
  openingOrders?(symbol: string): { count: number; qty: number };
  /** Symbols with a position in the account (any symbol) or an opening order under way. */
  openSymbols?(): Iterable<string>;
}

export interface Strategy {
  readonly name: string;
  /**
   * Evaluate one symbol; call `emit` for each intent. Returns how many conditions were checked
   * (for the benchmark's checks-per-second).
   */
  evaluate(symbol: string, view: MarketView, emit: (intent: Intent) => void): number;
}

export type StrategyParams = Record<string, unknown>;
export type StrategyFactory = (params: StrategyParams) => Strategy;

const BUILT_IN: Record<string, () => Promise<{ createStrategy: StrategyFactory }>> = {
  demo: () => import('./strategies/demo.ts'),
};

/**
 * Loads a strategy by configuration: a built-in name (`demo`) or a path / module specifier of a
 * module exporting `createStrategy(params)`.
 */
export async function loadStrategy(spec: string, params: StrategyParams = {}): Promise<Strategy> {
  const builtIn = BUILT_IN[spec];
  let mod: { createStrategy?: StrategyFactory };
  if (builtIn) mod = await builtIn();
  else {
    const { pathToFileURL } = await import('node:url');
    const { resolve } = await import('node:path');
    const target = spec.startsWith('.') || spec.startsWith('/') ? pathToFileURL(resolve(spec)).href : spec;
    mod = (await import(target)) as { createStrategy?: StrategyFactory };
  }
  if (typeof mod.createStrategy !== 'function')
    throw new TypeError(`strategy module ${spec} does not export createStrategy(params)`);
  return mod.createStrategy(params);
}

/** Reads a number parameter with a default; throws on a non-number. */
export function numParam(params: StrategyParams, name: string, dflt: number): number {
  const v = params[name];
  if (v === undefined) return dflt;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n))
    throw new TypeError(`strategy parameter ${name} must be a number (got ${String(v)})`);
  return n;
}
