// Typed Binance USDⓈ-M futures endpoints over a RestCaller (reference §7–§11).
//
// Every method sends Binance's parameter names with the right security type, and parses the answer
// with the schemas of schemas.ts; an answer of the wrong shape throws ResponseShapeError naming the
// endpoint ("GET /fapi/v1/order: unexpected response shape: ..."), except on the endpoints that
// place, modify or cancel orders: there the request happened, so it is an UnknownOutcomeError
// carrying the client order id and the raw answer.
//
// Decisions:
// - Decimal parameters (quantity, price, triggerPrice, ...) accept a Decimal or decimal text and
//   are sent as plain text from Decimal.toString(): "2.8E-4" goes out as "0.00028", never in
//   exponent form, never through a JS number. Malformed text throws a TypeError before sending.
//   Values are NOT rounded here: use filters.ts (prepareOrder) for that.
// - newOrderRespType defaults to RESULT (constructor option `respType` changes it). With Binance's
//   own default ACK a MARKET order answers "NEW", executedQty "0" even though it filled; RESULT
//   answers the final state of MARKET / IOC / FOK / GTX orders at the same weight, so a trader
//   learns its fill from the answer. A resting GTC LIMIT order answers NEW either way.
// - Boolean flags (reduceOnly, closePosition) are sent only when true: Binance rejects an explicit
//   reduceOnly in Hedge Mode (-1106) even when "false".
// - LIMIT orders without timeInForce are sent with GTC.
// - newOrder, batchOrders and newAlgoOrder generate a client order id (clientAlgoId) when the caller
//   gives none (newClientOrderId()), so an unknown outcome can always be settled by a query.
// - Batch answers keep Binance's per-item shape: an Order, or `{code, msg}` (see isBatchError).
// - leverageBracket always resolves to an array (Binance answers one object when a symbol is sent).

import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { Decimal } from '../decimal.ts';
import { clientOrderIdOf, isOrderPlacing, UnknownOutcomeError } from './errors.ts';
import {
  AccountConfigSchema,
  AccountV2Schema,
  AccountV3Schema,
  type AlgoCancel,
  AlgoCancelSchema,
  type AlgoOrder,
  AlgoOrderSchema,
  BalanceSchema,
  type BatchItem,
  BatchItemSchema,
  type BookTicker,
  BookTickerSchema,
  type CodeMsg,
  CodeMsgSchema,
  CommissionRateSchema,
  type ConditionalType,
  DepthSchema,
  EmptySchema,
  ExchangeInfoSchema,
  FundingInfoSchema,
  FundingRateSchema,
  type Income,
  IncomeSchema,
  type KlineInterval,
  KlineSchema,
  LeverageAnswerSchema,
  type LeverageBracket,
  LeverageBracketSchema,
  ListenKeyKeepaliveSchema,
  ListenKeySchema,
  type MarginType,
  MarginTypeAnswerSchema,
  MarketTradeSchema,
  MultiAssetsMarginSchema,
  type Order,
  OrderSchema,
  type OrderType,
  PositionModeSchema,
  PositionRiskV2Schema,
  PositionRiskV3Schema,
  type PositionSide,
  type PremiumIndex,
  PremiumIndexSchema,
  type PriceMatch,
  parseResponse,
  RateLimitSchema,
  ResponseShapeError,
  type SelfTradePreventionMode,
  ServerTimeSchema,
  type Side,
  SymbolConfigSchema,
  type Ticker24h,
  Ticker24hSchema,
  type TickerPrice,
  TickerPriceSchema,
  type TimeInForce,
  UserTradeSchema,
  type WorkingType,
} from './schemas.ts';
import type { RequestParams, RestCaller, Security } from './types.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A decimal parameter: a Decimal or decimal text (scientific notation accepted). */
export type DecimalParam = Decimal | string;
export type RespType = 'ACK' | 'RESULT';

export interface NewOrderParams {
  symbol: string;
  side: Side;
  /** LIMIT or MARKET (Binance answers -4120 for conditional types since 2025-12-09: use newAlgoOrder). */
  type: OrderType;
  positionSide?: PositionSide;
  /** Default GTC for LIMIT. */
  timeInForce?: TimeInForce;
  quantity?: DecimalParam;
  price?: DecimalParam;
  /** Sent only when true. */
  reduceOnly?: boolean;
  newClientOrderId?: string;
  /** Default: the FuturesApi's respType (RESULT unless configured). */
  newOrderRespType?: RespType;
  /** Mandatory with GTD (ms; Binance keeps seconds). */
  goodTillDate?: number;
  priceMatch?: PriceMatch;
  selfTradePreventionMode?: SelfTradePreventionMode;
  // Legacy conditional parameters (pre-2025-12-09 Binance, or a simulator in legacy mode).
  stopPrice?: DecimalParam;
  closePosition?: boolean;
  activationPrice?: DecimalParam;
  callbackRate?: DecimalParam;
  workingType?: WorkingType;
  priceProtect?: boolean;
}

/** An order named by orderId (wins when both are given) or by its client id. */
export type OrderRef =
  | { orderId: number; origClientOrderId?: string }
  | { orderId?: number; origClientOrderId: string };

export type ModifyOrderParams = {
  symbol: string;
  side: Side;
  quantity: DecimalParam;
  price?: DecimalParam;
  priceMatch?: PriceMatch;
} & OrderRef;

export interface NewAlgoOrderParams {
  symbol: string;
  side: Side;
  type: ConditionalType;
  positionSide?: PositionSide;
  timeInForce?: TimeInForce;
  quantity?: DecimalParam;
  /** STOP / TAKE_PROFIT limit price. */
  price?: DecimalParam;
  /** Trigger price (legacy stopPrice); not for TRAILING_STOP_MARKET. */
  triggerPrice?: DecimalParam;
  workingType?: WorkingType;
  priceMatch?: PriceMatch;
  /** STOP_MARKET / TAKE_PROFIT_MARKET close-all; sent only when true. */
  closePosition?: boolean;
  priceProtect?: boolean;
  /** Sent only when true. */
  reduceOnly?: boolean;
  /** Trailing activation price (legacy activationPrice). */
  activatePrice?: DecimalParam;
  /** Trailing callback rate in percent (0.1 … 20). */
  callbackRate?: DecimalParam;
  clientAlgoId?: string;
  newOrderRespType?: RespType;
  selfTradePreventionMode?: SelfTradePreventionMode;
  goodTillDate?: number;
}

export type AlgoRef = { algoId: number; clientAlgoId?: string } | { algoId?: number; clientAlgoId: string };

export interface TimeRange {
  startTime?: number;
  endTime?: number;
}

export interface IncomeQuery extends TimeRange {
  symbol?: string;
  incomeType?: string;
  /** Binance's page number (1-based); may be dropped by Binance eventually. */
  page?: number;
  /** Default 100, max 1000. */
  limit?: number;
}

export interface IncomeAllQuery {
  symbol?: string;
  incomeType?: string;
  startTime: number;
  endTime: number;
  /** Rows per request (default and max 1000). */
  pageSize?: number;
  /** Safety stop: throw after this many requests (default 1000). */
  maxRequests?: number;
}

export interface FuturesApiOptions {
  /** newOrderRespType sent when an order does not state one (default RESULT). */
  respType?: RespType;
  /** Prefix of generated client order ids (default 'fx'; Binance alphabet, at most 10 chars). */
  clientIdPrefix?: string;
}

const CLIENT_ID_RE = /^[.A-Z:/a-z0-9_-]{1,36}$/;

/**
 * A fresh client order id in Binance's alphabet (`^[.A-Z:/a-z0-9_-]{1,36}$`): the prefix, the
 * time in base 36 and 64 random bits, e.g. "fx-m1abc2de-9f3a0c1b2d4e5f60" (≤ 36 chars).
 */
export function newClientOrderId(prefix = 'fx'): string {
  if (!/^[.A-Z:/a-z0-9_-]{1,10}$/.test(prefix))
    throw new TypeError(
      `client id prefix must be 1..10 chars of [.A-Z:/a-z0-9_-]: ${JSON.stringify(prefix)}`,
    );
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`;
}
const MAX_INCOME_LIMIT = 1000;

/** Decimal → plain text (never exponent form); undefined stays undefined. */
function dec(v: DecimalParam | undefined, name: string): string | undefined {
  if (v === undefined) return undefined;
  try {
    return Decimal.from(v).toString();
  } catch {
    throw new TypeError(`${name} is not a decimal number: ${JSON.stringify(String(v))}`);
  }
}

function flag(v: boolean | undefined): 'true' | undefined {
  return v ? 'true' : undefined;
}

function clientId(v: string | undefined, name: string): string | undefined {
  if (v !== undefined && !CLIENT_ID_RE.test(v))
    throw new TypeError(`${name} must match ${CLIENT_ID_RE} (Binance answers -4015): ${JSON.stringify(v)}`);
  return v;
}

/** Drops undefined values (the RestCaller sends what is left in Binance's canonical form). */
function compact(p: Record<string, string | number | boolean | undefined>): RequestParams {
  const out: RequestParams = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k] = v;
  return out;
}

function refParams(r: OrderRef): RequestParams {
  if (r.orderId === undefined && r.origClientOrderId === undefined)
    throw new TypeError('orderId or origClientOrderId is required');
  return compact({ orderId: r.orderId, origClientOrderId: r.origClientOrderId });
}

function algoRefParams(r: AlgoRef): RequestParams {
  if (r.algoId === undefined && r.clientAlgoId === undefined)
    throw new TypeError('algoId or clientAlgoId is required');
  return compact({ algoId: r.algoId, clientAlgoId: r.clientAlgoId });
}

function incomeKey(r: Income): string {
  return `${r.incomeType}|${r.tranId}|${r.asset}|${r.symbol}|${r.time}`;
}

const ListOf = <S extends z.ZodType>(s: S) => s.array();

export class FuturesApi {
  private readonly rest: RestCaller;
  readonly respType: RespType;
  readonly clientIdPrefix: string;

  constructor(rest: RestCaller, opts: FuturesApiOptions = {}) {
    this.rest = rest;
    this.respType = opts.respType ?? 'RESULT';
    this.clientIdPrefix = opts.clientIdPrefix ?? 'fx';
    newClientOrderId(this.clientIdPrefix); // validates the prefix
  }

  private async call<S extends z.ZodType>(
    method: Method,
    path: string,
    security: Security,
    schema: S,
    params: RequestParams = {},
  ): Promise<z.output<S>> {
    const data = await this.rest.request(method, path, params, { security });
    try {
      return parseResponse(schema, data, `${method} ${path}`);
    } catch (err) {
      // The exchange accepted the request: an order may exist whatever the answer looks like.
      if (err instanceof ResponseShapeError && isOrderPlacing(method, path)) {
        throw new UnknownOutcomeError(`${err.message} (the request was accepted: outcome unknown)`, {
          status: 200,
          method,
          path,
          cause: err,
          clientOrderId: clientOrderIdOf(params),
          raw: data,
        });
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- market data (NONE)

  async ping(): Promise<void> {
    await this.call('GET', '/fapi/v1/ping', 'NONE', EmptySchema);
  }

  /** Exchange time (ms). */
  async time(): Promise<number> {
    return (await this.call('GET', '/fapi/v1/time', 'NONE', ServerTimeSchema)).serverTime;
  }

  async exchangeInfo() {
    return this.call('GET', '/fapi/v1/exchangeInfo', 'NONE', ExchangeInfoSchema);
  }

  async klines(p: {
    symbol: string;
    interval: KlineInterval;
    startTime?: number;
    endTime?: number;
    limit?: number;
  }) {
    return this.call(
      'GET',
      '/fapi/v1/klines',
      'NONE',
      ListOf(KlineSchema),
      compact({
        symbol: p.symbol,
        interval: p.interval,
        startTime: p.startTime,
        endTime: p.endTime,
        limit: p.limit,
      }),
    );
  }

  /** limit: 5, 10, 20, 50, 100, 500 (default), 1000. */
  async depth(p: { symbol: string; limit?: number }) {
    return this.call(
      'GET',
      '/fapi/v1/depth',
      'NONE',
      DepthSchema,
      compact({ symbol: p.symbol, limit: p.limit }),
    );
  }

  /** Recent market trades. */
  async trades(p: { symbol: string; limit?: number }) {
    return this.call(
      'GET',
      '/fapi/v1/trades',
      'NONE',
      ListOf(MarketTradeSchema),
      compact({ symbol: p.symbol, limit: p.limit }),
    );
  }

  bookTicker(): Promise<BookTicker[]>;
  bookTicker(symbol: string): Promise<BookTicker>;
  async bookTicker(symbol?: string): Promise<BookTicker | BookTicker[]> {
    const path = '/fapi/v1/ticker/bookTicker';
    return symbol === undefined
      ? this.call('GET', path, 'NONE', ListOf(BookTickerSchema))
      : this.call('GET', path, 'NONE', BookTickerSchema, { symbol });
  }

  /** Last price (GET /fapi/v2/ticker/price; v1 is deprecated). */
  tickerPrice(): Promise<TickerPrice[]>;
  tickerPrice(symbol: string): Promise<TickerPrice>;
  async tickerPrice(symbol?: string): Promise<TickerPrice | TickerPrice[]> {
    const path = '/fapi/v2/ticker/price';
    return symbol === undefined
      ? this.call('GET', path, 'NONE', ListOf(TickerPriceSchema))
      : this.call('GET', path, 'NONE', TickerPriceSchema, { symbol });
  }

  ticker24h(): Promise<Ticker24h[]>;
  ticker24h(symbol: string): Promise<Ticker24h>;
  async ticker24h(symbol?: string): Promise<Ticker24h | Ticker24h[]> {
    const path = '/fapi/v1/ticker/24hr';
    return symbol === undefined
      ? this.call('GET', path, 'NONE', ListOf(Ticker24hSchema))
      : this.call('GET', path, 'NONE', Ticker24hSchema, { symbol });
  }

  /** Mark price, index price and funding. */
  premiumIndex(): Promise<PremiumIndex[]>;
  premiumIndex(symbol: string): Promise<PremiumIndex>;
  async premiumIndex(symbol?: string): Promise<PremiumIndex | PremiumIndex[]> {
    const path = '/fapi/v1/premiumIndex';
    return symbol === undefined
      ? this.call('GET', path, 'NONE', ListOf(PremiumIndexSchema))
      : this.call('GET', path, 'NONE', PremiumIndexSchema, { symbol });
  }

  /** Funding rate history (limit default 100, max 1000). */
  async fundingRate(p: { symbol?: string; limit?: number } & TimeRange = {}) {
    return this.call(
      'GET',
      '/fapi/v1/fundingRate',
      'NONE',
      ListOf(FundingRateSchema),
      compact({ symbol: p.symbol, startTime: p.startTime, endTime: p.endTime, limit: p.limit }),
    );
  }

  async fundingInfo() {
    return this.call('GET', '/fapi/v1/fundingInfo', 'NONE', ListOf(FundingInfoSchema));
  }

  // ---------------------------------------------------------------- account (USER_DATA / TRADE)

  async accountV2() {
    return this.call('GET', '/fapi/v2/account', 'USER_DATA', AccountV2Schema);
  }

  /** Positions only for symbols with a position or open orders. */
  async accountV3() {
    return this.call('GET', '/fapi/v3/account', 'USER_DATA', AccountV3Schema);
  }

  async balanceV2() {
    return this.call('GET', '/fapi/v2/balance', 'USER_DATA', ListOf(BalanceSchema));
  }

  async balanceV3() {
    return this.call('GET', '/fapi/v3/balance', 'USER_DATA', ListOf(BalanceSchema));
  }

  /** Every symbol (zero positions too), with leverage and margin type. */
  async positionRiskV2(symbol?: string) {
    return this.call(
      'GET',
      '/fapi/v2/positionRisk',
      'USER_DATA',
      ListOf(PositionRiskV2Schema),
      compact({ symbol }),
    );
  }

  /** Only symbols with a position or open orders; no leverage/marginType (see symbolConfig). */
  async positionRiskV3(symbol?: string) {
    return this.call(
      'GET',
      '/fapi/v3/positionRisk',
      'USER_DATA',
      ListOf(PositionRiskV3Schema),
      compact({ symbol }),
    );
  }

  async accountConfig() {
    return this.call('GET', '/fapi/v1/accountConfig', 'USER_DATA', AccountConfigSchema);
  }

  async symbolConfig(symbol?: string) {
    return this.call(
      'GET',
      '/fapi/v1/symbolConfig',
      'USER_DATA',
      ListOf(SymbolConfigSchema),
      compact({ symbol }),
    );
  }

  async commissionRate(symbol: string) {
    return this.call('GET', '/fapi/v1/commissionRate', 'USER_DATA', CommissionRateSchema, { symbol });
  }

  /** Always an array (Binance answers one object when a symbol is sent). */
  async leverageBracket(symbol?: string): Promise<LeverageBracket[]> {
    const schema = LeverageBracketSchema.or(ListOf(LeverageBracketSchema));
    const r = await this.call('GET', '/fapi/v1/leverageBracket', 'USER_DATA', schema, compact({ symbol }));
    return Array.isArray(r) ? r : [r];
  }

  /** true: Hedge Mode; false: One-way Mode. */
  async getPositionMode(): Promise<boolean> {
    return (await this.call('GET', '/fapi/v1/positionSide/dual', 'USER_DATA', PositionModeSchema))
      .dualSidePosition;
  }

  /** Hedge Mode (true) or One-way (false), for every symbol. -4059 when unchanged. */
  async setPositionMode(dualSidePosition: boolean): Promise<CodeMsg> {
    return this.call('POST', '/fapi/v1/positionSide/dual', 'TRADE', CodeMsgSchema, {
      dualSidePosition: String(dualSidePosition),
    });
  }

  async getMultiAssetsMargin(): Promise<boolean> {
    return (await this.call('GET', '/fapi/v1/multiAssetsMargin', 'USER_DATA', MultiAssetsMarginSchema))
      .multiAssetsMargin;
  }

  /** Initial leverage 1–125. */
  async setLeverage(symbol: string, leverage: number) {
    if (!Number.isInteger(leverage)) throw new TypeError(`leverage must be an integer: ${leverage}`);
    return this.call('POST', '/fapi/v1/leverage', 'TRADE', LeverageAnswerSchema, { symbol, leverage });
  }

  /** -4046 when unchanged, -4047/-4048 with open orders/position. */
  async setMarginType(symbol: string, marginType: MarginType): Promise<CodeMsg> {
    return this.call('POST', '/fapi/v1/marginType', 'TRADE', MarginTypeAnswerSchema, { symbol, marginType });
  }

  /** The account's order-rate limits. */
  async orderRateLimit() {
    return this.call('GET', '/fapi/v1/rateLimit/order', 'USER_DATA', ListOf(RateLimitSchema));
  }

  // ---------------------------------------------------------------- orders

  /** The request parameters of one new order (also the items of batchOrders). */
  orderParams(p: NewOrderParams): Record<string, string | number> {
    const out = compact({
      symbol: p.symbol,
      side: p.side,
      positionSide: p.positionSide,
      type: p.type,
      timeInForce: p.timeInForce ?? (p.type === 'LIMIT' ? 'GTC' : undefined),
      quantity: dec(p.quantity, 'quantity'),
      price: dec(p.price, 'price'),
      reduceOnly: flag(p.reduceOnly),
      newClientOrderId: clientId(p.newClientOrderId, 'newClientOrderId'),
      newOrderRespType: p.newOrderRespType ?? this.respType,
      goodTillDate: p.goodTillDate,
      priceMatch: p.priceMatch,
      selfTradePreventionMode: p.selfTradePreventionMode,
      stopPrice: dec(p.stopPrice, 'stopPrice'),
      closePosition: flag(p.closePosition),
      activationPrice: dec(p.activationPrice, 'activationPrice'),
      callbackRate: dec(p.callbackRate, 'callbackRate'),
      workingType: p.workingType,
      priceProtect: p.priceProtect === undefined ? undefined : p.priceProtect ? 'TRUE' : 'FALSE',
    });
    return out as Record<string, string | number>;
  }

  /** Places an order; a missing newClientOrderId is generated (see newClientOrderId()). */
  async newOrder(p: NewOrderParams): Promise<Order> {
    return this.call('POST', '/fapi/v1/order', 'TRADE', OrderSchema, this.orderParams(this.withId(p)));
  }

  private withId(p: NewOrderParams): NewOrderParams {
    return p.newClientOrderId === undefined
      ? { ...p, newClientOrderId: newClientOrderId(this.clientIdPrefix) }
      : p;
  }

  /** Validated by Binance, not placed. Resolves with the order-shaped echo when one is sent. */
  async testOrder(p: NewOrderParams): Promise<Order | undefined> {
    const r = await this.call(
      'POST',
      '/fapi/v1/order/test',
      'TRADE',
      OrderSchema.or(EmptySchema),
      this.orderParams(p),
    );
    return 'orderId' in r ? (r as Order) : undefined;
  }

  /**
   * Up to 5 orders; the answer is in request order, each an Order or `{code, msg}`. Missing client
   * order ids are generated.
   */
  async batchOrders(orders: NewOrderParams[]): Promise<BatchItem[]> {
    if (orders.length < 1 || orders.length > 5)
      throw new RangeError(`batchOrders takes 1 to 5 orders, got ${orders.length} (Binance answers -4082)`);
    const items = orders.map((o) => {
      const p = this.orderParams(this.withId(o));
      const strings: Record<string, string> = {};
      for (const [k, v] of Object.entries(p)) strings[k] = String(v);
      return strings;
    });
    return this.call('POST', '/fapi/v1/batchOrders', 'TRADE', ListOf(BatchItemSchema), {
      batchOrders: JSON.stringify(items),
    });
  }

  /** LIMIT orders only: new price and quantity (both required by Binance; or priceMatch instead of price). */
  async modifyOrder(p: ModifyOrderParams): Promise<Order> {
    return this.call('PUT', '/fapi/v1/order', 'TRADE', OrderSchema, {
      ...refParams(p),
      ...compact({
        symbol: p.symbol,
        side: p.side,
        quantity: dec(p.quantity, 'quantity'),
        price: dec(p.price, 'price'),
        priceMatch: p.priceMatch,
      }),
    });
  }

  async cancelOrder(p: { symbol: string } & OrderRef): Promise<Order> {
    return this.call('DELETE', '/fapi/v1/order', 'TRADE', OrderSchema, { symbol: p.symbol, ...refParams(p) });
  }

  /** Up to 10 ids (orderIds or clientOrderIds); each item an Order or `{code, msg}` (-2011). */
  async cancelBatch(p: {
    symbol: string;
    orderIds?: number[];
    clientOrderIds?: string[];
  }): Promise<BatchItem[]> {
    const byId = p.orderIds !== undefined;
    const list = p.orderIds ?? p.clientOrderIds;
    if (list === undefined || (byId && p.clientOrderIds !== undefined))
      throw new TypeError('cancelBatch takes orderIds or clientOrderIds (one of them)');
    if (list.length < 1 || list.length > 10)
      throw new RangeError(`cancelBatch takes 1 to 10 ids, got ${list.length}`);
    return this.call('DELETE', '/fapi/v1/batchOrders', 'TRADE', ListOf(BatchItemSchema), {
      symbol: p.symbol,
      [byId ? 'orderIdList' : 'origClientOrderIdList']: JSON.stringify(list),
    });
  }

  /** Cancels the symbol's open orders (not its algo orders). */
  async cancelAllOpenOrders(symbol: string): Promise<CodeMsg> {
    return this.call('DELETE', '/fapi/v1/allOpenOrders', 'TRADE', CodeMsgSchema, { symbol });
  }

  /** -2013 when unknown (or forgotten: see reference §8.7). */
  async getOrder(p: { symbol: string } & OrderRef): Promise<Order> {
    return this.call('GET', '/fapi/v1/order', 'USER_DATA', OrderSchema, {
      symbol: p.symbol,
      ...refParams(p),
    });
  }

  /** One open order; -2013 when it is not open. */
  async openOrder(p: { symbol: string } & OrderRef): Promise<Order> {
    return this.call('GET', '/fapi/v1/openOrder', 'USER_DATA', OrderSchema, {
      symbol: p.symbol,
      ...refParams(p),
    });
  }

  /** Open orders of a symbol, or of all symbols (weight 40). */
  async openOrders(symbol?: string): Promise<Order[]> {
    return this.call('GET', '/fapi/v1/openOrders', 'USER_DATA', ListOf(OrderSchema), compact({ symbol }));
  }

  /** Orders of the last 7 days (window < 7 days; limit default 500, max 1000; symbol optional since 2026-08). */
  async allOrders(
    p: { symbol?: string; orderId?: number; limit?: number } & TimeRange = {},
  ): Promise<Order[]> {
    return this.call(
      'GET',
      '/fapi/v1/allOrders',
      'USER_DATA',
      ListOf(OrderSchema),
      compact({
        symbol: p.symbol,
        orderId: p.orderId,
        startTime: p.startTime,
        endTime: p.endTime,
        limit: p.limit,
      }),
    );
  }

  /** The account's fills (fromId not with times; window ≤ 7 days). */
  async userTrades(p: { symbol: string; orderId?: number; fromId?: number; limit?: number } & TimeRange) {
    return this.call(
      'GET',
      '/fapi/v1/userTrades',
      'USER_DATA',
      ListOf(UserTradeSchema),
      compact({
        symbol: p.symbol,
        orderId: p.orderId,
        fromId: p.fromId,
        startTime: p.startTime,
        endTime: p.endTime,
        limit: p.limit,
      }),
    );
  }

  // ---------------------------------------------------------------- algo (conditional) orders

  async newAlgoOrder(p: NewAlgoOrderParams): Promise<AlgoOrder> {
    return this.call(
      'POST',
      '/fapi/v1/algoOrder',
      'TRADE',
      AlgoOrderSchema,
      compact({
        algoType: 'CONDITIONAL',
        symbol: p.symbol,
        side: p.side,
        positionSide: p.positionSide,
        type: p.type,
        timeInForce: p.timeInForce,
        quantity: dec(p.quantity, 'quantity'),
        price: dec(p.price, 'price'),
        triggerPrice: dec(p.triggerPrice, 'triggerPrice'),
        workingType: p.workingType,
        priceMatch: p.priceMatch,
        closePosition: flag(p.closePosition),
        priceProtect: p.priceProtect === undefined ? undefined : p.priceProtect ? 'TRUE' : 'FALSE',
        reduceOnly: flag(p.reduceOnly),
        activatePrice: dec(p.activatePrice, 'activatePrice'),
        callbackRate: dec(p.callbackRate, 'callbackRate'),
        clientAlgoId: clientId(p.clientAlgoId ?? newClientOrderId(this.clientIdPrefix), 'clientAlgoId'),
        newOrderRespType: p.newOrderRespType,
        selfTradePreventionMode: p.selfTradePreventionMode,
        goodTillDate: p.goodTillDate,
      }),
    );
  }

  async cancelAlgoOrder(ref: AlgoRef): Promise<AlgoCancel> {
    return this.call('DELETE', '/fapi/v1/algoOrder', 'TRADE', AlgoCancelSchema, algoRefParams(ref));
  }

  async cancelAllAlgoOpenOrders(symbol: string): Promise<CodeMsg> {
    return this.call('DELETE', '/fapi/v1/algoOpenOrders', 'TRADE', CodeMsgSchema, { symbol });
  }

  async getAlgoOrder(ref: AlgoRef): Promise<AlgoOrder> {
    return this.call('GET', '/fapi/v1/algoOrder', 'USER_DATA', AlgoOrderSchema, algoRefParams(ref));
  }

  async openAlgoOrders(p: { symbol?: string; algoId?: number } = {}): Promise<AlgoOrder[]> {
    return this.call(
      'GET',
      '/fapi/v1/openAlgoOrders',
      'USER_DATA',
      ListOf(AlgoOrderSchema),
      compact({ algoType: 'CONDITIONAL', symbol: p.symbol, algoId: p.algoId }),
    );
  }

  async allAlgoOrders(
    p: { symbol: string; algoId?: number; limit?: number } & TimeRange,
  ): Promise<AlgoOrder[]> {
    return this.call(
      'GET',
      '/fapi/v1/allAlgoOrders',
      'USER_DATA',
      ListOf(AlgoOrderSchema),
      compact({
        symbol: p.symbol,
        algoId: p.algoId,
        startTime: p.startTime,
        endTime: p.endTime,
        limit: p.limit,
      }),
    );
  }

  // ---------------------------------------------------------------- income

  /** One page of income rows, ascending by time (no times: the last 7 days; limit default 100, max 1000). */
  async income(p: IncomeQuery = {}): Promise<Income[]> {
    return this.call(
      'GET',
      '/fapi/v1/income',
      'USER_DATA',
      ListOf(IncomeSchema),
      compact({
        symbol: p.symbol,
        incomeType: p.incomeType,
        startTime: p.startTime,
        endTime: p.endTime,
        page: p.page,
        limit: p.limit,
      }),
    );
  }

  /**
   * Every income row in [startTime, endTime], ascending by time. Pages by moving startTime to the
   * last row's time (not +1: more rows may share that millisecond), dropping rows already seen
   * (key incomeType+tranId+asset+symbol+time — tranIds repeat across types). When a whole page
   * sits in one millisecond it asks for the next `page` at that startTime instead. Each request
   * costs weight 30.
   */
  async incomeAll(q: IncomeAllQuery): Promise<Income[]> {
    const limit = q.pageSize ?? MAX_INCOME_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_INCOME_LIMIT)
      throw new RangeError(`pageSize must be 1..${MAX_INCOME_LIMIT}: ${limit}`);
    if (q.startTime > q.endTime) throw new RangeError('startTime is after endTime');
    const maxRequests = q.maxRequests ?? 1000;
    const seen = new Set<string>();
    const out: Income[] = [];
    let cursor = q.startTime;
    let page = 1;
    for (let n = 0; ; n++) {
      if (n >= maxRequests)
        throw new Error(`incomeAll: more than ${maxRequests} requests; narrow the time range`);
      const rows = await this.income({
        symbol: q.symbol,
        incomeType: q.incomeType,
        startTime: cursor,
        endTime: q.endTime,
        page: page > 1 ? page : undefined,
        limit,
      });
      let fresh = 0;
      for (const r of rows) {
        const k = incomeKey(r);
        if (seen.has(k)) continue;
        seen.add(k);
        out.push(r);
        fresh++;
      }
      if (rows.length < limit) break;
      const last = rows[rows.length - 1].time;
      if (last > cursor) {
        cursor = last;
        page = 1;
      } else {
        // The whole page is in one millisecond: walk that millisecond by page number.
        if (page > 1 && fresh === 0)
          throw new Error(
            `incomeAll: more than ${limit} rows at ${cursor} and the server ignores "page"; use a larger pageSize`,
          );
        page++;
      }
    }
    return out.sort((a, b) => a.time - b.time);
  }

  // ---------------------------------------------------------------- listenKey (USER_STREAM)

  /** Starts (or, while one is active, returns and extends) the account's user-data listenKey. */
  async createListenKey(): Promise<string> {
    return (await this.call('POST', '/fapi/v1/listenKey', 'USER_STREAM', ListenKeySchema)).listenKey;
  }

  /** Extends the listenKey by 60 minutes; -1125 when it expired (create a new one). */
  async keepaliveListenKey(): Promise<string | undefined> {
    return (await this.call('PUT', '/fapi/v1/listenKey', 'USER_STREAM', ListenKeyKeepaliveSchema)).listenKey;
  }

  async closeListenKey(): Promise<void> {
    await this.call('DELETE', '/fapi/v1/listenKey', 'USER_STREAM', EmptySchema);
  }
}

export { isBatchError } from './schemas.ts';
