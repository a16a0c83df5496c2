// Internal state of the trading engine: orders, algo (conditional) orders, positions, trades,
// income rows. Everything that is money is a Decimal; times are exchange milliseconds.

import type { Decimal } from '../../core/decimal.ts';
import type { SymbolSpec } from '../contracts.ts';
import type { Account } from './account.ts';

export type Side = 'BUY' | 'SELL';
export type PositionSide = 'BOTH' | 'LONG' | 'SHORT';
export type OrderType =
  | 'LIMIT'
  | 'MARKET'
  | 'STOP'
  | 'STOP_MARKET'
  | 'TAKE_PROFIT'
  | 'TAKE_PROFIT_MARKET'
  | 'TRAILING_STOP_MARKET';
export type ConditionalType = Exclude<OrderType, 'LIMIT' | 'MARKET'>;
export type TimeInForce = 'GTC' | 'IOC' | 'FOK' | 'GTX' | 'GTD';
export type OrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'REJECTED' | 'EXPIRED';
export type WorkingType = 'MARK_PRICE' | 'CONTRACT_PRICE';
export type AlgoStatus =
  | 'NEW'
  | 'CANCELED'
  | 'TRIGGERING'
  | 'TRIGGERED'
  | 'FINISHED'
  | 'REJECTED'
  | 'EXPIRED';
export type RespType = 'ACK' | 'RESULT';

export const ORDER_TYPES: readonly OrderType[] = [
  'LIMIT',
  'MARKET',
  'STOP',
  'STOP_MARKET',
  'TAKE_PROFIT',
  'TAKE_PROFIT_MARKET',
  'TRAILING_STOP_MARKET',
];
export const CONDITIONAL_TYPES: readonly ConditionalType[] = [
  'STOP',
  'STOP_MARKET',
  'TAKE_PROFIT',
  'TAKE_PROFIT_MARKET',
  'TRAILING_STOP_MARKET',
];
export const TIFS: readonly TimeInForce[] = ['GTC', 'IOC', 'FOK', 'GTX', 'GTD'];
export const STP_MODES = ['NONE', 'EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'] as const;
export const PRICE_MATCHES = [
  'NONE',
  'OPPONENT',
  'OPPONENT_5',
  'OPPONENT_10',
  'OPPONENT_20',
  'QUEUE',
  'QUEUE_5',
  'QUEUE_10',
  'QUEUE_20',
] as const;
export const INCOME_TYPES = [
  'TRANSFER',
  'WELCOME_BONUS',
  'REALIZED_PNL',
  'FUNDING_FEE',
  'COMMISSION',
  'INSURANCE_CLEAR',
  'REFERRAL_KICKBACK',
  'COMMISSION_REBATE',
  'API_REBATE',
  'CONTEST_REWARD',
  'CROSS_COLLATERAL_TRANSFER',
  'OPTIONS_PREMIUM_FEE',
  'OPTIONS_SETTLE_PROFIT',
  'INTERNAL_TRANSFER',
  'AUTO_EXCHANGE',
  'DELIVERED_SETTELMENT',
  'COIN_SWAP_DEPOSIT',
  'COIN_SWAP_WITHDRAW',
  'POSITION_LIMIT_INCREASE_FEE',
  'STRATEGY_UMFUTURES_TRANSFER',
  'FEE_RETURN',
  'BFUSD_REWARD',
] as const;

export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;

/** One row of a symbol's leverage bracket table. */
export interface Bracket {
  bracket: number;
  initialLeverage: number;
  notionalCap: Decimal;
  notionalFloor: Decimal;
  maintMarginRatio: Decimal;
  cum: Decimal;
}

/** A symbol's filters, parsed once. */
export interface SymbolRules {
  spec: SymbolSpec;
  symbol: string;
  tick: Decimal;
  minPrice: Decimal;
  maxPrice: Decimal;
  step: Decimal;
  minQty: Decimal;
  maxQty: Decimal;
  marketStep: Decimal;
  marketMinQty: Decimal;
  marketMaxQty: Decimal;
  minNotional: Decimal;
  /** The notional as Binance prints it in the -4164 message ("5.0"). */
  minNotionalText: string;
  multiplierUp: Decimal;
  multiplierDown: Decimal;
  pricePrecision: number;
  quantityPrecision: number;
  /** Decimals a price may carry before -1111 (max of pricePrecision and the tick's decimals). */
  priceDecimals: number;
  qtyDecimals: number;
  marketQtyDecimals: number;
  maxNumOrders: number;
  brackets: Bracket[];
}

/** Trigger state shared by algo orders and pre-2025 conditional orders on /fapi/v1/order. */
export interface Trigger {
  type: ConditionalType;
  side: Side;
  /** Zero for trailing stops. */
  triggerPrice: Decimal;
  workingType: WorkingType;
  priceProtect: boolean;
  /** Trailing: price that activates the trail (undefined: active from placement). */
  activatePrice?: Decimal;
  /** Trailing: callback in percent ("1" = 1 %). */
  callbackRate?: Decimal;
  /** Trailing: the trail is running. */
  activated: boolean;
  /** Trailing: lowest (BUY) / highest (SELL) price since activation. */
  extreme?: Decimal;
}

export interface Order {
  acct: Account;
  rules: SymbolRules;
  symbol: string;
  orderId: number;
  clientOrderId: string;
  side: Side;
  positionSide: PositionSide;
  /** Current type (a triggered legacy STOP_MARKET becomes MARKET). */
  type: OrderType;
  origType: OrderType;
  timeInForce: TimeInForce;
  /** Zero for MARKET. */
  price: Decimal;
  origQty: Decimal;
  executedQty: Decimal;
  cumQuote: Decimal;
  status: OrderStatus;
  reduceOnly: boolean;
  closePosition: boolean;
  stopPrice: Decimal;
  workingType: WorkingType;
  priceProtect: boolean;
  priceMatch: string;
  selfTradePreventionMode: string;
  goodTillDate: number;
  time: number;
  updateTime: number;
  /** Expire reason of the user stream's `er` ("0" none). */
  expireReason: string;
  /** Pending trigger (legacy conditional orders only, until they trigger). */
  trigger?: Trigger;
  /** Legacy trailing stop: activation price / callback rate, kept for the responses. */
  activatePrice?: Decimal;
  priceRate?: Decimal;
  /** The algo order that spawned this order. */
  algo?: AlgoOrder;
  /** On the book (LIMIT, open). */
  resting: boolean;
}

export interface AlgoOrder {
  acct: Account;
  rules: SymbolRules;
  symbol: string;
  algoId: number;
  clientAlgoId: string;
  orderType: ConditionalType;
  side: Side;
  positionSide: PositionSide;
  timeInForce: TimeInForce;
  /** Zero with closePosition. */
  quantity: Decimal;
  status: AlgoStatus;
  triggerPrice: Decimal;
  /** Limit price for STOP/TAKE_PROFIT, zero otherwise. */
  price: Decimal;
  priceMatch: string;
  selfTradePreventionMode: string;
  workingType: WorkingType;
  closePosition: boolean;
  priceProtect: boolean;
  reduceOnly: boolean;
  activatePrice?: Decimal;
  callbackRate?: Decimal;
  goodTillDate: number;
  createTime: number;
  updateTime: number;
  triggerTime: number;
  trigger: Trigger;
  /** The order placed on trigger. */
  actual?: Order;
  /** Failure reason (ALGO_UPDATE `rm`). */
  reason: string;
}

export interface Position {
  symbol: string;
  side: PositionSide;
  /** Signed: positive long, negative short (LONG rows ≥ 0, SHORT rows ≤ 0). */
  amt: Decimal;
  entryPrice: Decimal;
  /** Commission paid to open the current position (for the break-even price). */
  openFee: Decimal;
  /** Accumulated realized PnL before fees (ACCOUNT_UPDATE `cr`). */
  cumRealized: Decimal;
  /** Isolated wallet (isolated margin type only). */
  isolatedWallet: Decimal;
  updateTime: number;
}

export interface Trade {
  id: number;
  symbol: string;
  orderId: number;
  side: Side;
  positionSide: PositionSide;
  price: Decimal;
  qty: Decimal;
  quoteQty: Decimal;
  commission: Decimal;
  realizedPnl: Decimal;
  maker: boolean;
  time: number;
}

export interface IncomeRow {
  symbol: string;
  incomeType: string;
  income: Decimal;
  asset: string;
  info: string;
  time: number;
  tranId: number;
  tradeId: string;
}

export interface Fill {
  qty: Decimal;
  price: Decimal;
  commission: Decimal;
  realizedPnl: Decimal;
  tradeId: number;
  maker: boolean;
}
