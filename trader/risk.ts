// Pre-trade risk, in every trader and in the gateway (DESIGN §8). Opening intents are refused
// on a banned symbol or under ALL, on stale bars or book, above the notional caps or the open
// positions cap; every intent is refused above the order rate. Closing (reduce-only) intents pass
// bans and staleness: the kill switch stops new positions, not exits. Each refusal is counted by
// cause and logged once per cause (then only counted).
//
// Exposure counts what is under way, not only what is filled: a symbol with an opening order
// that is not final counts as an open position, and its unfilled quantity adds to the symbol's
// notional (one aggregator frame evaluating many symbols cannot open more than the cap). The caps
// are checked again on the order as it will be sent (rounded quantity × book price: a quote size
// rounded up must not pass a cap its request was under), and an opening intent whose refPrice is
// more than 5 % from the book mid is refused ('bad-price').

import type { Logger } from '../core/log.ts';
import type { KlineBook } from './book.ts';
import type { Intent } from './strategy.ts';

/**
 * What pre-trade risk reads. A trader passes its MarketView; the gateway passes bans and
 * positions from its aggregator connection (no book: staleness and open positions are the
 * traders' to check).
 */
export interface RiskView {
  banned(symbol: string): boolean;
  position(symbol: string): { amt: number };
  /** Market data for the staleness checks and the bad-price check. */
  readonly book?: KlineBook;
  now?(): number;
  /** Opening orders of the symbol not yet final, and their unfilled base quantity. */
  openingOrders?(symbol: string): { count: number; qty: number };
  /** Every symbol with a position (any the account shows) or an opening order under way. */
  openSymbols?(): Iterable<string>;
}

/** An opening intent's refPrice may be this far from the book mid (fraction). */
export const MAX_REF_PRICE_DEVIATION = 0.05;

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
  /** refPrice more than 5 % from the book mid. */
  | 'bad-price'
  /** The gateway's ban list has not arrived from the aggregator yet. */
  | 'no-risk-data'
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
  check(intent: Intent, price: number, view?: RiskView): RiskVerdict {
    const opening = intent.action !== 'close';
    const base = 'base' in intent.size ? Number(intent.size.base) : Number(intent.size.quote) / price;
    const notional = 'quote' in intent.size ? Number(intent.size.quote) : Math.abs(base * price);
    if (opening && view) {
      if (view.banned('ALL')) return this.refuse('banned-all', `${intent.symbol}: ALL is banned`);
      if (view.banned(intent.symbol)) return this.refuse('banned', `${intent.symbol} is banned`);
    }
    if (opening && view?.book) {
      const bars = view.book.get(intent.symbol);
      const now = view.now ? view.now() : Date.now();
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
      const bad = this.badPrice(intent, bars ? (bars.bid + bars.ask) / 2 : Number.NaN);
      if (bad) return bad;
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
        const exposure = this.exposure(intent.symbol, price, view);
        const symNotional = exposure.notional + notional;
        if (symNotional > this.limits.maxSymbolNotional)
          return this.refuse(
            'symbol-notional',
            `${intent.symbol}: ${symNotional.toFixed(2)} > ${this.limits.maxSymbolNotional}`,
          );
        if (
          !exposure.open &&
          (view.openSymbols || view.book) &&
          this.openPositions(view) >= this.limits.maxOpenPositions
        )
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

  /**
   * Checks the order as it will be sent: its rounded base quantity valued at the book price
   * (`bookPrice`; the caller's price when the book has none). Opening orders only: the order and
   * symbol notional caps again, on what rounding made of the request.
   */
  checkPrepared(intent: Intent, quantity: number, bookPrice: number, view?: RiskView): RiskVerdict {
    const notional = Math.abs(quantity * bookPrice);
    if (intent.action === 'close') return { ok: true, notional };
    if (!(bookPrice > 0) || !Number.isFinite(notional))
      return this.refuse('no-price', `${intent.symbol}: no book price to value the order`);
    if (notional > this.limits.maxOrderNotional)
      return this.refuse(
        'order-notional',
        `${intent.symbol}: ${notional.toFixed(2)} as rounded > ${this.limits.maxOrderNotional}`,
      );
    if (view) {
      const symNotional = this.exposure(intent.symbol, bookPrice, view).notional + notional;
      if (symNotional > this.limits.maxSymbolNotional)
        return this.refuse(
          'symbol-notional',
          `${intent.symbol}: ${symNotional.toFixed(2)} as rounded > ${this.limits.maxSymbolNotional}`,
        );
    }
    return { ok: true, notional };
  }

  /** An opening intent whose refPrice is more than 5 % from the book mid: refused. */
  badPrice(intent: Intent, mid: number): RiskVerdict | undefined {
    if (intent.action === 'close' || intent.refPrice === undefined || !(mid > 0)) return undefined;
    const dev = Math.abs(intent.refPrice / mid - 1);
    if (dev > MAX_REF_PRICE_DEVIATION)
      return this.refuse(
        'bad-price',
        `${intent.symbol}: refPrice ${intent.refPrice} is ${(dev * 100).toFixed(1)} % from the book mid ${mid}`,
      );
    return undefined;
  }

  /**
   * A maker's taker follow-up (from the tracker's beforeFollowUp hook): an opening one is refused
   * on a banned symbol or under ALL (closes always pass); a sent one counts toward the order rate.
   * Returns the refusal's detail, or undefined when it may go (and counts it).
   */
  followUp(
    maker: { symbol: string; reduceOnly: boolean },
    view?: Pick<RiskView, 'banned'>,
  ): string | undefined {
    if (!maker.reduceOnly && view) {
      if (view.banned('ALL')) {
        const r = this.refuse('banned-all', `${maker.symbol}: ALL is banned (taker follow-up)`);
        return r.ok ? undefined : r.detail;
      }
      if (view.banned(maker.symbol)) {
        const r = this.refuse('banned', `${maker.symbol} is banned (taker follow-up)`);
        return r.ok ? undefined : r.detail;
      }
    }
    this.sent();
    return undefined;
  }

  /** Counts an order against the rate caps (call when it is sent). */
  sent(): void {
    this.rate.add(this.clock());
  }

  /** The symbol's notional (position + unfilled opening orders) and whether it counts as open. */
  private exposure(symbol: string, price: number, view: RiskView): { notional: number; open: boolean } {
    const amt = view.position(symbol).amt;
    const pending = view.openingOrders?.(symbol);
    return {
      notional: Math.abs(amt * price) + (pending ? pending.qty * price : 0),
      open: amt !== 0 || (pending !== undefined && pending.count > 0),
    };
  }

  private openPositions(view: RiskView): number {
    let n = 0;
    if (view.openSymbols) {
      for (const _ of view.openSymbols()) n++;
      return n;
    }
    if (view.book)
      for (const s of view.book.symbols())
        if (view.position(s).amt !== 0 || (view.openingOrders?.(s).count ?? 0) > 0) n++;
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
