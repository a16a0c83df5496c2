// Request weights of Binance USDⓈ-M futures endpoints, as data. One table serves the simulator
// (which charges them) and the client's throttler (which budgets them). Source: the reference's
// §4.3 (Binance docs, Nov 2025 and the official JS connector, Jul 2026).

export interface Weight {
  /** IP weight, counted against REQUEST_WEIGHT 2400 / minute per IP. */
  ip: number;
  /** Account order count, 10-second pool (300) and minute pool (1200). */
  orders10s: number;
  orders1m: number;
  /** A separate per-IP request-count pool the endpoint also counts against (reference §4.2). */
  pool?: PoolName;
}

/**
 * Per-IP request-count pools beside REQUEST_WEIGHT (reference §4.2): fundingRate and fundingInfo
 * share 500 requests / 5 min; the /futures/data/* statistics endpoints 1000 requests / 5 min.
 */
export type PoolName = 'funding' | 'futuresData';
export const POOLS: Readonly<Record<PoolName, { windowMs: number; limit: number }>> = {
  funding: { windowMs: 5 * 60_000, limit: 500 },
  futuresData: { windowMs: 5 * 60_000, limit: 1000 },
};

/** The request-count pool of an endpoint, if it has one. */
export function endpointPool(method: string, path: string): PoolName | undefined {
  if (method.toUpperCase() !== 'GET') return undefined;
  if (path === '/fapi/v1/fundingRate' || path === '/fapi/v1/fundingInfo') return 'funding';
  if (path.startsWith('/futures/data/')) return 'futuresData';
  return undefined;
}

type ParamView = { get(name: string): string | null | undefined } | Record<string, string | undefined>;

function param(p: ParamView, name: string): string | undefined {
  if (typeof (p as { get?: unknown }).get === 'function') {
    return (p as { get(n: string): string | null | undefined }).get(name) ?? undefined;
  }
  return (p as Record<string, string | undefined>)[name];
}

type Rule = number | ((p: ParamView) => number);

const bySymbol =
  (withSymbol: number, without: number): Rule =>
  (p) =>
    param(p, 'symbol') ? withSymbol : without;

/** Klines family: limit [1,100) → 1; [100,500) → 2; [500,1000] → 5; > 1000 → 10 (default 500). */
export function klinesWeight(limit: number): number {
  if (limit < 100) return 1;
  if (limit < 500) return 2;
  if (limit <= 1000) return 5;
  return 10;
}

/** Depth: 5,10,20,50 → 2; 100 → 5; 500 (default) → 10; 1000 → 20. */
export function depthWeight(limit: number): number {
  if (limit <= 50) return 2;
  if (limit <= 100) return 5;
  if (limit <= 500) return 10;
  return 20;
}

const klines: Rule = (p) => klinesWeight(Number(param(p, 'limit') ?? 500) || 500);

/** IP weight per "METHOD /path". Endpoints not listed weigh 1 (/futures/data/*: 0). */
const IP_WEIGHTS: Record<string, Rule> = {
  'GET /fapi/v1/ping': 1,
  'GET /fapi/v1/time': 1,
  'GET /fapi/v1/exchangeInfo': 1,
  'GET /fapi/v1/depth': (p) => depthWeight(Number(param(p, 'limit') ?? 500) || 500),
  'GET /fapi/v1/rpiDepth': 20,
  'GET /fapi/v1/trades': 5,
  'GET /fapi/v1/historicalTrades': 20,
  'GET /fapi/v1/aggTrades': 20,
  'GET /fapi/v1/klines': klines,
  'GET /fapi/v1/continuousKlines': klines,
  'GET /fapi/v1/indexPriceKlines': klines,
  'GET /fapi/v1/markPriceKlines': klines,
  'GET /fapi/v1/premiumIndexKlines': klines,
  'GET /fapi/v1/premiumIndex': bySymbol(1, 10),
  'GET /fapi/v1/fundingRate': 0,
  'GET /fapi/v1/fundingInfo': 0,
  'GET /fapi/v1/ticker/24hr': bySymbol(1, 40),
  'GET /fapi/v1/ticker/price': bySymbol(1, 2),
  'GET /fapi/v2/ticker/price': bySymbol(1, 2),
  'GET /fapi/v1/ticker/bookTicker': bySymbol(2, 5),
  'GET /fapi/v1/openInterest': 1,
  'GET /fapi/v1/indexInfo': 1,
  'GET /fapi/v1/constituents': 2,
  'GET /fapi/v1/assetIndex': bySymbol(1, 10),
  'GET /fapi/v1/insuranceBalance': 1,
  'POST /fapi/v1/order': 0,
  'POST /fapi/v1/order/test': 0,
  'PUT /fapi/v1/order': 1,
  'POST /fapi/v1/batchOrders': 5,
  'PUT /fapi/v1/batchOrders': 5,
  'DELETE /fapi/v1/order': 1,
  'DELETE /fapi/v1/batchOrders': 1,
  'DELETE /fapi/v1/allOpenOrders': 1,
  'POST /fapi/v1/countdownCancelAll': 10,
  'GET /fapi/v1/order': 1,
  'GET /fapi/v1/openOrder': 1,
  'GET /fapi/v1/openOrders': bySymbol(1, 40),
  'GET /fapi/v1/allOrders': 5,
  'GET /fapi/v1/userTrades': 5,
  'GET /fapi/v1/forceOrders': bySymbol(20, 50),
  'GET /fapi/v1/orderAmendment': 1,
  'POST /fapi/v1/algoOrder': 0,
  'DELETE /fapi/v1/algoOrder': 1,
  'DELETE /fapi/v1/algoOpenOrders': 1,
  'GET /fapi/v1/algoOrder': 1,
  'GET /fapi/v1/openAlgoOrders': bySymbol(1, 40),
  'GET /fapi/v1/allAlgoOrders': 5,
  'GET /fapi/v2/account': 5,
  'GET /fapi/v3/account': 5,
  'GET /fapi/v2/balance': 5,
  'GET /fapi/v3/balance': 5,
  'GET /fapi/v2/positionRisk': 5,
  'GET /fapi/v3/positionRisk': 5,
  'GET /fapi/v1/accountConfig': 5,
  'GET /fapi/v1/symbolConfig': 5,
  'GET /fapi/v1/adlQuantile': 5,
  'GET /fapi/v1/income': 30,
  'GET /fapi/v1/income/asyn': 1000,
  'GET /fapi/v1/income/asyn/id': 10,
  'GET /fapi/v1/order/asyn': 1000,
  'GET /fapi/v1/order/asyn/id': 10,
  'GET /fapi/v1/trade/asyn': 1000,
  'GET /fapi/v1/trade/asyn/id': 10,
  'GET /fapi/v1/commissionRate': 20,
  'GET /fapi/v1/leverageBracket': 1,
  'GET /fapi/v1/rateLimit/order': 1,
  'GET /fapi/v1/positionSide/dual': 30,
  'GET /fapi/v1/multiAssetsMargin': 30,
  'GET /fapi/v1/apiTradingStatus': bySymbol(1, 10),
  'GET /fapi/v1/feeBurn': 30,
  'POST /fapi/v1/leverage': 1,
  'POST /fapi/v1/marginType': 1,
  'POST /fapi/v1/positionSide/dual': 1,
  'POST /fapi/v1/multiAssetsMargin': 1,
  'POST /fapi/v1/positionMargin': 1,
  'GET /fapi/v1/positionMargin/history': 1,
  'POST /fapi/v1/listenKey': 1,
  'PUT /fapi/v1/listenKey': 1,
  'DELETE /fapi/v1/listenKey': 1,
};

/** Order-count charges (per account): [10 s pool, 1 min pool]. */
const ORDER_WEIGHTS: Record<string, [number, number]> = {
  'POST /fapi/v1/order': [1, 1],
  'PUT /fapi/v1/order': [1, 1],
  'POST /fapi/v1/batchOrders': [5, 1],
  'PUT /fapi/v1/batchOrders': [5, 1],
  'POST /fapi/v1/algoOrder': [1, 1],
};

/** The weight of one request. `params` is the request's parameters (URLSearchParams or a record). */
export function endpointWeight(method: string, path: string, params: ParamView = {}): Weight {
  const key = `${method.toUpperCase()} ${path}`;
  const rule = IP_WEIGHTS[key];
  const pool = endpointPool(method, path);
  // /futures/data/*: weight 0, counted in their own pool instead.
  const ip =
    rule === undefined ? (pool === 'futuresData' ? 0 : 1) : typeof rule === 'number' ? rule : rule(params);
  const orders = ORDER_WEIGHTS[key];
  const w: Weight = { ip, orders10s: orders?.[0] ?? 0, orders1m: orders?.[1] ?? 0 };
  if (pool !== undefined) w.pool = pool;
  return w;
}

/** Binance's published limits (exchangeInfo rateLimits). */
export const LIMITS = {
  weightPerMinute: 2400,
  ordersPer10s: 300,
  ordersPerMinute: 1200,
} as const;
