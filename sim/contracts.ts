// The contracts between the simulator's parts. The market (prices, klines, books), the trading
// engine (accounts, orders, positions, income, algo orders), the user-data streams and the HTTP
// layer (auth, weights, routes) are written against these and meet only here.

import { codeMessage } from '../core/binance/codes.ts';
import { KLINE_INTERVALS } from '../core/binance/schemas.ts';

// Binance's kline intervals: one list, kept in core.
export { KLINE_INTERVALS };

/** Exchange time. Real time plus a skew, or a virtual clock advanced by tests. */
export interface SimClock {
  now(): number;
}

/** An error Binance would answer with: HTTP status and {"code","msg"}. */
export class ApiError extends Error {
  readonly code: number;
  readonly status: number;
  constructor(code: number, msg?: string, status = 400) {
    super(msg ?? codeMessage(code));
    this.code = code;
    this.status = status;
  }
  toJSON(): { code: number; msg: string } {
    return { code: this.code, msg: this.message };
  }
}

/** Shorthand for ApiError with the table's message, "%s" filled in order. */
export function apiError(code: number, ...args: Array<string | number>): ApiError {
  return new ApiError(code, codeMessage(code, ...args));
}

/** Request parameters after query and body are merged (query wins), all strings as sent. */
export type Params = Record<string, string>;

/** A symbol's static trading rules, as exchangeInfo states them (decimal strings). */
export interface SymbolSpec {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  tickSize: string;
  minPrice: string;
  maxPrice: string;
  stepSize: string;
  minQty: string;
  maxQty: string;
  marketStepSize: string;
  marketMinQty: string;
  marketMaxQty: string;
  minNotional: string;
  maxNumOrders: number;
  multiplierUp: string;
  multiplierDown: string;
  multiplierDecimal: string;
  pricePrecision: number;
  quantityPrecision: number;
  maintMarginPercent: string;
  requiredMarginPercent: string;
  onboardDate: number;
  /** Starting price of the simulated path (decimal text). */
  initialPrice: string;
  /** Beta to BTC for the correlated price process. */
  beta: number;
  /** Per-minute volatility of the idiosyncratic part. */
  vol: number;
}

/** Binance's bookTicker REST object. */
export interface BookTicker {
  symbol: string;
  bidPrice: string;
  bidQty: string;
  askPrice: string;
  askQty: string;
  time: number;
}

/** Binance's 12-element REST kline. */
export type KlineRow = [
  number,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  number,
  string,
  string,
  string,
];

export type KlineInterval = (typeof KLINE_INTERVALS)[number];

/** One market trade the price process produced. */
export interface MarketTrade {
  id: number;
  symbol: string;
  price: string;
  qty: string;
  quoteQty: string;
  time: number;
  isBuyerMaker: boolean;
}

/**
 * Emitted by the market after it moved a symbol: the new trades (possibly several), and the
 * state afterwards. The engine matches resting orders and triggers algo orders on it; the
 * WebSocket layer turns it into stream events.
 */
export interface MarketTick {
  symbol: string;
  time: number;
  trades: MarketTrade[];
  last: string;
  mark: string;
  book: BookTicker;
}

export type MarketListener = (tick: MarketTick) => void;

/** The market's read side, as the engine, the HTTP routes and the streams use it. */
export interface MarketView {
  readonly clock: SimClock;
  /** All symbols in universe order (BTCUSDT first). */
  specs(): SymbolSpec[];
  spec(symbol: string): SymbolSpec | undefined;
  /** The whole GET /fapi/v1/exchangeInfo body. */
  exchangeInfo(): unknown;
  lastPrice(symbol: string): string;
  markPrice(symbol: string): string;
  indexPrice(symbol: string): string;
  bookTicker(symbol: string): BookTicker;
  /** GET /fapi/v1/depth body; limit is one of 5,10,20,50,100,500,1000. */
  depth(
    symbol: string,
    limit: number,
  ): { lastUpdateId: number; E: number; T: number; bids: [string, string][]; asks: [string, string][] };
  /**
   * A taker order took `qty` at `price` from the book (a BUY from the asks, a SELL from the bids):
   * depth and bookTicker show that much less there until the book refreshes on the next market
   * step. Optional: a market without it offers unlimited liquidity at every level it shows.
   */
  consume?(symbol: string, takerSide: 'BUY' | 'SELL', price: string, qty: string): void;
  /** Klines ascending; rules of GET /fapi/v1/klines (limit already validated, 1..1500). */
  klines(
    symbol: string,
    interval: KlineInterval,
    opts: { startTime?: number; endTime?: number; limit: number },
  ): KlineRow[];
  /** The 24 h rolling ticker object of GET /fapi/v1/ticker/24hr. */
  ticker24h(symbol: string): Record<string, unknown>;
  /** GET /fapi/v1/premiumIndex object. */
  premiumIndex(symbol: string): Record<string, unknown>;
  /** Funding rate history rows, GET /fapi/v1/fundingRate. */
  fundingHistory(
    symbol: string,
    opts: { startTime?: number; endTime?: number; limit: number },
  ): Record<string, unknown>[];
  /** Most recent market trades, ascending, GET /fapi/v1/trades. */
  recentTrades(symbol: string, limit: number): MarketTrade[];
  onTick(listener: MarketListener): () => void;
  /** Called at every funding time (every 8 h of exchange time) with the rate per symbol. */
  onFunding(listener: (time: number, rates: Map<string, { rate: string; mark: string }>) => void): () => void;
}

/** The market's control side, for /sim/ endpoints and the runtime. */
export interface MarketControl extends MarketView {
  /** Moves the price path up to exchange time t (called by the ticker or the virtual clock). */
  advanceTo(t: number): void;
  /** Jumps a symbol to a price at once: a trade prints there, book, mark and forming kline follow. */
  setPrice(symbol: string, price: string): void;
  /** Scripts a path: from the current price linearly (plus the usual noise if noise is true) to target over durationMs. */
  setPath(symbol: string, target: string, durationMs: number, noise?: boolean): void;
  /** Freezes updates for a symbol (or all when symbol is undefined) for durationMs: stale data. */
  freeze(symbol: string | undefined, durationMs: number): void;
}

/** User-data events exactly as Binance sends them (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, ...). */
export interface UserEvent {
  e: string;
  E: number;
  [k: string]: unknown;
}

export type UserEventListener = (apiKey: string, event: UserEvent) => void;

/** Per-account statistics for GET /sim/stats. */
export interface AccountStats {
  orders: number;
  cancelled: number;
  rejected: number;
  filled: number;
  /** Net position amount per symbol (LONG + SHORT in hedge mode), non-zero only. */
  positions: Record<string, string>;
  /** Each non-zero position by "SYMBOL:SIDE" (side BOTH, LONG or SHORT), signed like positionAmt. */
  positionsBySide: Record<string, string>;
}

/** An account the simulator accepts. */
export interface AccountConfig {
  apiKey: string;
  apiSecret: string;
  /** Starting USDT wallet balance (decimal text). */
  balance: string;
  /**
   * An Ed25519 public key (PEM, SPKI): the account's requests are signed with the matching private
   * key (base64 signature) and never with apiSecret (then a random value nobody knows).
   */
  ed25519PublicKey?: string;
}

/**
 * The trading engine as the HTTP routes call it. Every method takes the authenticated account's
 * API key and the merged request parameters, validates them exactly as Binance does, and returns
 * the response body or throws ApiError. Order-rate limits and signatures are the HTTP layer's.
 */
export interface EngineApi {
  hasAccount(apiKey: string): boolean;
  secretOf(apiKey: string): string | undefined;
  stats(): Record<string, AccountStats>;
  onUserEvent(listener: UserEventListener): () => void;

  // Orders
  newOrder(apiKey: string, p: Params): unknown; // POST /fapi/v1/order
  testOrder(apiKey: string, p: Params): unknown; // POST /fapi/v1/order/test
  batchOrders(apiKey: string, p: Params): unknown; // POST /fapi/v1/batchOrders
  modifyOrder(apiKey: string, p: Params): unknown; // PUT /fapi/v1/order
  cancelOrder(apiKey: string, p: Params): unknown; // DELETE /fapi/v1/order
  cancelBatch(apiKey: string, p: Params): unknown; // DELETE /fapi/v1/batchOrders
  cancelAllOpen(apiKey: string, p: Params): unknown; // DELETE /fapi/v1/allOpenOrders
  queryOrder(apiKey: string, p: Params): unknown; // GET /fapi/v1/order
  queryOpenOrder(apiKey: string, p: Params): unknown; // GET /fapi/v1/openOrder
  openOrders(apiKey: string, p: Params): unknown; // GET /fapi/v1/openOrders
  allOrders(apiKey: string, p: Params): unknown; // GET /fapi/v1/allOrders
  userTrades(apiKey: string, p: Params): unknown; // GET /fapi/v1/userTrades
  forceOrders(apiKey: string, p: Params): unknown; // GET /fapi/v1/forceOrders

  // Algo (conditional) orders
  newAlgoOrder(apiKey: string, p: Params): unknown; // POST /fapi/v1/algoOrder
  cancelAlgoOrder(apiKey: string, p: Params): unknown; // DELETE /fapi/v1/algoOrder
  cancelAllAlgoOpen(apiKey: string, p: Params): unknown; // DELETE /fapi/v1/algoOpenOrders
  queryAlgoOrder(apiKey: string, p: Params): unknown; // GET /fapi/v1/algoOrder
  openAlgoOrders(apiKey: string, p: Params): unknown; // GET /fapi/v1/openAlgoOrders
  allAlgoOrders(apiKey: string, p: Params): unknown; // GET /fapi/v1/allAlgoOrders

  // Account
  accountV2(apiKey: string, p: Params): unknown; // GET /fapi/v2/account
  accountV3(apiKey: string, p: Params): unknown; // GET /fapi/v3/account
  balance(apiKey: string, p: Params): unknown; // GET /fapi/v2/balance and /fapi/v3/balance
  positionRiskV2(apiKey: string, p: Params): unknown; // GET /fapi/v2/positionRisk
  positionRiskV3(apiKey: string, p: Params): unknown; // GET /fapi/v3/positionRisk
  accountConfig(apiKey: string, p: Params): unknown; // GET /fapi/v1/accountConfig
  symbolConfig(apiKey: string, p: Params): unknown; // GET /fapi/v1/symbolConfig
  income(apiKey: string, p: Params): unknown; // GET /fapi/v1/income
  setLeverage(apiKey: string, p: Params): unknown; // POST /fapi/v1/leverage
  setMarginType(apiKey: string, p: Params): unknown; // POST /fapi/v1/marginType
  setPositionMode(apiKey: string, p: Params): unknown; // POST /fapi/v1/positionSide/dual
  getPositionMode(apiKey: string, p: Params): unknown; // GET /fapi/v1/positionSide/dual
  commissionRate(apiKey: string, p: Params): unknown; // GET /fapi/v1/commissionRate
  leverageBracket(apiKey: string, p: Params): unknown; // GET /fapi/v1/leverageBracket
  multiAssetsMargin(apiKey: string, p: Params): unknown; // GET /fapi/v1/multiAssetsMargin
}

/** listenKey lifecycle (60 minutes after the last keepalive), shared by REST and the private WS. */
export interface ListenKeyApi {
  /** POST: returns the account's active key (extended) or a new one. */
  create(apiKey: string): string;
  /** PUT: extends the account's key; ApiError -1125 when it has none or it expired. */
  keepalive(apiKey: string, listenKey?: string): string;
  /** DELETE: closes the key and its streams. */
  close(apiKey: string, listenKey?: string): void;
  /** The account a live key belongs to, or undefined. */
  owner(listenKey: string): string | undefined;
}
