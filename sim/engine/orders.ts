// /fapi/v1/order and friends: parameter validation in Binance's order, filters, placement,
// modification, cancellation and the order/trade queries.

import { Decimal } from '../../core/decimal.ts';
import { ApiError, apiError, type Params } from '../contracts.ts';
import type { Account } from './account.ts';
import { openOrderIM, totals } from './account.ts';
import { orderTradeUpdate } from './events.ts';
import { fix8, pad, plain, randomClientId } from './format.ts';
import {
  closableQty,
  finalize,
  isConditional,
  isOpen,
  isReducing,
  type OrderSpec,
  place,
  takerFill,
  touchOf,
} from './matching.ts';
import {
  boolParam,
  decimalParam,
  eitherMissing,
  enumParam,
  intParam,
  invalid,
  jsonParam,
  limitParam,
  need,
  notRequired,
  opt,
  timeWindow,
  toParams,
} from './params.ts';
import { ackView, orderJson } from './responses.ts';
import {
  checkLotSize,
  checkMinNotional,
  checkPercentPrice,
  checkPriceFilter,
  checkPricePrecision,
  checkQtyPrecision,
  checkStopPriceFilter,
} from './rules.ts';
import type { Ctx } from './state.ts';
import {
  DAY_MS,
  ORDER_TYPES,
  type Order,
  type OrderType,
  type PositionSide,
  PRICE_MATCHES,
  type RespType,
  type Side,
  STP_MODES,
  type SymbolRules,
  TIFS,
  type TimeInForce,
  type Trade,
  WEEK_MS,
  type WorkingType,
} from './types.ts';

export const CLIENT_ID_RE = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const MAX_GTD = 253402300799000;

export function parseSide(p: Params): Side {
  const s = need(p, 'side');
  if (s !== 'BUY' && s !== 'SELL') throw apiError(-1117);
  return s;
}

/** positionSide: -4060 for an unknown value, -4061 when it does not fit the account's mode. */
export function parsePositionSide(acct: Account, p: Params): PositionSide {
  const v = opt(p, 'positionSide');
  if (v !== undefined && v !== 'BOTH' && v !== 'LONG' && v !== 'SHORT') throw apiError(-4060);
  const ps = (v ?? 'BOTH') as PositionSide;
  if (acct.dual ? ps === 'BOTH' : ps !== 'BOTH') throw apiError(-4061);
  return ps;
}

export function parseWorkingType(p: Params): WorkingType {
  return enumParam(p, 'workingType', ['MARK_PRICE', 'CONTRACT_PRICE'] as const, -1130) ?? 'CONTRACT_PRICE';
}

export function parseStp(p: Params): string {
  return enumParam(p, 'selfTradePreventionMode', STP_MODES, -1130) ?? 'EXPIRE_MAKER';
}

export function parseRespType(p: Params): RespType {
  return enumParam(p, 'newOrderRespType', ['ACK', 'RESULT'] as const, -1136) ?? 'ACK';
}

/** goodTillDate for GTD: mandatory, > now + 600 s and < 253402300799000, seconds precision. */
export function parseGoodTillDate(ctx: Ctx, p: Params, tif: TimeInForce): number {
  if (tif !== 'GTD') return 0;
  const g = intParam(p, 'goodTillDate', true);
  if (g <= ctx.now() + 600_000 || g >= MAX_GTD)
    throw new ApiError(
      -5040,
      'The goodTillDate timestamp must be greater than the current time plus 600 seconds and smaller than 253402300799000 (UTC 9999-12-31 23:59:59)',
    );
  return g - (g % 1000);
}

export interface ParsedOrder {
  spec: OrderSpec;
  respType: RespType;
}

/** Validates the parameters of POST /fapi/v1/order (not the filters). */
export function parseOrder(ctx: Ctx, acct: Account, p: Params): ParsedOrder {
  const symbol = need(p, 'symbol');
  need(p, 'side');
  const typeText = need(p, 'type');
  const rules = ctx.needRules(symbol);
  const side = parseSide(p);
  if (!(ORDER_TYPES as readonly string[]).includes(typeText)) throw apiError(-1116);
  const type = typeText as OrderType;
  if (isConditional(type) && !ctx.legacyConditional) throw apiError(-4120);
  const positionSide = parsePositionSide(acct, p);
  const reduceOnlyText = opt(p, 'reduceOnly');
  if (acct.dual && reduceOnlyText !== undefined) throw notRequired('reduceOnly');
  const reduceOnly = boolParam(p, 'reduceOnly') ?? false;
  const respType = parseRespType(p);

  const limitLike = type === 'LIMIT' || type === 'STOP' || type === 'TAKE_PROFIT';
  let timeInForce: TimeInForce = 'GTC';
  if (type === 'LIMIT') timeInForce = enumParam(p, 'timeInForce', TIFS, -1115, true) as TimeInForce;
  else timeInForce = enumParam(p, 'timeInForce', TIFS, -1115) ?? 'GTC';

  const closePosition = boolParam(p, 'closePosition') ?? false;
  if (closePosition && type !== 'STOP_MARKET' && type !== 'TAKE_PROFIT_MARKET')
    throw notRequired('closePosition');
  if (closePosition && reduceOnlyText !== undefined) {
    if (reduceOnly) throw notRequired('reduceOnly');
    throw apiError(-4138);
  }
  let qty = Decimal.ZERO;
  if (closePosition) {
    if (opt(p, 'quantity') !== undefined) throw apiError(-4137);
  } else qty = decimalParam(p, 'quantity', true);

  const priceMatch = enumParam(p, 'priceMatch', PRICE_MATCHES, -1130) ?? 'NONE';
  let price = Decimal.ZERO;
  if (limitLike) {
    if (priceMatch !== 'NONE') {
      if (opt(p, 'price') !== undefined) throw notRequired('price');
    } else price = decimalParam(p, 'price', true);
  } else if (priceMatch !== 'NONE')
    throw new ApiError(-5038, 'Price match only supports order type: LIMIT, STOP AND TAKE_PROFIT');

  let stopPrice = Decimal.ZERO;
  let activatePrice: Decimal | undefined;
  let callbackRate: Decimal | undefined;
  if (isConditional(type)) {
    if (type === 'TRAILING_STOP_MARKET') {
      callbackRate = decimalParam(p, 'callbackRate', true);
      if (callbackRate.lt('0.1') || callbackRate.gt('10') || callbackRate.decimalPlaces() > 1)
        throw invalid('callbackRate');
      activatePrice = decimalParam(p, 'activationPrice');
    } else stopPrice = decimalParam(p, 'stopPrice', true);
  }
  const workingType = parseWorkingType(p);
  const priceProtect = boolParam(p, 'priceProtect', true) ?? false;
  const selfTradePreventionMode = parseStp(p);
  const clientOrderId = opt(p, 'newClientOrderId');
  if (clientOrderId !== undefined && !CLIENT_ID_RE.test(clientOrderId)) throw apiError(-4015);
  const goodTillDate = parseGoodTillDate(ctx, p, timeInForce);

  return {
    respType,
    spec: {
      rules,
      symbol,
      side,
      positionSide,
      type,
      timeInForce,
      price,
      qty,
      reduceOnly,
      closePosition,
      stopPrice,
      workingType,
      priceProtect,
      priceMatch,
      selfTradePreventionMode,
      goodTillDate,
      clientOrderId,
      activatePrice,
      callbackRate,
    },
  };
}

/** priceMatch: the limit price from the book (OPPONENT: the other side, QUEUE: own side, _N: N-th level). */
export function resolvePriceMatch(
  ctx: Ctx,
  spec: { symbol: string; side: Side; priceMatch: string },
): Decimal {
  const [kind, nText] = spec.priceMatch.split('_');
  const n = nText ? Number(nText) : 1;
  const bids = kind === 'OPPONENT' ? spec.side === 'SELL' : spec.side === 'BUY';
  let text: string | undefined;
  if (n === 1) {
    const b = ctx.market.bookTicker(spec.symbol);
    text = bids ? b.bidPrice : b.askPrice;
  } else {
    const d = ctx.market.depth(spec.symbol, n <= 5 ? 5 : n <= 10 ? 10 : 20);
    const levels = bids ? d.bids : d.asks;
    text = levels.length ? levels[Math.min(n, levels.length) - 1][0] : undefined;
  }
  const price = text === undefined ? undefined : Decimal.parse(text);
  if (!price?.isPositive()) throw new ApiError(-5041, 'No depth matches this BBO order');
  return price;
}

/** The filters in Binance's order: precision, PRICE_FILTER, LOT_SIZE, PERCENT_PRICE, MIN_NOTIONAL. */
export function checkFilters(ctx: Ctx, acct: Account, spec: OrderSpec): void {
  const { rules, type } = spec;
  const limitLike = type === 'LIMIT' || type === 'STOP' || type === 'TAKE_PROFIT';
  const market = !limitLike;
  const hasQty = !spec.closePosition;
  if (limitLike) checkPricePrecision(rules, spec.price);
  if (!spec.stopPrice.isZero()) checkPricePrecision(rules, spec.stopPrice);
  if (spec.activatePrice) checkPricePrecision(rules, spec.activatePrice);
  if (hasQty) checkQtyPrecision(rules, spec.qty, market);

  if (limitLike) checkPriceFilter(rules, spec.price);
  if (isConditional(type) && type !== 'TRAILING_STOP_MARKET') checkStopPriceFilter(rules, spec.stopPrice);
  if (spec.activatePrice) checkStopPriceFilter(rules, spec.activatePrice);

  if (hasQty) checkLotSize(rules, spec.qty, market);

  const mark = ctx.mark(spec.symbol);
  if (limitLike) checkPercentPrice(rules, spec.side, spec.price, mark);
  if (type === 'MARKET' && mark.isPositive()) {
    const t = touchOf(ctx.market.bookTicker(spec.symbol));
    if (spec.side === 'BUY' && !rules.multiplierUp.isZero() && t.ask.gt(mark.mul(rules.multiplierUp)))
      throw apiError(-4131);
    if (
      spec.side === 'SELL' &&
      !rules.multiplierDown.isZero() &&
      t.bid.isPositive() &&
      t.bid.lt(mark.mul(rules.multiplierDown))
    )
      throw apiError(-4131);
  }

  if (hasQty && !isReducing(acct, spec)) {
    const ref = limitLike
      ? spec.price
      : type === 'MARKET'
        ? mark
        : type === 'TRAILING_STOP_MARKET'
          ? (spec.activatePrice ?? mark)
          : spec.stopPrice;
    checkMinNotional(rules, ref, spec.qty);
  }
}

function withRejectCount<T>(acct: Account, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ApiError) acct.stats.rejected++;
    throw e;
  }
}

function newOrderFor(ctx: Ctx, acct: Account, p: Params): Record<string, unknown> {
  return withRejectCount(acct, () => {
    const { spec, respType } = parseOrder(ctx, acct, p);
    if (spec.priceMatch !== 'NONE') spec.price = resolvePriceMatch(ctx, spec);
    checkFilters(ctx, acct, spec);
    spec.clientOrderId ??= randomClientId();
    const order = place(ctx, acct, spec);
    acct.stats.orders++;
    return orderJson(order, { view: respType === 'ACK' ? ackView(order) : undefined });
  });
}

export function newOrder(ctx: Ctx, apiKey: string, p: Params): unknown {
  return newOrderFor(ctx, ctx.account(apiKey), p);
}

export function testOrder(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const { spec } = parseOrder(ctx, acct, p);
  if (spec.priceMatch !== 'NONE') spec.price = resolvePriceMatch(ctx, spec);
  checkFilters(ctx, acct, spec);
  spec.clientOrderId ??= randomClientId();
  return orderJson(place(ctx, acct, spec, { test: true }));
}

export function batchOrders(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const list = jsonParam(p, 'batchOrders');
  if (!Array.isArray(list)) throw invalid('batchOrders');
  if (list.length === 0 || list.length > 5) throw apiError(-4082);
  return list.map((item) => {
    const ip = toParams(item);
    if (!ip) {
      acct.stats.rejected++;
      return invalid('batchOrders').toJSON();
    }
    try {
      return newOrderFor(ctx, acct, ip);
    } catch (e) {
      if (e instanceof ApiError) return e.toJSON();
      throw e;
    }
  });
}

/** The order named by orderId (wins) or origClientOrderId; -1102 when neither is sent. */
function lookup(acct: Account, symbol: string, p: Params): Order | undefined {
  const orderId = intParam(p, 'orderId');
  const cid = opt(p, 'origClientOrderId');
  if (orderId === undefined && cid === undefined) throw eitherMissing('orderId', 'origClientOrderId');
  return acct.findOrder(symbol, orderId, orderId === undefined ? cid : undefined);
}

/** Binance forgets CANCELED/EXPIRED orders without fills after 3 days, every order after 90 days. */
export function visible(o: { status: string; executedQty: Decimal; time: number }, now: number): boolean {
  if (
    o.status === 'NEW' ||
    o.status === 'PARTIALLY_FILLED' ||
    o.status === 'TRIGGERING' ||
    o.status === 'TRIGGERED'
  )
    return true;
  if (now - o.time > 90 * DAY_MS) return false;
  if (
    (o.status === 'CANCELED' || o.status === 'EXPIRED') &&
    o.executedQty.isZero() &&
    now - o.time > 3 * DAY_MS
  )
    return false;
  return true;
}

export function modifyOrder(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  return withRejectCount(acct, () => {
    const symbol = need(p, 'symbol');
    need(p, 'side');
    const rules = ctx.needRules(symbol);
    const side = parseSide(p);
    const qty = decimalParam(p, 'quantity', true);
    const priceMatch = enumParam(p, 'priceMatch', PRICE_MATCHES, -1130) ?? 'NONE';
    let price: Decimal;
    if (priceMatch !== 'NONE') {
      if (opt(p, 'price') !== undefined) throw notRequired('price');
      price = resolvePriceMatch(ctx, { symbol, side, priceMatch });
    } else price = decimalParam(p, 'price', true);
    const order = lookup(acct, symbol, p);
    if (!order || !isOpen(order.status)) throw apiError(-2013);
    if (order.type !== 'LIMIT') throw new ApiError(-5025, 'Only limit order is supported.');
    if (side !== order.side) throw invalid('side');

    checkPricePrecision(rules, price);
    checkQtyPrecision(rules, qty, false);
    checkPriceFilter(rules, price);
    checkLotSize(rules, qty, false);
    checkPercentPrice(rules, side, price, ctx.mark(symbol));
    if (!isReducing(acct, order) && !rules.minNotional.isZero() && price.mul(qty).lt(rules.minNotional))
      throw new ApiError(-5029, `Order's notional must be no smaller than ${rules.minNotionalText}`);
    if (price.eq(order.price) && qty.eq(order.origQty) && priceMatch === order.priceMatch)
      throw new ApiError(-5027, 'No need to modify the order.');

    const t = touchOf(ctx.market.bookTicker(symbol));
    const crossing =
      side === 'BUY' ? t.ask.isPositive() && t.ask.lte(price) : t.bid.isPositive() && t.bid.gte(price);
    if (qty.lte(order.executedQty) || (order.timeInForce === 'GTX' && crossing)) {
      finalize(ctx, order, 'CANCELED', '0');
      acct.stats.cancelled++;
      return orderJson(order, { pair: true });
    }

    // margin: the change of open-order margin the new price/quantity causes
    if (!isReducing(acct, order)) {
      const before = openOrderIM(acct, symbol);
      const available = totals(ctx, acct).available;
      const old = { price: order.price, origQty: order.origQty };
      order.price = price;
      order.origQty = qty;
      const delta = openOrderIM(acct, symbol).sub(before);
      order.price = old.price;
      order.origQty = old.origQty;
      if (delta.isPositive() && available.lt(delta)) throw apiError(-2019);
    }

    const now = ctx.now();
    order.price = price;
    order.origQty = qty;
    order.priceMatch = priceMatch;
    order.selfTradePreventionMode = 'NONE';
    order.updateTime = now;
    ctx.events.push(acct.apiKey, orderTradeUpdate(order, 'AMENDMENT', now));
    if (crossing) {
      ctx.removeResting(order);
      const rest = order.origQty.sub(order.executedQty);
      const q = isReducing(acct, order)
        ? Decimal.min(rest, closableQty(acct, symbol, order.side, order.positionSide))
        : rest;
      if (q.isPositive()) takerFill(ctx, order, price, side === 'BUY' ? t.ask : t.bid);
      if (isOpen(order.status)) ctx.addResting(order);
    }
    return orderJson(order, { pair: true });
  });
}

export function cancelOrder(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  ctx.needRules(symbol);
  const order = lookup(acct, symbol, p);
  if (!order || !isOpen(order.status)) throw apiError(-2011);
  finalize(ctx, order, 'CANCELED', '0');
  acct.stats.cancelled++;
  return orderJson(order);
}

export function cancelBatch(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  ctx.needRules(symbol);
  const byId = opt(p, 'orderIdList') !== undefined;
  if (!byId && opt(p, 'origClientOrderIdList') === undefined)
    throw eitherMissing('orderIdList', 'origClientOrderIdList');
  const name = byId ? 'orderIdList' : 'origClientOrderIdList';
  const list = jsonParam(p, name);
  if (!Array.isArray(list) || list.length === 0 || list.length > 10) throw invalid(name);
  const ids = list.map((x) => {
    if (byId) {
      const n = typeof x === 'number' ? x : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : Number.NaN;
      if (!Number.isSafeInteger(n)) throw invalid(name);
      return n;
    }
    if (typeof x !== 'string') throw invalid(name);
    return x;
  });
  return ids.map((id) => {
    const order =
      typeof id === 'number' ? acct.findOrder(symbol, id, undefined) : acct.findOrder(symbol, undefined, id);
    if (!order || !isOpen(order.status)) return apiError(-2011).toJSON();
    finalize(ctx, order, 'CANCELED', '0');
    acct.stats.cancelled++;
    return orderJson(order);
  });
}

export function cancelAllOpen(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  ctx.needRules(symbol);
  const open = acct.open.get(symbol);
  if (open) {
    for (const o of [...open.values()].sort((a, b) => a.orderId - b.orderId)) {
      finalize(ctx, o, 'CANCELED', '0');
      acct.stats.cancelled++;
    }
  }
  return { code: 200, msg: 'The operation of cancel all open order is done.' };
}

export function queryOrder(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  ctx.needRules(symbol);
  const order = lookup(acct, symbol, p);
  if (!order || !visible(order, ctx.now())) throw apiError(-2013);
  return orderJson(order, { time: true });
}

export function queryOpenOrder(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  ctx.needRules(symbol);
  const order = lookup(acct, symbol, p);
  if (!order || !isOpen(order.status)) throw apiError(-2013);
  return orderJson(order, { time: true });
}

export function openOrders(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = opt(p, 'symbol');
  const out: Order[] = [];
  if (symbol !== undefined) {
    ctx.needRules(symbol);
    const m = acct.open.get(symbol);
    if (m) out.push(...m.values());
  } else for (const m of acct.open.values()) out.push(...m.values());
  out.sort((a, b) => a.time - b.time || a.orderId - b.orderId);
  return out.map((o) => orderJson(o, { time: true }));
}

export function allOrders(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = opt(p, 'symbol');
  if (symbol !== undefined) ctx.needRules(symbol);
  const orderId = intParam(p, 'orderId');
  const limit = limitParam(p, 500, 1000);
  const now = ctx.now();
  let list: Order[];
  if (symbol !== undefined) list = acct.orders.get(symbol) ?? [];
  else {
    list = [];
    for (const l of acct.orders.values()) list.push(...l);
    list.sort((a, b) => a.time - b.time || a.orderId - b.orderId);
  }
  list = list.filter((o) => visible(o, now));
  const hasTimes = opt(p, 'startTime') !== undefined || opt(p, 'endTime') !== undefined;
  if (orderId !== undefined) {
    let sel = list.filter((o) => o.orderId >= orderId);
    if (hasTimes) {
      const w = timeWindow(p, now, WEEK_MS, WEEK_MS);
      sel = sel.filter((o) => o.time >= w.start && o.time <= w.end);
    }
    return sel.slice(0, limit).map((o) => orderJson(o, { time: true }));
  }
  const w = timeWindow(p, now, WEEK_MS, WEEK_MS);
  const sel = list.filter((o) => o.time >= w.start && o.time <= w.end);
  const page = w.fromStart ? sel.slice(0, limit) : sel.slice(Math.max(0, sel.length - limit));
  return page.map((o) => orderJson(o, { time: true }));
}

export function userTrades(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  const rules = ctx.needRules(symbol);
  const orderId = intParam(p, 'orderId');
  const fromId = intParam(p, 'fromId');
  const limit = limitParam(p, 500, 1000);
  const hasTimes = opt(p, 'startTime') !== undefined || opt(p, 'endTime') !== undefined;
  if (fromId !== undefined && hasTimes) throw apiError(-1128);
  const now = ctx.now();
  let list = acct.trades.get(symbol) ?? [];
  if (orderId !== undefined) list = list.filter((t) => t.orderId === orderId);
  let page: typeof list;
  if (fromId !== undefined) page = list.filter((t) => t.id >= fromId).slice(0, limit);
  else if (orderId !== undefined && !hasTimes) page = list.slice(0, limit);
  else {
    const w = timeWindow(p, now, WEEK_MS, WEEK_MS);
    const sel = list.filter((t) => t.time >= w.start && t.time <= w.end);
    page = w.fromStart ? sel.slice(0, limit) : sel.slice(Math.max(0, sel.length - limit));
  }
  return page.map((t) => tradeJson(rules, t));
}

function tradeJson(rules: SymbolRules, t: Trade): Record<string, unknown> {
  return {
    buyer: t.side === 'BUY',
    commission: fix8(t.commission),
    commissionAsset: 'USDT',
    id: t.id,
    maker: t.maker,
    orderId: t.orderId,
    price: pad(t.price, rules.pricePrecision),
    qty: pad(t.qty, rules.quantityPrecision),
    quoteQty: plain(t.quoteQty),
    realizedPnl: fix8(t.realizedPnl),
    side: t.side,
    positionSide: t.positionSide,
    symbol: t.symbol,
    time: t.time,
  };
}
