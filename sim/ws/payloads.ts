// Stream payloads exactly as Binance USDⓈ-M sends them (reference §12.3), built from the
// simulator's market state. E is always exchange time (the caller passes clock.now()).

import type { BookTicker, KlineInterval, KlineRow, MarketTrade } from '../contracts.ts';

export type Level = [string, string];

function str(v: unknown, dflt = '0'): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? dflt : String(v);
}

function int(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
}

export function bookTickerPayload(book: BookTicker, u: number, E: number): Record<string, unknown> {
  return {
    e: 'bookTicker',
    u,
    E,
    T: book.time,
    s: book.symbol,
    b: book.bidPrice,
    B: book.bidQty,
    a: book.askPrice,
    A: book.askQty,
  };
}

/** One market trade as its own aggregate (a = f = l = the trade id). */
export function aggTradePayload(t: MarketTrade, E: number): Record<string, unknown> {
  return {
    e: 'aggTrade',
    E,
    s: t.symbol,
    a: t.id,
    p: t.price,
    q: t.qty,
    nq: t.qty,
    f: t.id,
    l: t.id,
    T: t.time,
    m: t.isBuyerMaker,
  };
}

/** From a GET /fapi/v1/premiumIndex object. `ap` (2026) carries the mark price. */
export function markPricePayload(pi: Record<string, unknown>, E: number): Record<string, unknown> {
  const p = str(pi.markPrice);
  return {
    e: 'markPriceUpdate',
    E,
    s: str(pi.symbol, ''),
    p,
    ap: str(pi.markPriceAvg ?? pi.ap, p),
    i: str(pi.indexPrice),
    P: str(pi.estimatedSettlePrice),
    r: str(pi.lastFundingRate),
    T: int(pi.nextFundingTime),
  };
}

/** From a GET /fapi/v1/ticker/24hr object. */
export function tickerPayload(t: Record<string, unknown>, E: number): Record<string, unknown> {
  return {
    e: '24hrTicker',
    E,
    s: str(t.symbol, ''),
    p: str(t.priceChange),
    P: str(t.priceChangePercent),
    w: str(t.weightedAvgPrice),
    c: str(t.lastPrice),
    Q: str(t.lastQty),
    o: str(t.openPrice),
    h: str(t.highPrice),
    l: str(t.lowPrice),
    v: str(t.volume),
    q: str(t.quoteVolume),
    O: int(t.openTime),
    C: int(t.closeTime),
    F: int(t.firstId),
    L: int(t.lastId),
    n: int(t.count),
  };
}

export function miniTickerPayload(t: Record<string, unknown>, E: number): Record<string, unknown> {
  return {
    e: '24hrMiniTicker',
    E,
    s: str(t.symbol, ''),
    c: str(t.lastPrice),
    o: str(t.openPrice),
    h: str(t.highPrice),
    l: str(t.lowPrice),
    v: str(t.volume),
    q: str(t.quoteVolume),
  };
}

/** What changes a ticker's appearance; the "only changed tickers" arrays compare this. */
export function tickerSignature(t: Record<string, unknown>): string {
  return `${str(t.lastPrice)}|${str(t.volume)}|${str(t.openPrice)}|${str(t.highPrice)}|${str(t.lowPrice)}|${str(t.count)}`;
}

export function klinePayload(
  symbol: string,
  interval: KlineInterval,
  row: KlineRow,
  closed: boolean,
  firstId: number,
  lastId: number,
  E: number,
): Record<string, unknown> {
  return {
    e: 'kline',
    E,
    s: symbol,
    k: {
      t: row[0],
      T: row[6],
      s: symbol,
      i: interval,
      f: firstId,
      L: lastId,
      o: row[1],
      c: row[4],
      h: row[2],
      l: row[3],
      v: row[5],
      n: row[8],
      x: closed,
      q: row[7],
      V: row[9],
      Q: row[10],
      B: '0',
    },
  };
}

export function depthPayload(
  symbol: string,
  E: number,
  T: number,
  U: number,
  u: number,
  pu: number,
  b: Level[],
  a: Level[],
): Record<string, unknown> {
  return { e: 'depthUpdate', E, T, s: symbol, U, u, pu, b, a };
}

/**
 * Levels that differ between two books (price → qty): new or changed quantities as they are
 * now, removed levels with quantity "0". Bids best first (descending), asks ascending.
 */
export function diffLevels(
  prev: Map<string, string>,
  cur: Map<string, string>,
  side: 'bids' | 'asks',
): Level[] {
  const out: Level[] = [];
  for (const [p, q] of cur) if (prev.get(p) !== q) out.push([p, q]);
  for (const p of prev.keys()) if (!cur.has(p)) out.push([p, '0']);
  if (out.length > 1) {
    out.sort(side === 'bids' ? (x, y) => Number(y[0]) - Number(x[0]) : (x, y) => Number(x[0]) - Number(y[0]));
  }
  return out;
}
