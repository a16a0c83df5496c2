// Test helper: a fake MarketView whose prices the test sets and whose ticks and funding the test
// emits, plus an engine on it with a recorded user-event log.

import { D } from '../../core/decimal.ts';
import type {
  BookTicker,
  KlineRow,
  MarketListener,
  MarketTick,
  MarketTrade,
  MarketView,
  Params,
  SymbolSpec,
  UserEvent,
} from '../contracts.ts';
import { ApiError } from '../contracts.ts';
import { createEngine, type Engine } from './engine.ts';

export const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);

export class FakeClock {
  t: number;
  constructor(t = T0) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): number {
    this.t += ms;
    return this.t;
  }
}

function spec(over: Partial<SymbolSpec> & { symbol: string }): SymbolSpec {
  return {
    baseAsset: over.symbol.replace(/USDT$/, ''),
    quoteAsset: 'USDT',
    tickSize: '0.10',
    minPrice: '556.80',
    maxPrice: '4529764',
    stepSize: '0.001',
    minQty: '0.001',
    maxQty: '1000',
    marketStepSize: '0.001',
    marketMinQty: '0.001',
    marketMaxQty: '120',
    minNotional: '100',
    maxNumOrders: 200,
    multiplierUp: '1.0500',
    multiplierDown: '0.9500',
    multiplierDecimal: '4',
    pricePrecision: 2,
    quantityPrecision: 3,
    maintMarginPercent: '2.5000',
    requiredMarginPercent: '5.0000',
    onboardDate: 1569398400000,
    initialPrice: '60000',
    beta: 1,
    vol: 0.001,
    ...over,
  };
}

export const BTC = spec({ symbol: 'BTCUSDT' });
export const ETH = spec({
  symbol: 'ETHUSDT',
  tickSize: '0.01',
  minPrice: '39.86',
  maxPrice: '306177',
  maxQty: '10000',
  marketMaxQty: '2000',
  minNotional: '20',
  initialPrice: '3000',
});
export const DOGE = spec({
  symbol: 'DOGEUSDT',
  tickSize: '0.00001',
  minPrice: '0.00244',
  maxPrice: '30',
  stepSize: '1',
  minQty: '1',
  maxQty: '50000000',
  marketStepSize: '1',
  marketMinQty: '1',
  marketMaxQty: '30000000',
  minNotional: '5',
  pricePrecision: 6,
  quantityPrecision: 0,
  initialPrice: '0.1',
});

interface Quote {
  last: string;
  mark: string;
  bid: string;
  ask: string;
}

const DEEP = '1000000000';

export class FakeMarket implements MarketView {
  readonly clock: FakeClock;
  private readonly list: SymbolSpec[];
  private readonly bySymbol = new Map<string, SymbolSpec>();
  private readonly quotes = new Map<string, Quote>();
  private readonly tickListeners = new Set<MarketListener>();
  private readonly fundingListeners = new Set<
    (time: number, rates: Map<string, { rate: string; mark: string }>) => void
  >();
  private tradeId = 1;
  private updateId = 1;
  private readonly books = new Map<string, { bids: [string, string][]; asks: [string, string][] }>();
  /** Every consume() call, in order. */
  readonly consumed: Array<{ symbol: string; side: 'BUY' | 'SELL'; price: string; qty: string }> = [];

  constructor(specs: SymbolSpec[], clock = new FakeClock()) {
    this.clock = clock;
    this.list = specs;
    for (const s of specs) {
      this.bySymbol.set(s.symbol, s);
      const p = D(s.initialPrice);
      const tick = D(s.tickSize);
      this.quotes.set(s.symbol, {
        last: p.toString(),
        mark: p.toString(),
        bid: p.toString(),
        ask: p.add(tick).toString(),
      });
    }
  }

  specs(): SymbolSpec[] {
    return this.list;
  }
  spec(symbol: string): SymbolSpec | undefined {
    return this.bySymbol.get(symbol);
  }
  exchangeInfo(): unknown {
    return {};
  }
  private q(symbol: string): Quote {
    const q = this.quotes.get(symbol);
    if (!q) throw new Error(`unknown symbol ${symbol}`);
    return q;
  }
  lastPrice(symbol: string): string {
    return this.q(symbol).last;
  }
  markPrice(symbol: string): string {
    return this.q(symbol).mark;
  }
  indexPrice(symbol: string): string {
    return this.q(symbol).mark;
  }
  bookTicker(symbol: string): BookTicker {
    const q = this.q(symbol);
    const book = this.books.get(symbol);
    const bid = book?.bids[0];
    const ask = book?.asks[0];
    return {
      symbol,
      bidPrice: bid ? bid[0] : q.bid,
      bidQty: bid ? bid[1] : '10',
      askPrice: ask ? ask[0] : q.ask,
      askQty: ask ? ask[1] : '10',
      time: this.clock.now(),
    };
  }
  /** Without setBook: every level around bid/ask holds DEEP (liquidity is practically unlimited). */
  depth(symbol: string, limit: number) {
    const q = this.q(symbol);
    const book = this.books.get(symbol);
    const tick = D(this.bySymbol.get(symbol)?.tickSize ?? '0.1');
    let bids: [string, string][] = [];
    let asks: [string, string][] = [];
    if (book) {
      bids = book.bids.slice(0, limit).map(([p, x]): [string, string] => [p, x]);
      asks = book.asks.slice(0, limit).map(([p, x]): [string, string] => [p, x]);
    } else {
      for (let i = 0; i < limit; i++) {
        bids.push([D(q.bid).sub(tick.mul(i)).toString(), DEEP]);
        asks.push([D(q.ask).add(tick.mul(i)).toString(), DEEP]);
      }
    }
    return { lastUpdateId: this.updateId, E: this.clock.now(), T: this.clock.now(), bids, asks };
  }
  consume(symbol: string, takerSide: 'BUY' | 'SELL', price: string, qty: string): void {
    this.consumed.push({ symbol, side: takerSide, price, qty });
    const book = this.books.get(symbol);
    if (!book) return;
    const levels = takerSide === 'BUY' ? book.asks : book.bids;
    const i = levels.findIndex(([p]) => D(p).eq(D(price)));
    if (i < 0) return;
    const left = D(levels[i][1]).sub(D(qty));
    if (left.isPositive()) levels[i] = [levels[i][0], left.toString()];
    else levels.splice(i, 1);
    this.updateId++;
  }
  /** An explicit depth book (best first); takers consume it. Ends at the next set()/trade(). */
  setBook(symbol: string, book: { bids: [string, string][]; asks: [string, string][] }): void {
    this.books.set(symbol, { bids: book.bids.map((l) => [...l]), asks: book.asks.map((l) => [...l]) });
  }
  klines(): KlineRow[] {
    return [];
  }
  ticker24h(): Record<string, unknown> {
    return {};
  }
  premiumIndex(): Record<string, unknown> {
    return {};
  }
  fundingHistory(): Record<string, unknown>[] {
    return [];
  }
  recentTrades(): MarketTrade[] {
    return [];
  }
  onTick(listener: MarketListener): () => void {
    this.tickListeners.add(listener);
    return () => this.tickListeners.delete(listener);
  }
  onFunding(
    listener: (time: number, rates: Map<string, { rate: string; mark: string }>) => void,
  ): () => void {
    this.fundingListeners.add(listener);
    return () => this.fundingListeners.delete(listener);
  }

  /** Sets prices without a tick (book around `price` unless given). */
  set(symbol: string, price: string, over: Partial<Quote> = {}): void {
    this.books.delete(symbol);
    const tick = D(this.bySymbol.get(symbol)?.tickSize ?? '0.1');
    const p = D(price);
    this.quotes.set(symbol, {
      last: price,
      mark: over.mark ?? price,
      bid: over.bid ?? p.toString(),
      ask: over.ask ?? p.add(tick).toString(),
      ...over,
    });
  }

  /**
   * Trades print at `prices` (the last one becomes the last price, book and mark follow unless
   * given) and a tick is emitted.
   */
  trade(symbol: string, prices: string[], over: Partial<Quote> = {}): MarketTick {
    const lastPx = prices.length ? prices[prices.length - 1] : this.q(symbol).last;
    this.set(symbol, lastPx, over);
    const now = this.clock.now();
    const trades: MarketTrade[] = prices.map((p) => ({
      id: this.tradeId++,
      symbol,
      price: p,
      qty: '1',
      quoteQty: p,
      time: now,
      isBuyerMaker: false,
    }));
    return this.emitTick(symbol, trades);
  }

  /** Only the mark moves (no trades). */
  markTo(symbol: string, mark: string): MarketTick {
    const q = this.q(symbol);
    this.quotes.set(symbol, { ...q, mark });
    return this.emitTick(symbol, []);
  }

  emitTick(symbol: string, trades: MarketTrade[]): MarketTick {
    const q = this.q(symbol);
    const tick: MarketTick = {
      symbol,
      time: this.clock.now(),
      trades,
      last: q.last,
      mark: q.mark,
      book: this.bookTicker(symbol),
    };
    for (const l of this.tickListeners) l(tick);
    return tick;
  }

  funding(rates: Record<string, string>, time = this.clock.now()): void {
    const m = new Map<string, { rate: string; mark: string }>();
    for (const [s, rate] of Object.entries(rates)) m.set(s, { rate, mark: this.q(s).mark });
    for (const l of this.fundingListeners) l(time, m);
  }
}

export const KEY = 'key-A';
export const KEY2 = 'key-B';

export interface Harness {
  market: FakeMarket;
  engine: Engine;
  events: Array<{ key: string; e: UserEvent }>;
  /** Events of one account, optionally of one type, and clears nothing. */
  ev(type?: string, key?: string): UserEvent[];
  clearEvents(): void;
  /** Calls an engine method and returns its body as a plain object. */
  call<T = Record<string, unknown>>(method: keyof Engine, p?: Params, key?: string): T;
  /** Expects an ApiError with this code. */
  fails(method: keyof Engine, p: Params, code: number, key?: string): ApiError;
}

export function harness(
  opts: { specs?: SymbolSpec[]; balance?: string; legacy?: boolean; maker?: string; taker?: string } = {},
): Harness {
  const market = new FakeMarket(opts.specs ?? [BTC, ETH, DOGE]);
  const engine = createEngine({
    market,
    accounts: [
      { apiKey: KEY, apiSecret: 'secret-A', balance: opts.balance ?? '10000' },
      { apiKey: KEY2, apiSecret: 'secret-B', balance: opts.balance ?? '10000' },
    ],
    legacyConditional: opts.legacy,
    makerRate: opts.maker,
    takerRate: opts.taker,
  });
  const events: Array<{ key: string; e: UserEvent }> = [];
  engine.onUserEvent((key, e) => events.push({ key, e }));
  const h: Harness = {
    market,
    engine,
    events,
    ev(type, key = KEY) {
      return events.filter((x) => x.key === key && (type === undefined || x.e.e === type)).map((x) => x.e);
    },
    clearEvents() {
      events.length = 0;
    },
    call<T>(method: keyof Engine, p: Params = {}, key = KEY): T {
      const fn = engine[method] as unknown as (k: string, p: Params) => unknown;
      return JSON.parse(JSON.stringify(fn(key, p))) as T;
    },
    fails(method, p, code, key = KEY) {
      const fn = engine[method] as unknown as (k: string, p: Params) => unknown;
      try {
        fn(key, p);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (e.code !== code) throw new Error(`expected ${code}, got ${e.code} ${e.message}`);
        return e;
      }
      throw new Error(`expected ${code}, but the call succeeded`);
    },
  };
  return h;
}

/** Shorthand params for a LIMIT order. */
export function limit(side: 'BUY' | 'SELL', qty: string, price: string, extra: Params = {}): Params {
  return { symbol: 'BTCUSDT', side, type: 'LIMIT', timeInForce: 'GTC', quantity: qty, price, ...extra };
}

export function market(side: 'BUY' | 'SELL', qty: string, extra: Params = {}): Params {
  return { symbol: 'BTCUSDT', side, type: 'MARKET', quantity: qty, ...extra };
}

/** Generates n plain symbols (for the 200-symbol account tests). */
export function manySpecs(n: number): SymbolSpec[] {
  const out = [BTC, ETH, DOGE];
  for (let i = 0; out.length < n; i++) {
    out.push(
      spec({
        symbol: `X${i}USDT`,
        tickSize: '0.001',
        minPrice: '0.001',
        maxPrice: '100000',
        minNotional: '5',
        pricePrecision: 3,
        quantityPrecision: 1,
        stepSize: '0.1',
        minQty: '0.1',
        marketStepSize: '0.1',
        marketMinQty: '0.1',
        initialPrice: '10',
      }),
    );
  }
  return out;
}
