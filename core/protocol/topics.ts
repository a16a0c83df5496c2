// Aggregator protocol v1: the topics, the schema of each topic's record `data`, the shape of its
// keys, and which role may publish or subscribe to it. The document of record is
// docs/protocol.md; this file is its executable form, shared by the aggregator (which validates
// every record it accepts) and the client (which validates what it publishes).
//
// Where Binance has a shape for the data, `data` is Binance's own REST object: field names
// unchanged, decimals as strings. Objects are "loose": fields this file does not name are kept
// and passed on untouched, so nothing Binance adds is lost on the way.

import { z } from 'zod';
import { KLINE_INTERVALS } from '../binance/schemas.ts';

export const ROLES = ['collector', 'trader', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Binance's kline intervals: one list, kept with the client's schemas. */
export { KLINE_INTERVALS };
export type KlineInterval = (typeof KLINE_INTERVALS)[number];

// ---------------------------------------------------------------------------------------------
// Building blocks

export const DECIMAL_RE = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
/** Letters and digits of any script; never whitespace, control characters, lone surrogates, ':', ',', '"' or '\\'. */
export const SYMBOL_RE = /^[^\s\p{Cc}\p{Cs}:,"\\]{1,40}$/u;
export const FLEET_NAME_RE = /^[A-Za-z0-9._@/-]{1,64}$/;

/** Decimal text as Binance sends it ("65000.10", "-0.5", "2.8E-4"); never a JS number. */
export const DecimalString = z.string().regex(DECIMAL_RE, 'a decimal string');
/** Epoch milliseconds (exchange time). */
export const EpochMs = z.int().nonnegative();
/** A symbol as Binance names it (letters, digits, also non-Latin letters; no ':' or spaces). */
export const SymbolName = z.string().regex(SYMBOL_RE, 'a symbol');
/** A name chosen by the fleet: sources, components, cursors. */
export const FleetName = z.string().regex(FLEET_NAME_RE, '1-64 of A-Z a-z 0-9 . _ @ / -');

// ---------------------------------------------------------------------------------------------
// Record data, one schema per topic family

/** GET /fapi/v1/ticker/bookTicker (one symbol). `ts` = `time`. */
export const BookTickerData = z.looseObject({
  symbol: SymbolName,
  bidPrice: DecimalString,
  bidQty: DecimalString,
  askPrice: DecimalString,
  askQty: DecimalString,
  time: EpochMs,
});

/** One 12-element kline array of GET /fapi/v1/klines, exactly as Binance sends it. */
export const KlineBar = z.tuple([
  EpochMs, // 0 open time
  DecimalString, // 1 open
  DecimalString, // 2 high
  DecimalString, // 3 low
  DecimalString, // 4 close
  DecimalString, // 5 volume
  EpochMs, // 6 close time
  DecimalString, // 7 quote asset volume
  z.int().nonnegative(), // 8 number of trades
  DecimalString, // 9 taker buy base volume
  DecimalString, // 10 taker buy quote volume
  z.string().max(64), // 11 ignore
]);

function ascendingBars(max: number) {
  return z
    .array(KlineBar)
    .min(1)
    .max(max)
    .refine((bars) => bars.every((b, i) => i === 0 || b[0] > bars[i - 1][0]), 'bars ascending by open time');
}

/** `kline.<interval>`: the last closed bar and the forming bar (or just one of them). */
export const KlineData = z.looseObject({ bars: ascendingBars(2) });
/** `kline.<interval>.window`: the last N closed bars (N ≤ 1500, Binance's limit), for calibration. */
export const KlineWindowData = z.looseObject({ bars: ascendingBars(1500) });

const OptDec = DecimalString.optional();

/**
 * GET /fapi/v3/positionRisk row. The three position sources (positionRisk, account v3 positions,
 * the user-data stream's ACCOUNT_UPDATE) each know a subset of the fields; these four are what
 * every source has. A flat position is published explicitly with `positionAmt` "0".
 */
export const PositionData = z.looseObject({
  symbol: SymbolName,
  positionSide: z.enum(['BOTH', 'LONG', 'SHORT']),
  positionAmt: DecimalString,
  updateTime: EpochMs,
  entryPrice: OptDec,
  breakEvenPrice: OptDec,
  markPrice: OptDec,
  unRealizedProfit: OptDec,
  liquidationPrice: OptDec,
  isolatedMargin: OptDec,
  notional: OptDec,
  marginAsset: z.string().max(20).optional(),
  isolatedWallet: OptDec,
  initialMargin: OptDec,
  maintMargin: OptDec,
  positionInitialMargin: OptDec,
  openOrderInitialMargin: OptDec,
  adl: z.int().optional(),
  bidNotional: OptDec,
  askNotional: OptDec,
});

/** One element of GET /fapi/v3/account `assets`. */
export const BalanceData = z.looseObject({
  asset: SymbolName,
  walletBalance: DecimalString,
  updateTime: EpochMs,
  unrealizedProfit: OptDec,
  marginBalance: OptDec,
  maintMargin: OptDec,
  initialMargin: OptDec,
  positionInitialMargin: OptDec,
  openOrderInitialMargin: OptDec,
  crossWalletBalance: OptDec,
  crossUnPnl: OptDec,
  availableBalance: OptDec,
  maxWithdrawAmount: OptDec,
  marginAvailable: z.boolean().optional(),
});

/** GET /fapi/v1/openOrders element (fields beyond these pass through). */
export const OpenOrder = z.looseObject({
  symbol: SymbolName,
  orderId: z.int(),
  clientOrderId: z.string().max(64),
  side: z.enum(['BUY', 'SELL']),
  type: z.string().max(40),
  status: z.string().max(40),
});

/** GET /fapi/v1/openAlgoOrders element (fields beyond these pass through). */
export const OpenAlgoOrder = z.looseObject({
  symbol: SymbolName,
  algoId: z.int(),
  clientAlgoId: z.string().max(64),
  side: z.enum(['BUY', 'SELL']),
  algoStatus: z.string().max(40),
});

/** `orders.open`: every open order and open algo order of one symbol, as Binance returns them. */
export const OpenOrdersData = z.looseObject({
  orders: z.array(OpenOrder).max(1000),
  algo: z.array(OpenAlgoOrder).max(1000),
});

/** GET /fapi/v1/exchangeInfo `symbols[]` row, filters included; everything else passes through. */
export const SymbolRowData = z.looseObject({
  symbol: SymbolName,
  status: z.string().max(40),
  filters: z.array(z.looseObject({ filterType: z.string().max(64) })).max(64),
});

/** `volume`: what the fast readers select symbols by. */
export const VolumeData = z.looseObject({
  symbol: SymbolName,
  /** 24 h quote volume (GET /fapi/v1/ticker/24hr `quoteVolume`). */
  quoteVolume: DecimalString,
  /** Recent volume over its average (1 = normal); the window is the producer's to state. */
  volumeSurge: DecimalString,
  /** Last funding rate (GET /fapi/v1/premiumIndex `lastFundingRate`). */
  fundingRate: DecimalString,
});

/** `risk.ban`: a symbol ban, or `ALL` (the kill switch: no new positions, reduce-only allowed). */
export const RiskBanData = z.looseObject({
  symbol: z.union([z.literal('ALL'), SymbolName]),
  /** false lifts the ban (a later record replaces the earlier one by the merge rule). */
  active: z.boolean(),
  reason: z.string().max(500),
  /** The rolling window that tripped it ("4h", "24h") or "manual". */
  window: z.string().max(20),
  /** Realized PnL + commission + funding over the window (USDT). */
  pnl: DecimalString,
  /** Epoch ms when the ban ends by itself; 0 = until lifted. */
  until: EpochMs,
});

/** `health`: a component's own view of itself; free-form beyond status and time. */
export const HealthData = z.looseObject({
  status: z.enum(['ok', 'degraded', 'down']),
  time: EpochMs,
});

// ---------------------------------------------------------------------------------------------
// The topic table

export type KeyKind = 'symbol' | 'position' | 'asset' | 'ban' | 'component';

export interface TopicSpec {
  readonly name: string;
  /** Topic family: the name without the interval. */
  readonly family:
    | 'book'
    | 'kline'
    | 'kline.window'
    | 'position'
    | 'balance'
    | 'orders.open'
    | 'symbols'
    | 'volume'
    | 'risk.ban'
    | 'health';
  readonly keyKind: KeyKind;
  readonly data: z.ZodType;
  /** The full record as published: `{key, ts, data}` with the key shape and this topic's data. */
  readonly record: z.ZodType<{ key: string; ts: number; data: unknown }>;
  readonly publish: readonly Role[];
  readonly subscribe: readonly Role[];
  /** Account data: never served to a collector. */
  readonly account: boolean;
}

const KEY_SCHEMAS: Record<KeyKind, z.ZodType<string>> = {
  symbol: SymbolName,
  position: z.string().regex(/^[^\s\p{Cc}\p{Cs}:,"\\]{1,40}:(?:BOTH|LONG|SHORT)$/u, 'SYMBOL:BOTH|LONG|SHORT'),
  asset: SymbolName,
  ban: z.union([z.literal('ALL'), SymbolName]),
  component: FleetName,
};

const ALL_ROLES: readonly Role[] = ROLES;
const PUBLISHERS: readonly Role[] = ['collector', 'admin'];
const ACCOUNT_READERS: readonly Role[] = ['trader', 'admin'];

function spec(
  name: string,
  family: TopicSpec['family'],
  keyKind: KeyKind,
  data: z.ZodType,
  publish: readonly Role[],
  subscribe: readonly Role[],
  account = false,
): TopicSpec {
  const record = z.object({ key: KEY_SCHEMAS[keyKind], ts: EpochMs, data });
  return { name, family, keyKind, data, record, publish, subscribe, account };
}

const FIXED: TopicSpec[] = [
  spec('book', 'book', 'symbol', BookTickerData, PUBLISHERS, ALL_ROLES),
  spec('position', 'position', 'position', PositionData, PUBLISHERS, ACCOUNT_READERS, true),
  spec('balance', 'balance', 'asset', BalanceData, PUBLISHERS, ACCOUNT_READERS, true),
  spec('orders.open', 'orders.open', 'symbol', OpenOrdersData, PUBLISHERS, ACCOUNT_READERS, true),
  spec('symbols', 'symbols', 'symbol', SymbolRowData, PUBLISHERS, ALL_ROLES),
  spec('volume', 'volume', 'symbol', VolumeData, PUBLISHERS, ALL_ROLES),
  spec('risk.ban', 'risk.ban', 'ban', RiskBanData, ['admin'], ALL_ROLES),
  spec('health', 'health', 'component', HealthData, ALL_ROLES, ALL_ROLES),
];

const TABLE = new Map<string, TopicSpec>();
for (const t of FIXED) TABLE.set(t.name, t);
for (const iv of KLINE_INTERVALS) {
  TABLE.set(`kline.${iv}`, spec(`kline.${iv}`, 'kline', 'symbol', KlineData, PUBLISHERS, ALL_ROLES));
  TABLE.set(
    `kline.${iv}.window`,
    spec(`kline.${iv}.window`, 'kline.window', 'symbol', KlineWindowData, PUBLISHERS, ALL_ROLES),
  );
}

/** Every topic name of protocol v1. */
export const TOPICS: readonly string[] = [...TABLE.keys()];

/** The health record key the aggregator publishes under; no client may publish it. */
export const AGGREGATOR_HEALTH_KEY = 'aggregator';

export function topicSpec(name: string): TopicSpec | undefined {
  return TABLE.get(name);
}

export function canPublish(role: Role, t: TopicSpec): boolean {
  return t.publish.includes(role);
}

export function canSubscribe(role: Role, t: TopicSpec): boolean {
  return t.subscribe.includes(role);
}

/** The symbol a key belongs to, for symbol filters; null when a filter does not apply (assets, components). */
export function symbolOfKey(t: TopicSpec, key: string): string | null {
  switch (t.keyKind) {
    case 'symbol':
    case 'ban':
      return key;
    case 'position': {
      const i = key.lastIndexOf(':');
      return i < 0 ? key : key.slice(0, i);
    }
    default:
      return null;
  }
}

/** Whether a record with this key passes a symbol filter (`ALL` bans pass every filter). */
export function matchesSymbols(t: TopicSpec, key: string, symbols: ReadonlySet<string> | null): boolean {
  if (symbols === null) return true;
  const s = symbolOfKey(t, key);
  return s === null || s === 'ALL' || symbols.has(s);
}

/**
 * The checks a schema cannot express: the key names what the data is about. Returns a reason
 * when they disagree, or null.
 */
export function keyMismatch(t: TopicSpec, key: string, data: unknown): string | null {
  const d = data as Record<string, unknown>;
  switch (t.family) {
    case 'book':
    case 'symbols':
    case 'volume':
    case 'risk.ban':
      return d.symbol === key ? null : `key ${key} but data.symbol ${String(d.symbol)}`;
    case 'position': {
      const want = `${String(d.symbol)}:${String(d.positionSide)}`;
      return want === key ? null : `key ${key} but data is ${want}`;
    }
    case 'balance':
      return d.asset === key ? null : `key ${key} but data.asset ${String(d.asset)}`;
    case 'orders.open': {
      const o = d as { orders: Array<{ symbol: string }>; algo: Array<{ symbol: string }> };
      for (const x of o.orders) if (x.symbol !== key) return `key ${key} but an order of ${x.symbol}`;
      for (const x of o.algo) if (x.symbol !== key) return `key ${key} but an algo order of ${x.symbol}`;
      return null;
    }
    default:
      return null;
  }
}

// Types of the data, for producers and consumers.
export type BookTicker = z.infer<typeof BookTickerData>;
export type KlineBarRow = z.infer<typeof KlineBar>;
export type Kline = z.infer<typeof KlineData>;
export type PositionRisk = z.infer<typeof PositionData>;
export type AccountAsset = z.infer<typeof BalanceData>;
export type OpenOrders = z.infer<typeof OpenOrdersData>;
export type SymbolRow = z.infer<typeof SymbolRowData>;
export type Volume = z.infer<typeof VolumeData>;
export type RiskBan = z.infer<typeof RiskBanData>;
export type Health = z.infer<typeof HealthData>;
