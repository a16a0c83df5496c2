// From an intent to the exact order: deterministic client order ids, quote → base sizing, and
// rounding to the symbol's filters in exact arithmetic (RulesBook).

import { createHash } from 'node:crypto';
import type { NewOrderParams } from '../core/binance/endpoints.ts';
import type { RulesBook } from '../core/binance/filters.ts';
import { Decimal } from '../core/decimal.ts';
import type { Intent } from './strategy.ts';

/** An intent's identity within its trader: the key is scoped by the symbol. */
export function intentId(intent: { symbol: string; key: string }): string {
  return `${intent.symbol}:${intent.key}`;
}

/**
 * A trader name as it appears in client order ids: [A-Za-z0-9], at most 10. A name that already
 * is 1-10 alphanumerics is its own tag; any other name becomes up to 5 of its alphanumerics and a
 * 5-character hash of the whole name (deterministic), so `tokyo-trader-1` and `tokyo-trader-2`
 * never share a prefix (one trader's reconcile must never adopt or cancel another's orders).
 */
export function traderTag(trader: string): string {
  if (/^[A-Za-z0-9]{1,10}$/.test(trader)) return trader;
  const head = trader.replace(/[^A-Za-z0-9]/g, '').slice(0, 5);
  const digest = createHash('sha256').update(trader).digest();
  const h = (digest.readUInt32BE(0) % 36 ** 5).toString(36).padStart(5, '0');
  return `${head}${h}`;
}

/** Two names whose client order ids would share a prefix (one would adopt the other's orders). */
export function tagsCollide(a: string, b: string): boolean {
  return traderTag(a) === traderTag(b);
}

/** The prefix of every client order id of a trader: `fl-<tag>-`. */
export function clientIdPrefix(trader: string): string {
  return `fl-${traderTag(trader)}-`;
}

/**
 * Deterministic client order id from (trader, intent key): `fl-<tag>-<18 chars of sha256>`,
 * at most 32 characters of Binance's alphabet. The same decision always gets the same id.
 */
export function clientOrderId(trader: string, key: string): string {
  const h = createHash('sha256').update(`${trader}\u0000${key}`).digest('base64url').slice(0, 18);
  return `${clientIdPrefix(trader)}${h}`;
}

export interface Quote {
  bid?: number | string;
  ask?: number | string;
  /** Last / reference price. */
  last?: number | string;
}

export type Prepared = { ok: true; params: NewOrderParams } | { ok: false; code: number; reason: string };

function dec(v: number | string | undefined): Decimal | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? Decimal.fromNumber(v) : undefined;
  try {
    const d = Decimal.parse(v);
    return d.isPositive() ? d : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The order for an intent: MARKET for taker, LIMIT GTX at the near touch (BUY at the bid, SELL
 * at the ask) for maker; quote sizes converted at the reference price; price and quantity
 * rounded and pre-checked by the RulesBook (quantity floors, price toward the passive side).
 */
export function prepareOrder(intent: Intent, rules: RulesBook, quote: Quote, clientId: string): Prepared {
  const ref = dec(quote.last) ?? dec(intent.refPrice) ?? mid(quote);
  const maker = intent.style.kind === 'maker';
  const limit = maker ? ((intent.side === 'BUY' ? dec(quote.bid) : dec(quote.ask)) ?? ref) : undefined;
  const valuation = limit ?? ref;
  let qty: Decimal;
  if ('base' in intent.size) {
    const b = dec(intent.size.base);
    if (b === undefined)
      return { ok: false, code: -1102, reason: `size.base is not a positive decimal: ${intent.size.base}` };
    qty = b;
  } else {
    const q = dec(intent.size.quote);
    if (q === undefined)
      return { ok: false, code: -1102, reason: `size.quote is not a positive decimal: ${intent.size.quote}` };
    if (valuation === undefined)
      return { ok: false, code: -1102, reason: 'no price to convert a quote size' };
    qty = q.div(valuation, 18, 'floor');
  }
  const reduceOnly = intent.action === 'close';
  const order = {
    symbol: intent.symbol,
    side: intent.side,
    type: maker ? ('LIMIT' as const) : ('MARKET' as const),
    price: limit,
    quantity: qty,
    reduceOnly,
    markPrice: ref,
  };
  // Base sizes floor (never more than asked, never more than the position for a close). Quote
  // sizes go to the nearest step, and up one step when that is below the minimum quantity or
  // notional (100 USDT of BTC is 0.00095: 0.001 is the order that means it).
  let r = rules.prepareOrder({ ...order, qtyRounding: 'base' in intent.size ? 'floor' : 'round' });
  if (!r.ok && 'quote' in intent.size && (r.code === -4003 || r.code === -4004 || r.code === -4164))
    r = rules.prepareOrder({ ...order, qtyRounding: 'ceil' });
  if (!r.ok) return { ok: false, code: r.code, reason: `${r.msg}: ${r.reason}` };
  const params: NewOrderParams = {
    symbol: intent.symbol,
    side: intent.side,
    type: maker ? 'LIMIT' : 'MARKET',
    quantity: r.quantity,
    newClientOrderId: clientId,
  };
  if (maker) {
    params.price = r.price;
    params.timeInForce = 'GTX';
  }
  if (reduceOnly) params.reduceOnly = true;
  return { ok: true, params };
}

function mid(q: Quote): Decimal | undefined {
  const b = dec(q.bid);
  const a = dec(q.ask);
  return b && a ? b.add(a).div(2, 18) : undefined;
}
