// Public market-data endpoints (security NONE): parameter rules as Binance applies them.

import {
  ApiError,
  apiError,
  KLINE_INTERVALS,
  type KlineInterval,
  type MarketView,
  type Params,
  type SimClock,
} from '../contracts.ts';
import { aggTradePayload } from '../ws/payloads.ts';
import type { RouteTable } from './routes.ts';

const INTERVALS = new Set<string>(KLINE_INTERVALS);
const DEPTH_LIMITS = new Set([5, 10, 20, 50, 100, 500, 1000]);

export function requireSymbol(market: MarketView, p: Params): string {
  const s = p.symbol;
  if (s === undefined || s === '') throw apiError(-1102, 'symbol');
  const up = s.toUpperCase();
  if (!market.spec(up)) throw apiError(-1121);
  return up;
}

function optionalSymbol(market: MarketView, p: Params): string | undefined {
  if (p.symbol === undefined || p.symbol === '') return undefined;
  return requireSymbol(market, p);
}

/** An optional integer parameter; malformed → -1130 as Binance says for bad data. */
export function intParam(p: Params, name: string): number | undefined {
  const v = p[name];
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d{1,16}$/.test(v)) throw apiError(-1130, name);
  return Number(v);
}

export function limitParam(p: Params, def: number, max: number): number {
  const l = intParam(p, 'limit') ?? def;
  if (l < 1 || l > max) throw apiError(-1130, 'limit');
  return l;
}

export function timeRange(p: Params): { startTime?: number; endTime?: number } {
  const startTime = intParam(p, 'startTime');
  const endTime = intParam(p, 'endTime');
  if (startTime !== undefined && endTime !== undefined && startTime > endTime) throw apiError(-1023);
  return { startTime, endTime };
}

function klines(market: MarketView, p: Params) {
  const symbol = requireSymbol(market, p);
  const interval = p.interval;
  if (interval === undefined || interval === '') throw apiError(-1102, 'interval');
  if (!INTERVALS.has(interval)) throw apiError(-1120);
  const limit = limitParam(p, 500, 1500);
  return market.klines(symbol, interval as KlineInterval, { ...timeRange(p), limit });
}

/** Many-symbol endpoints answer an array without `symbol`, an object with it. */
function perSymbol<T>(market: MarketView, p: Params, one: (s: string) => T): T | T[] {
  const s = optionalSymbol(market, p);
  if (s !== undefined) return one(s);
  return market.specs().map((spec) => one(spec.symbol));
}

export function addMarketRoutes(
  routes: RouteTable,
  market: MarketView,
  serverClock: SimClock = market.clock,
): void {
  const pub = (method: string, path: string, handler: (p: Params) => unknown) =>
    routes.add(method, path, 'NONE', (ctx) => handler(ctx.params));

  pub('GET', '/fapi/v1/ping', () => ({}));
  pub('GET', '/fapi/v1/time', () => ({ serverTime: serverClock.now() }));
  pub('GET', '/fapi/v1/exchangeInfo', () => market.exchangeInfo());
  pub('GET', '/fapi/v1/klines', (p) => klines(market, p));
  pub('GET', '/fapi/v1/depth', (p) => {
    const symbol = requireSymbol(market, p);
    const limit = intParam(p, 'limit') ?? 500;
    if (!DEPTH_LIMITS.has(limit)) throw apiError(-4021, String(limit));
    return market.depth(symbol, limit);
  });
  pub('GET', '/fapi/v1/trades', (p) => {
    const symbol = requireSymbol(market, p);
    const limit = limitParam(p, 500, 1000);
    return market.recentTrades(symbol, limit).map((t) => ({
      id: t.id,
      price: t.price,
      qty: t.qty,
      quoteQty: t.quoteQty,
      time: t.time,
      isBuyerMaker: t.isBuyerMaker,
      isRPITrade: false,
    }));
  });
  pub('GET', '/fapi/v1/ticker/bookTicker', (p) => perSymbol(market, p, (s) => market.bookTicker(s)));
  const price = (p: Params) =>
    perSymbol(market, p, (s) => ({ symbol: s, price: market.lastPrice(s), time: market.clock.now() }));
  pub('GET', '/fapi/v1/ticker/price', price);
  pub('GET', '/fapi/v2/ticker/price', price);
  pub('GET', '/fapi/v1/ticker/24hr', (p) => perSymbol(market, p, (s) => market.ticker24h(s)));
  pub('GET', '/fapi/v1/premiumIndex', (p) => perSymbol(market, p, (s) => market.premiumIndex(s)));
  pub('GET', '/fapi/v1/fundingRate', (p) => {
    const range = timeRange(p);
    const limit = limitParam(p, 100, 1000);
    const symbol = optionalSymbol(market, p);
    if (symbol !== undefined) return market.fundingHistory(symbol, { ...range, limit });
    // Without a symbol: every symbol's rows by time; from startTime on when given, else the latest.
    const rows = market
      .specs()
      .flatMap((s) => market.fundingHistory(s.symbol, { ...range, limit }))
      .sort((a, b) => Number(a.fundingTime) - Number(b.fundingTime));
    return range.startTime !== undefined ? rows.slice(0, limit) : rows.slice(-limit);
  });
  pub('GET', '/fapi/v1/fundingInfo', () =>
    market.specs().map((s) => ({
      symbol: s.symbol,
      adjustedFundingRateCap: '0.02000000',
      adjustedFundingRateFloor: '-0.02000000',
      fundingIntervalHours: 8,
      disclaimer: false,
    })),
  );
  // Aggregate trades: every simulated trade is its own aggregate (a = f = l = the trade id), from
  // the market's recent-trades window.
  pub('GET', '/fapi/v1/aggTrades', (p) => {
    const symbol = requireSymbol(market, p);
    const limit = limitParam(p, 500, 1000);
    const fromId = intParam(p, 'fromId');
    const { startTime, endTime } = timeRange(p);
    if (fromId !== undefined && (startTime !== undefined || endTime !== undefined)) throw apiError(-1128);
    if (startTime !== undefined && endTime !== undefined && endTime - startTime > 3_600_000)
      throw apiError(-1127, 1);
    let trades = market.recentTrades(symbol, 1000);
    if (fromId !== undefined) trades = trades.filter((t) => t.id >= fromId).slice(0, limit);
    else if (startTime !== undefined || endTime !== undefined) {
      trades = trades.filter(
        (t) =>
          (startTime === undefined || t.time >= startTime) && (endTime === undefined || t.time <= endTime),
      );
      trades = startTime !== undefined ? trades.slice(0, limit) : trades.slice(-limit);
    } else trades = trades.slice(-limit);
    // The stream's aggTrade payload without its event fields (e, E, s): the same object as REST.
    return trades.map((t) => {
      const { e: _e, E: _E, s: _s, ...row } = aggTradePayload(t, 0);
      return row;
    });
  });
  pub('GET', '/fapi/v1/openInterest', (p) => {
    const symbol = requireSymbol(market, p);
    const spec = market.spec(symbol);
    // A third of the 24 h volume is open: stable and proportional to the symbol's activity.
    const vol = Number(market.ticker24h(symbol).volume ?? 0);
    return {
      openInterest: (vol / 3).toFixed(spec?.quantityPrecision ?? 3),
      symbol,
      time: market.clock.now(),
    };
  });
  // Mark, index and premium-index klines: the contract klines' times; prices follow the mark
  // (last-price bars), the index (scaled by the current index/mark ratio) and the premium
  // ((mark - index) / index, the current value for each bar); volumes "0", slot 8 the trade count.
  const priceKlines = (kind: 'mark' | 'index' | 'premium', p: Params) => {
    if (kind === 'index' && (p.pair === undefined || p.pair === '')) throw apiError(-1102, 'pair');
    const symbol = requireSymbol(market, kind === 'index' ? { ...p, symbol: p.pair } : p);
    const rows = klines(market, { ...p, symbol });
    const dp = market.spec(symbol)?.pricePrecision ?? 2;
    const mark = Number(market.markPrice(symbol));
    const index = Number(market.indexPrice(symbol));
    const ratio = mark > 0 ? index / mark : 1;
    const premium = index > 0 ? ((mark - index) / index).toFixed(8) : '0.00000000';
    return rows.map((r) => {
      const px = (i: number): string =>
        kind === 'premium'
          ? premium
          : kind === 'mark'
            ? (r[i] as string)
            : (Number(r[i]) * ratio).toFixed(dp);
      return [r[0], px(1), px(2), px(3), px(4), '0', r[6], '0', r[8], '0', '0', '0'];
    });
  };
  pub('GET', '/fapi/v1/markPriceKlines', (p) => priceKlines('mark', p));
  pub('GET', '/fapi/v1/indexPriceKlines', (p) => priceKlines('index', p));
  pub('GET', '/fapi/v1/premiumIndexKlines', (p) => priceKlines('premium', p));
  // Retired v1 account paths answer -5000 as Binance does.
  for (const name of ['positionRisk', 'account', 'balance']) {
    routes.add('GET', `/fapi/v1/${name}`, 'NONE', () => {
      throw new ApiError(-5000, `GET /fapi/v1/${name} is retired, please use GET /fapi/v2/${name}`);
    });
  }
}
