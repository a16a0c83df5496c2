// Public market-data endpoints (security NONE): parameter rules as Binance applies them.

import {
  ApiError,
  apiError,
  KLINE_INTERVALS,
  type KlineInterval,
  type MarketView,
  type Params,
} from '../contracts.ts';
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

export function addMarketRoutes(routes: RouteTable, market: MarketView): void {
  const pub = (method: string, path: string, handler: (p: Params) => unknown) =>
    routes.add(method, path, 'NONE', (ctx) => handler(ctx.params));

  pub('GET', '/fapi/v1/ping', () => ({}));
  pub('GET', '/fapi/v1/time', () => ({ serverTime: market.clock.now() }));
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
  // Retired v1 account paths answer -5000 as Binance does.
  for (const name of ['positionRisk', 'account', 'balance']) {
    routes.add('GET', `/fapi/v1/${name}`, 'NONE', () => {
      throw new ApiError(-5000, `GET /fapi/v1/${name} is retired, please use GET /fapi/v2/${name}`);
    });
  }
}
