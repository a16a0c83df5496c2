// Zod schemas for the Binance USDⓈ-M futures REST answers that drive money or state.
//
// Conventions (reference §2):
// - Decimal fields (prices, quantities, balances, rates) stay STRINGS in the parsed types. They are
//   validated as decimal text — scientific notation included ("2.8E-4") — and never turned into JS
//   numbers; use core/decimal.ts to compute with them.
// - Ids, times and counts are JSON numbers and stay numbers.
// - Unknown keys are STRIPPED (zod's default object mode): the parsed types list exactly the fields
//   we rely on, new keys Binance adds do not break parsing, and typos in our code are type errors
//   rather than `unknown` lookups. Fields Binance has dropped or added over time are optional.
// - Enums that drive state (side, positionSide, order/algo status, order type) are checked
//   strictly: an unknown value is a loud error rather than a silently mis-handled order.
// - Unknown exchangeInfo filter types (POSITION_RISK_CONTROL, ...) are kept as `{ filterType }`
//   objects; known filter types must have their documented fields.

import { z } from 'zod';

// ---- primitives ----

const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Decimal text ("0.10", "-1.5", "2.8E-4"); stays a string. */
export const decimalString = z.string().regex(DECIMAL_TEXT, { message: 'expected decimal text' });
/** Decimal text or "" (Binance writes "" for unset activatePrice/callbackRate, old funding marks). */
export const decimalOrEmpty = z.union([z.literal(''), decimalString]);
/** An integer JSON number (ids, times, counts). */
export const int = z.number().int();
/** Binance's legacy string booleans ("false") as well as real booleans → boolean. */
export const boolish = z
  .union([z.boolean(), z.enum(['true', 'false', 'TRUE', 'FALSE'])])
  .transform((v) => (typeof v === 'boolean' ? v : v.toLowerCase() === 'true'));
/** An id that may come as a number, digit text, or "" (none) → number | null. */
export const idOrEmpty = z
  .union([int, z.literal(''), z.string().regex(/^\d+$/)])
  .transform((v) => (v === '' ? null : Number(v)));

// ---- enums (reference §6) ----

export const SIDES = ['BUY', 'SELL'] as const;
export const POSITION_SIDES = ['BOTH', 'LONG', 'SHORT'] as const;
export const ORDER_STATUSES = [
  'NEW',
  'PARTIALLY_FILLED',
  'FILLED',
  'CANCELED',
  'REJECTED',
  'EXPIRED',
  'EXPIRED_IN_MATCH',
] as const;
export const ORDER_TYPES = [
  'LIMIT',
  'MARKET',
  'STOP',
  'STOP_MARKET',
  'TAKE_PROFIT',
  'TAKE_PROFIT_MARKET',
  'TRAILING_STOP_MARKET',
  'LIQUIDATION',
] as const;
export const CONDITIONAL_TYPES = [
  'STOP',
  'STOP_MARKET',
  'TAKE_PROFIT',
  'TAKE_PROFIT_MARKET',
  'TRAILING_STOP_MARKET',
] as const;
/** GTE_GTC is what Binance shows for closePosition orders. */
export const TIME_IN_FORCES = ['GTC', 'IOC', 'FOK', 'GTX', 'GTD', 'RPI', 'GTE_GTC'] as const;
export const ALGO_STATUSES = [
  'NEW',
  'CANCELED',
  'TRIGGERING',
  'TRIGGERED',
  'FINISHED',
  'REJECTED',
  'EXPIRED',
] as const;
export const KLINE_INTERVALS = [
  '1m',
  '3m',
  '5m',
  '15m',
  '30m',
  '1h',
  '2h',
  '4h',
  '6h',
  '8h',
  '12h',
  '1d',
  '3d',
  '1w',
  '1M',
] as const;

export const Side = z.enum(SIDES);
export const PositionSide = z.enum(POSITION_SIDES);
export const OrderStatus = z.enum(ORDER_STATUSES);
export const OrderType = z.enum(ORDER_TYPES);
export const ConditionalType = z.enum(CONDITIONAL_TYPES);
export const TimeInForce = z.enum(TIME_IN_FORCES);
export const AlgoStatus = z.enum(ALGO_STATUSES);

export type Side = z.output<typeof Side>;
export type PositionSide = z.output<typeof PositionSide>;
export type OrderStatus = z.output<typeof OrderStatus>;
export type OrderType = z.output<typeof OrderType>;
export type ConditionalType = z.output<typeof ConditionalType>;
export type TimeInForce = z.output<typeof TimeInForce>;
export type AlgoStatus = z.output<typeof AlgoStatus>;
export type KlineInterval = (typeof KLINE_INTERVALS)[number];
export type WorkingType = 'MARK_PRICE' | 'CONTRACT_PRICE';
export type PriceMatch =
  | 'NONE'
  | 'OPPONENT'
  | 'OPPONENT_5'
  | 'OPPONENT_10'
  | 'OPPONENT_20'
  | 'QUEUE'
  | 'QUEUE_5'
  | 'QUEUE_10'
  | 'QUEUE_20';
export type SelfTradePreventionMode = 'NONE' | 'EXPIRE_TAKER' | 'EXPIRE_MAKER' | 'EXPIRE_BOTH';
export type MarginType = 'ISOLATED' | 'CROSSED';

// ---- generic answers ----

/** `{}` (ping, DELETE listenKey). */
export const EmptySchema = z.object({});
/** `{"code":200,"msg":"success"}` answers (marginType, positionSide/dual, allOpenOrders). */
export const CodeMsgSchema = z.object({ code: z.union([int, z.string()]), msg: z.string() });
export type CodeMsg = z.output<typeof CodeMsgSchema>;
/** A per-item error inside batch answers: `{"code":-2022,"msg":"ReduceOnly Order is rejected."}`. */
export const BatchErrorSchema = z.object({ code: int, msg: z.string() });
export type BatchError = z.output<typeof BatchErrorSchema>;

export const ServerTimeSchema = z.object({ serverTime: int });

// ---- exchangeInfo (§7.3) ----

export const PriceFilterSchema = z.object({
  filterType: z.literal('PRICE_FILTER'),
  minPrice: decimalString,
  maxPrice: decimalString,
  tickSize: decimalString,
});
export const LotSizeSchema = z.object({
  filterType: z.literal('LOT_SIZE'),
  minQty: decimalString,
  maxQty: decimalString,
  stepSize: decimalString,
});
export const MarketLotSizeSchema = z.object({
  filterType: z.literal('MARKET_LOT_SIZE'),
  minQty: decimalString,
  maxQty: decimalString,
  stepSize: decimalString,
});
export const MaxNumOrdersSchema = z.object({ filterType: z.literal('MAX_NUM_ORDERS'), limit: int });
/** Removed from fapi at the end of 2025; older fixtures still carry it. */
export const MaxNumAlgoOrdersSchema = z.object({ filterType: z.literal('MAX_NUM_ALGO_ORDERS'), limit: int });
export const MinNotionalSchema = z.object({ filterType: z.literal('MIN_NOTIONAL'), notional: decimalString });
export const PercentPriceSchema = z.object({
  filterType: z.literal('PERCENT_PRICE'),
  multiplierUp: decimalString,
  multiplierDown: decimalString,
  /** A string ("4") live, an int in the docs. */
  multiplierDecimal: z.union([decimalString, int]).optional(),
});

const KNOWN_FILTERS = new Set([
  'PRICE_FILTER',
  'LOT_SIZE',
  'MARKET_LOT_SIZE',
  'MAX_NUM_ORDERS',
  'MAX_NUM_ALGO_ORDERS',
  'MIN_NOTIONAL',
  'PERCENT_PRICE',
]);
/** Any filter type we do not know; a known type with missing fields does NOT fall through to here. */
export const OtherFilterSchema = z.looseObject({
  filterType: z.string().refine((t) => !KNOWN_FILTERS.has(t), { message: 'malformed known filter' }),
});

export const SymbolFilterSchema = z.union([
  PriceFilterSchema,
  LotSizeSchema,
  MarketLotSizeSchema,
  MaxNumOrdersSchema,
  MaxNumAlgoOrdersSchema,
  MinNotionalSchema,
  PercentPriceSchema,
  OtherFilterSchema,
]);
export type PriceFilter = z.output<typeof PriceFilterSchema>;
export type LotSize = z.output<typeof LotSizeSchema>;
export type MarketLotSize = z.output<typeof MarketLotSizeSchema>;
export type MaxNumOrders = z.output<typeof MaxNumOrdersSchema>;
export type MinNotional = z.output<typeof MinNotionalSchema>;
export type PercentPrice = z.output<typeof PercentPriceSchema>;
export type SymbolFilter = z.output<typeof SymbolFilterSchema>;

export const ExchangeSymbolSchema = z.object({
  symbol: z.string(),
  pair: z.string().optional(),
  /** PERPETUAL, CURRENT_QUARTER, TRADIFI_PERPETUAL, transient "CURRENT_QUARTER DELIVERING"... */
  contractType: z.string(),
  deliveryDate: int.optional(),
  onboardDate: int.optional(),
  /** TRADING, PENDING_TRADING, SETTLING, ... (kept open: transient strings exist). */
  status: z.string(),
  maintMarginPercent: decimalString.optional(),
  requiredMarginPercent: decimalString.optional(),
  baseAsset: z.string(),
  quoteAsset: z.string(),
  marginAsset: z.string(),
  pricePrecision: int,
  quantityPrecision: int,
  baseAssetPrecision: int.optional(),
  quotePrecision: int.optional(),
  underlyingType: z.string().optional(),
  underlyingSubType: z.array(z.string()).optional(),
  triggerProtect: decimalString.optional(),
  liquidationFee: decimalString.optional(),
  marketTakeBound: decimalString.optional(),
  maxMoveOrderLimit: int.optional(),
  filters: z.array(SymbolFilterSchema),
  orderTypes: z.array(z.string()).optional(),
  timeInForce: z.array(z.string()).optional(),
});
export type ExchangeSymbol = z.output<typeof ExchangeSymbolSchema>;

export const RateLimitSchema = z.object({
  rateLimitType: z.string(),
  interval: z.string(),
  intervalNum: int,
  limit: int,
});
export type RateLimit = z.output<typeof RateLimitSchema>;

export const ExchangeInfoSchema = z.object({
  timezone: z.string(),
  serverTime: int,
  futuresType: z.string().optional(),
  rateLimits: z.array(RateLimitSchema),
  exchangeFilters: z.array(z.unknown()).optional(),
  assets: z
    .array(
      z.object({
        asset: z.string(),
        marginAvailable: z.boolean(),
        autoAssetExchange: z.union([z.string(), z.number(), z.null()]).optional(),
      }),
    )
    .optional(),
  symbols: z.array(ExchangeSymbolSchema),
});
export type ExchangeInfo = z.output<typeof ExchangeInfoSchema>;

// ---- market data (§7.4–7.9) ----

/** The 12-element kline array (§7.7), turned into a named object (decimals stay strings). */
export const KlineSchema = z
  .tuple(
    [
      int,
      decimalString,
      decimalString,
      decimalString,
      decimalString,
      decimalString,
      int,
      decimalString,
      int,
      decimalString,
      decimalString,
      z.union([z.string(), z.number()]),
    ],
    z.unknown(),
  )
  .transform((k) => ({
    openTime: k[0],
    open: k[1],
    high: k[2],
    low: k[3],
    close: k[4],
    volume: k[5],
    closeTime: k[6],
    quoteVolume: k[7],
    trades: k[8],
    takerBuyVolume: k[9],
    takerBuyQuoteVolume: k[10],
  }));
export type Kline = z.output<typeof KlineSchema>;

const level = z.tuple([decimalString, decimalString]);
export const DepthSchema = z.object({
  lastUpdateId: int,
  E: int.optional(),
  T: int.optional(),
  bids: z.array(level),
  asks: z.array(level),
});
export type Depth = z.output<typeof DepthSchema>;

export const MarketTradeSchema = z.object({
  id: int,
  price: decimalString,
  qty: decimalString,
  quoteQty: decimalString,
  time: int,
  isBuyerMaker: z.boolean(),
  isRPITrade: z.boolean().optional(),
});
export type MarketTrade = z.output<typeof MarketTradeSchema>;

export const BookTickerSchema = z.object({
  symbol: z.string(),
  bidPrice: decimalString,
  bidQty: decimalString,
  askPrice: decimalString,
  askQty: decimalString,
  time: int,
});
export type BookTicker = z.output<typeof BookTickerSchema>;

export const TickerPriceSchema = z.object({ symbol: z.string(), price: decimalString, time: int });
export type TickerPrice = z.output<typeof TickerPriceSchema>;

export const Ticker24hSchema = z.object({
  symbol: z.string(),
  priceChange: decimalString,
  priceChangePercent: decimalString,
  weightedAvgPrice: decimalString,
  lastPrice: decimalString,
  lastQty: decimalString,
  openPrice: decimalString,
  highPrice: decimalString,
  lowPrice: decimalString,
  volume: decimalString,
  quoteVolume: decimalString,
  openTime: int,
  closeTime: int,
  firstId: int,
  lastId: int,
  count: int,
});
export type Ticker24h = z.output<typeof Ticker24hSchema>;

export const PremiumIndexSchema = z.object({
  symbol: z.string(),
  markPrice: decimalString,
  indexPrice: decimalString,
  estimatedSettlePrice: decimalString,
  lastFundingRate: decimalOrEmpty,
  interestRate: decimalOrEmpty,
  nextFundingTime: int,
  time: int,
});
export type PremiumIndex = z.output<typeof PremiumIndexSchema>;

export const FundingRateSchema = z.object({
  symbol: z.string(),
  fundingRate: decimalString,
  fundingTime: int,
  markPrice: decimalOrEmpty.optional(),
});
export type FundingRate = z.output<typeof FundingRateSchema>;

export const FundingInfoSchema = z.object({
  symbol: z.string(),
  adjustedFundingRateCap: decimalString,
  adjustedFundingRateFloor: decimalString,
  fundingIntervalHours: int,
  disclaimer: z.boolean().optional(),
});
export type FundingInfo = z.output<typeof FundingInfoSchema>;

// ---- orders (§8.1, §8.7) ----

export const OrderSchema = z.object({
  orderId: int,
  symbol: z.string(),
  pair: z.string().optional(),
  status: OrderStatus,
  clientOrderId: z.string(),
  price: decimalString,
  /** Dropped from the 2026 docs, still sent. */
  avgPrice: decimalString.optional(),
  origQty: decimalString,
  executedQty: decimalString,
  cumQty: decimalString.optional(),
  cumQuote: decimalString.optional(),
  timeInForce: TimeInForce,
  type: OrderType,
  reduceOnly: z.boolean(),
  closePosition: z.boolean(),
  side: Side,
  positionSide: PositionSide,
  stopPrice: decimalOrEmpty.optional(),
  workingType: z.string().optional(),
  priceProtect: z.boolean().optional(),
  origType: OrderType,
  activatePrice: decimalOrEmpty.optional(),
  priceRate: decimalOrEmpty.optional(),
  priceMatch: z.string().optional(),
  selfTradePreventionMode: z.string().optional(),
  goodTillDate: int.optional(),
  /** Creation time (GET queries only). */
  time: int.optional(),
  updateTime: int,
});
export type Order = z.output<typeof OrderSchema>;

/** An element of a batch answer: an order, or `{code, msg}` for that item. */
export const BatchItemSchema = z.union([BatchErrorSchema, OrderSchema]);
export type BatchItem = Order | BatchError;

export function isBatchError(x: BatchItem): x is BatchError {
  return 'code' in x && !('orderId' in x);
}

export const UserTradeSchema = z.object({
  buyer: z.boolean(),
  commission: decimalString,
  commissionAsset: z.string(),
  id: int,
  maker: z.boolean(),
  orderId: int,
  price: decimalString,
  qty: decimalString,
  quoteQty: decimalString,
  realizedPnl: decimalString,
  side: Side,
  positionSide: PositionSide,
  symbol: z.string(),
  time: int,
});
export type UserTrade = z.output<typeof UserTradeSchema>;

// ---- algo orders (§9) ----

export const AlgoOrderSchema = z.object({
  algoId: int,
  clientAlgoId: z.string(),
  algoType: z.string(),
  orderType: ConditionalType,
  symbol: z.string(),
  side: Side,
  positionSide: PositionSide,
  timeInForce: TimeInForce,
  quantity: decimalString,
  algoStatus: AlgoStatus,
  triggerPrice: decimalOrEmpty,
  price: decimalOrEmpty,
  icebergQuantity: decimalOrEmpty.nullable().optional(),
  selfTradePreventionMode: z.string().optional(),
  workingType: z.string().optional(),
  priceMatch: z.string().optional(),
  closePosition: z.boolean(),
  priceProtect: z.boolean().optional(),
  reduceOnly: z.boolean(),
  activatePrice: decimalOrEmpty.optional(),
  callbackRate: decimalOrEmpty.optional(),
  createTime: int,
  updateTime: int,
  triggerTime: int.optional(),
  goodTillDate: int.optional(),
  // GET algoOrder / openAlgoOrders / allAlgoOrders extras
  actualOrderId: idOrEmpty.optional(),
  actualPrice: decimalOrEmpty.optional(),
  actualType: z.string().optional(),
  actualQty: decimalOrEmpty.optional(),
  tpOrderType: z.string().optional(),
});
export type AlgoOrder = z.output<typeof AlgoOrderSchema>;

export const AlgoCancelSchema = z.object({
  algoId: int,
  clientAlgoId: z.string(),
  /** "200" in the docs (a string), tolerated as a number. */
  code: z.union([z.string(), int]),
  msg: z.string(),
});
export type AlgoCancel = z.output<typeof AlgoCancelSchema>;

// ---- account & positions (§10) ----

const totals = {
  totalInitialMargin: decimalString,
  totalMaintMargin: decimalString,
  totalWalletBalance: decimalString,
  totalUnrealizedProfit: decimalString,
  totalMarginBalance: decimalString,
  totalPositionInitialMargin: decimalString,
  totalOpenOrderInitialMargin: decimalString,
  totalCrossWalletBalance: decimalString,
  totalCrossUnPnl: decimalString,
  availableBalance: decimalString,
  maxWithdrawAmount: decimalString,
};

export const AccountAssetSchema = z.object({
  asset: z.string(),
  walletBalance: decimalString,
  unrealizedProfit: decimalString,
  marginBalance: decimalString,
  maintMargin: decimalString,
  initialMargin: decimalString,
  positionInitialMargin: decimalString,
  openOrderInitialMargin: decimalString,
  crossWalletBalance: decimalString,
  crossUnPnl: decimalString,
  availableBalance: decimalString,
  maxWithdrawAmount: decimalString,
  marginAvailable: z.boolean().optional(),
  updateTime: int,
});
export type AccountAsset = z.output<typeof AccountAssetSchema>;

export const AccountV2PositionSchema = z.object({
  symbol: z.string(),
  initialMargin: decimalString,
  maintMargin: decimalString,
  unrealizedProfit: decimalString,
  positionInitialMargin: decimalString,
  openOrderInitialMargin: decimalString,
  leverage: decimalString,
  isolated: z.boolean(),
  entryPrice: decimalString,
  breakEvenPrice: decimalString.optional(),
  maxNotional: decimalString,
  bidNotional: decimalString,
  askNotional: decimalString,
  positionSide: PositionSide,
  positionAmt: decimalString,
  updateTime: int,
});
export type AccountV2Position = z.output<typeof AccountV2PositionSchema>;

export const AccountV2Schema = z.object({
  feeTier: int,
  feeBurn: z.boolean().optional(),
  canTrade: z.boolean(),
  canDeposit: z.boolean(),
  canWithdraw: z.boolean(),
  updateTime: int,
  multiAssetsMargin: z.boolean(),
  tradeGroupId: int.optional(),
  ...totals,
  assets: z.array(AccountAssetSchema),
  positions: z.array(AccountV2PositionSchema),
});
export type AccountV2 = z.output<typeof AccountV2Schema>;

export const AccountV3PositionSchema = z.object({
  symbol: z.string(),
  positionSide: PositionSide,
  positionAmt: decimalString,
  unrealizedProfit: decimalString,
  isolatedMargin: decimalString,
  notional: decimalString,
  isolatedWallet: decimalString,
  initialMargin: decimalString,
  maintMargin: decimalString,
  updateTime: int,
});
export type AccountV3Position = z.output<typeof AccountV3PositionSchema>;

export const AccountV3Schema = z.object({
  ...totals,
  assets: z.array(AccountAssetSchema),
  positions: z.array(AccountV3PositionSchema),
});
export type AccountV3 = z.output<typeof AccountV3Schema>;

export const BalanceSchema = z.object({
  accountAlias: z.string(),
  asset: z.string(),
  balance: decimalString,
  crossWalletBalance: decimalString,
  crossUnPnl: decimalString,
  availableBalance: decimalString,
  maxWithdrawAmount: decimalString,
  marginAvailable: z.boolean(),
  updateTime: int,
});
export type Balance = z.output<typeof BalanceSchema>;

export const PositionRiskV2Schema = z.object({
  symbol: z.string(),
  positionSide: PositionSide,
  positionAmt: decimalString,
  entryPrice: decimalString,
  breakEvenPrice: decimalString.optional(),
  /** Lowercase here ("isolated" / "cross"). */
  marginType: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['isolated', 'cross'])),
  /** "false" (a string) on Binance; → boolean. */
  isAutoAddMargin: boolish,
  isolatedMargin: decimalString,
  leverage: decimalString,
  liquidationPrice: decimalString,
  markPrice: decimalString,
  maxNotionalValue: decimalString,
  notional: decimalString,
  isolatedWallet: decimalString,
  unRealizedProfit: decimalString,
  updateTime: int,
});
export type PositionRiskV2 = z.output<typeof PositionRiskV2Schema>;

/** v3: only symbols with a position or open orders; no leverage/marginType (use symbolConfig). */
export const PositionRiskV3Schema = z.object({
  symbol: z.string(),
  positionSide: PositionSide,
  positionAmt: decimalString,
  entryPrice: decimalString,
  breakEvenPrice: decimalString,
  markPrice: decimalString,
  unRealizedProfit: decimalString,
  liquidationPrice: decimalString,
  isolatedMargin: decimalString,
  notional: decimalString,
  marginAsset: z.string(),
  isolatedWallet: decimalString,
  initialMargin: decimalString,
  maintMargin: decimalString,
  positionInitialMargin: decimalString,
  openOrderInitialMargin: decimalString,
  adl: int,
  bidNotional: decimalString,
  askNotional: decimalString,
  updateTime: int,
});
export type PositionRiskV3 = z.output<typeof PositionRiskV3Schema>;

export const AccountConfigSchema = z.object({
  feeTier: int,
  canTrade: z.boolean(),
  canDeposit: z.boolean(),
  canWithdraw: z.boolean(),
  dualSidePosition: z.boolean(),
  updateTime: int,
  multiAssetsMargin: z.boolean(),
  tradeGroupId: int.optional(),
});
export type AccountConfig = z.output<typeof AccountConfigSchema>;

export const SymbolConfigSchema = z.object({
  symbol: z.string(),
  marginType: z.enum(['CROSSED', 'ISOLATED']),
  isAutoAddMargin: boolish,
  leverage: int,
  maxNotionalValue: decimalString,
});
export type SymbolConfig = z.output<typeof SymbolConfigSchema>;

export const CommissionRateSchema = z.object({
  symbol: z.string(),
  makerCommissionRate: decimalString,
  takerCommissionRate: decimalString,
});
export type CommissionRate = z.output<typeof CommissionRateSchema>;

/** Bracket numbers are JSON numbers on Binance (risk information, not money amounts). */
export const LeverageBracketSchema = z.object({
  symbol: z.string(),
  notionalCoef: z.number().optional(),
  brackets: z.array(
    z.object({
      bracket: int,
      initialLeverage: int,
      notionalCap: z.number(),
      notionalFloor: z.number(),
      maintMarginRatio: z.number(),
      cum: z.number(),
    }),
  ),
});
export type LeverageBracket = z.output<typeof LeverageBracketSchema>;

export const PositionModeSchema = z.object({ dualSidePosition: z.boolean() });
export const MultiAssetsMarginSchema = z.object({ multiAssetsMargin: z.boolean() });

export const LeverageAnswerSchema = z.object({
  leverage: int,
  maxNotionalValue: decimalString,
  symbol: z.string(),
});
export type LeverageAnswer = z.output<typeof LeverageAnswerSchema>;

/** POST /fapi/v1/marginType: `{"code":200,"msg":"success"}`. */
export const MarginTypeAnswerSchema = CodeMsgSchema;

export const IncomeSchema = z.object({
  /** "" for account-wide rows (TRANSFER). */
  symbol: z.string(),
  incomeType: z.string(),
  /** Negative for costs (fees, paid funding). */
  income: decimalString,
  asset: z.string(),
  info: z.string(),
  time: int,
  /** Unique only within one incomeType. */
  tranId: int,
  /** A string ("" when none); a number is tolerated and turned into text. */
  tradeId: z.union([z.string(), int]).transform(String),
});
export type Income = z.output<typeof IncomeSchema>;

// ---- listenKey (§11.1) ----

export const ListenKeySchema = z.object({ listenKey: z.string().min(1) });
/** PUT answers `{listenKey}` now, `{}` in older versions. */
export const ListenKeyKeepaliveSchema = z.object({ listenKey: z.string().optional() });

// ---- parsing with the endpoint named in the error ----

/** A response that does not have the shape the schema demands. */
export class ResponseShapeError extends Error {
  override name = 'ResponseShapeError';
  readonly endpoint: string;
  readonly issues: z.core.$ZodIssue[];
  constructor(endpoint: string, issues: z.core.$ZodIssue[], data: unknown) {
    const list = issues
      .slice(0, 5)
      .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}${sample(data, i.path)}`)
      .join('; ');
    const more = issues.length > 5 ? ` (+${issues.length - 5} more)` : '';
    super(`${endpoint}: unexpected response shape: ${list}${more}`);
    this.endpoint = endpoint;
    this.issues = issues;
  }
}

function sample(data: unknown, path: PropertyKey[]): string {
  let cur: unknown = data;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  if (cur === undefined) return ' (missing)';
  const text = JSON.stringify(cur);
  return text === undefined ? '' : ` (got ${text.length > 60 ? `${text.slice(0, 60)}…` : text})`;
}

/** Parses `data` with `schema`; throws ResponseShapeError naming `endpoint` ("GET /fapi/v1/order"). */
export function parseResponse<S extends z.ZodType>(schema: S, data: unknown, endpoint: string): z.output<S> {
  const r = schema.safeParse(data);
  if (!r.success) throw new ResponseShapeError(endpoint, r.error.issues, data);
  return r.data;
}
