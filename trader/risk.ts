// Pre-trade risk, in every trader and in the gateway (DESIGN §8). Opening intents are refused
// on a banned symbol or under ALL, on stale bars or book, above the notional caps or the open
// positions cap; every intent is refused above the order rate. Closing (reduce-only) intents pass
// bans and staleness: the kill switch stops new positions, not exits. Each refusal is counted by
// cause and logged once per cause (then only counted).

import type { Logger } from '../core/log.ts';
import type { Intent, MarketView } from './strategy.ts';

export interface RiskLimits {
  /** Bars older than this (exchange time) open nothing (default 90 s: a 1m delta is due every minute). */
  maxBarsAgeMs: number;
  /** Book older than this opens nothing (default 5 s). */
  maxBookAgeMs: number;
  /** USDT notional of one order (default 1000). */
  maxOrderNotional: number;
  /** USDT notional of position + order on one symbol (default 2000). */
  maxSymbolNotional: number;
  /** Symbols with a position (default 10). */
  maxOpenPositions: number;
  /** Orders per second (default 5) and per minute (default 60) from this process. */
  maxOrdersPerSecond: number;
  maxOrdersPerMinute: number;
}

export const DEFAULT_LIMITS: RiskLimits = {
  maxBarsAgeMs: 90_000,
  maxBookAgeMs: 5_000,
  maxOrderNotional: 1000,
  maxSymbolNotional: 2000,
  maxOpenPositions: 10,
  maxOrdersPerSecond: 5,
  maxOrdersPerMinute: 60,
};

export type RefusalCause =
  | 'banned'
  | 'banned-all'
  | 'stale-bars'
  | 'stale-book'
  | 'no-price'
  | 'order-notional'
  | 'symbol-notional'
  | 'max-positions'
  | 'order-rate'
  /** Not placeable under the symbol's filters (counted here, decided by the RulesBook). */
  | 'not-placeable';

export type RiskVerdict = { ok: true; notional: number } | { ok: false; cause: RefusalCause; detail: string };

/** Order rate over sliding 1 s and 60 s windows (timestamps in a ring). */
class RateWindow {
  private readonly times: Float64Array;
  private head = 0;
  private count = 0;
  constructor(cap: number) {
    this.times = new Float64Array(Math.max(1, cap));
  }
  /** Orders within the last `ms` before `now`. */
  within(now: number, ms: number): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const t = this.times[(this.head - 1 - i + this.times.length) % this.times.length];
      if (now - t < ms) n++;
      else break;
    }
    return n;
  }
  add(now: number): void {
    this.times[this.head] = now;
    this.head = (this.head + 1) % this.times.length;
    if (this.count < this.times.length) this.count++;
  }
}

export class PreTradeRisk {
  readonly limits: RiskLimits;
  readonly refusals = new Map<RefusalCause, number>();
  private readonly logged = new Set<RefusalCause>();
  private readonly rate: RateWindow;
  passed = 0;

  constructor(
    limits: Partial<RiskLimits> = {},
    private readonly log?: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.rate = new RateWindow(Math.max(this.limits.maxOrdersPerMinute, this.limits.maxOrdersPerSecond) + 1);
  }

  /**
   * Checks an intent. `view` is absent in the gateway (no market data there: bans, staleness and
   * positions are the traders' to check); `price` values quote and base sizes.
   */
  check(intent: Intent, price: number, view?: MarketView): RiskVerdict {
    const opening = intent.action !== 'close';
    const base = 'base' in intent.size ? Number(intent.size.base) : Number(intent.size.quote) / price;
    const notional = 'quote' in intent.size ? Number(intent.size.quote) : Math.abs(base * price);
    if (opening && view) {
      if (view.banned('ALL')) return this.refuse('banned-all', `${intent.symbol}: ALL is banned`);
      if (view.banned(intent.symbol)) return this.refuse('banned', `${intent.symbol} is banned`);
      const bars = view.book.get(intent.symbol);
      const now = view.now();
      const barsAge = bars ? now - bars.barsTs : Number.POSITIVE_INFINITY;
      if (!(barsAge <= this.limits.maxBarsAgeMs))
        return this.refuse(
          'stale-bars',
          `${intent.symbol}: bars ${barsAge} ms old > ${this.limits.maxBarsAgeMs}`,
        );
      const bookAge = bars ? now - bars.bookTs : Number.POSITIVE_INFINITY;
      if (!(bookAge <= this.limits.maxBookAgeMs))
        return this.refuse(
          'stale-book',
          `${intent.symbol}: book ${bookAge} ms old > ${this.limits.maxBookAgeMs}`,
        );
    }
    if (!(price > 0) || !Number.isFinite(notional))
      return this.refuse('no-price', `${intent.symbol}: no price to value the order`);
    if (opening) {
      if (notional > this.limits.maxOrderNotional)
        return this.refuse(
          'order-notional',
          `${intent.symbol}: ${notional.toFixed(2)} > ${this.limits.maxOrderNotional}`,
        );
      if (view) {
        const pos = view.position(intent.symbol);
        const symNotional = Math.abs(pos.amt * price) + notional;
        if (symNotional > this.limits.maxSymbolNotional)
          return this.refuse(
            'symbol-notional',
            `${intent.symbol}: ${symNotional.toFixed(2)} > ${this.limits.maxSymbolNotional}`,
          );
        if (pos.amt === 0 && this.openPositions(view) >= this.limits.maxOpenPositions)
          return this.refuse(
            'max-positions',
            `${intent.symbol}: ${this.limits.maxOpenPositions} positions open`,
          );
      }
    }
    const t = this.clock();
    if (
      this.rate.within(t, 1000) >= this.limits.maxOrdersPerSecond ||
      this.rate.within(t, 60_000) >= this.limits.maxOrdersPerMinute
    )
      return this.refuse('order-rate', `${intent.symbol}: order rate cap reached`);
    this.passed++;
    return { ok: true, notional };
  }

  /** Counts an order against the rate caps (call when it is sent). */
  sent(): void {
    this.rate.add(this.clock());
  }

  private openPositions(view: MarketView): number {
    let n = 0;
    for (const s of view.book.symbols()) if (view.position(s).amt !== 0) n++;
    return n;
  }

  /** Counts (and logs once) a refusal decided elsewhere, e.g. by the symbol filters. */
  refuse(cause: RefusalCause, detail: string): RiskVerdict {
    this.refusals.set(cause, (this.refusals.get(cause) ?? 0) + 1);
    if (!this.logged.has(cause)) {
      this.logged.add(cause);
      this.log?.warn(
        { cause, detail },
        'pre-trade risk refused an intent (logged once per cause; counted after)',
      );
    }
    return { ok: false, cause, detail };
  }

  refusalCounts(): Record<string, number> {
    return Object.fromEntries(this.refusals);
  }
}
