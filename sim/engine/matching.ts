// Placing, executing and filling orders against the market: MARKET and crossing LIMIT orders
// take liquidity at once, level by level from the market's depth book (one trade per level, the
// levels taken are consumed until the book refreshes); the rest rest on the book and
// fill as maker at their limit when a market trade prints through them. Each fill moves the
// position, the wallet (realized PnL, commission), the trade and income ledgers, and emits the
// user-data events after the state has changed.

import { Decimal } from '../../core/decimal.ts';
import { apiError, type BookTicker, type MarketTick } from '../contracts.ts';
import { type Account, accountUpdate, type Hypothetical, openOrderIM, totals } from './account.ts';
import { algoUpdate, orderTradeUpdate, tradeLite } from './events.ts';
import { parseDecimal } from './params.ts';
import { maxNotional } from './rules.ts';
import type { Ctx } from './state.ts';
import {
  type AlgoOrder,
  CONDITIONAL_TYPES,
  type ConditionalType,
  type Fill,
  type Order,
  type OrderStatus,
  type OrderType,
  type PositionSide,
  type Side,
  type SymbolRules,
  type TimeInForce,
  type Trigger,
  type WorkingType,
} from './types.ts';

/** A validated order request. */
export interface OrderSpec {
  rules: SymbolRules;
  symbol: string;
  side: Side;
  positionSide: PositionSide;
  type: OrderType;
  timeInForce: TimeInForce;
  /** Zero for MARKET (and conditional market types). */
  price: Decimal;
  /** Zero with closePosition. */
  qty: Decimal;
  reduceOnly: boolean;
  closePosition: boolean;
  stopPrice: Decimal;
  workingType: WorkingType;
  priceProtect: boolean;
  priceMatch: string;
  selfTradePreventionMode: string;
  goodTillDate: number;
  clientOrderId?: string;
  activatePrice?: Decimal;
  callbackRate?: Decimal;
}

export interface PlaceOptions {
  /** The algo order this order is placed for (on trigger). */
  algo?: AlgoOrder;
  book?: BookTicker;
  /** Called with the accepted order just before its NEW event. */
  beforeAccept?: (order: Order) => void;
  /** Validate and answer, but record and execute nothing (POST /fapi/v1/order/test). */
  test?: boolean;
}

export function isOpen(status: OrderStatus): boolean {
  return status === 'NEW' || status === 'PARTIALLY_FILLED';
}

export function isConditional(type: OrderType): type is ConditionalType {
  return (CONDITIONAL_TYPES as readonly string[]).includes(type);
}

/** The order can only shrink a position: reduceOnly, closePosition, or a hedge-mode closing side. */
export function isReducing(
  acct: Account,
  o: { side: Side; positionSide: PositionSide; reduceOnly: boolean; closePosition: boolean },
): boolean {
  if (o.reduceOnly || o.closePosition) return true;
  return (
    acct.dual &&
    ((o.side === 'SELL' && o.positionSide === 'LONG') || (o.side === 'BUY' && o.positionSide === 'SHORT'))
  );
}

/** How much of the position on this side an order of `side` can close. */
export function closableQty(acct: Account, symbol: string, side: Side, ps: PositionSide): Decimal {
  const pa = acct.posAmt(symbol, ps);
  if (side === 'SELL' && pa.isPositive()) return pa;
  if (side === 'BUY' && pa.isNegative()) return pa.abs();
  return Decimal.ZERO;
}

export interface Touch {
  bid: Decimal;
  ask: Decimal;
}

export function touchOf(book: BookTicker): Touch {
  return {
    bid: parseDecimal(book.bidPrice) ?? Decimal.ZERO,
    ask: parseDecimal(book.askPrice) ?? Decimal.ZERO,
  };
}

function crosses(side: Side, price: Decimal, t: Touch): boolean {
  return side === 'BUY' ? t.ask.isPositive() && t.ask.lte(price) : t.bid.isPositive() && t.bid.gte(price);
}

/** Current trigger reference: mark for MARK_PRICE, last trade for CONTRACT_PRICE. */
export function referencePrice(ctx: Ctx, symbol: string, wt: WorkingType): Decimal {
  return (
    parseDecimal(wt === 'MARK_PRICE' ? ctx.market.markPrice(symbol) : ctx.market.lastPrice(symbol)) ??
    Decimal.ZERO
  );
}

/** Would a STOP/TAKE_PROFIT trigger at this price? (Trailing stops have their own state.) */
export function stopCondition(type: ConditionalType, side: Side, price: Decimal, trigger: Decimal): boolean {
  const stop = type === 'STOP' || type === 'STOP_MARKET';
  if (stop) return side === 'BUY' ? price.gte(trigger) : price.lte(trigger);
  return side === 'BUY' ? price.lte(trigger) : price.gte(trigger);
}

/**
 * Margin check (-2019) and position limit (-2027) for an order that can open exposure: the
 * change of open-order initial margin it causes, plus the taker fee and the open loss against
 * the mark price, must fit the available balance.
 */
export function checkMargin(
  ctx: Ctx,
  acct: Account,
  h: Hypothetical,
  symbol: string,
  rules: SymbolRules,
): void {
  const before = openOrderIM(acct, symbol);
  const after = openOrderIM(acct, symbol, h);
  const notional = h.price.mul(h.qty);
  const mark = ctx.mark(symbol);
  const loss = h.side === 'BUY' ? h.price.sub(mark).mul(h.qty) : mark.sub(h.price).mul(h.qty);
  const required = after.sub(before).add(notional.mul(ctx.takerRate)).add(Decimal.max(Decimal.ZERO, loss));
  if (required.isPositive() && totals(ctx, acct).available.lt(required)) throw apiError(-2019);
  const pa = acct.posAmt(symbol, h.positionSide);
  const next = pa.add(h.side === 'BUY' ? h.qty : h.qty.neg());
  if (
    next.abs().gt(pa.abs()) &&
    next
      .abs()
      .mul(h.price)
      .gt(maxNotional(rules, acct.cfg(symbol).leverage))
  )
    throw apiError(-2027);
}

/**
 * Validates an order against the account and the book, then (unless test) records it, emits NEW
 * and executes it. Throws ApiError before anything is recorded.
 */
export function place(ctx: Ctx, acct: Account, spec: OrderSpec, opts: PlaceOptions = {}): Order {
  const { symbol, rules, side } = spec;
  if (opts.test) return newOrder(ctx, acct, spec, opts, 0);
  const spawned = opts.algo !== undefined;
  if (!spawned && acct.openOrderCount(symbol) + acct.openAlgoCount(symbol) >= rules.maxNumOrders)
    throw apiError(-2025);
  if (!spawned && spec.clientOrderId !== undefined && acct.openClientIds.has(spec.clientOrderId))
    throw apiError(-4116);

  const conditional = isConditional(spec.type);
  const reducing = isReducing(acct, spec);
  const closable = closableQty(acct, symbol, side, spec.positionSide);
  const t = touchOf(opts.book ?? ctx.market.bookTicker(symbol));
  let execPrice = spec.price;
  let fillQty = spec.qty;

  if (conditional) {
    // pre-2025 conditional order on /fapi/v1/order: rejected if it would trigger at once
    if (spec.type !== 'TRAILING_STOP_MARKET') {
      const ref = referencePrice(ctx, symbol, spec.workingType);
      if (ref.isPositive() && stopCondition(spec.type as ConditionalType, side, ref, spec.stopPrice))
        throw apiError(-2021);
    } else if (spec.activatePrice) {
      const ref = referencePrice(ctx, symbol, spec.workingType);
      if (side === 'BUY' ? spec.activatePrice.gte(ref) : spec.activatePrice.lte(ref)) throw apiError(-2021);
    }
  } else {
    if (reducing) {
      if (closable.isZero()) throw apiError(-2022);
      if (!spec.reduceOnly && !spec.closePosition && spec.qty.gt(closable)) throw apiError(-2022);
      fillQty = Decimal.min(spec.qty, closable);
    }
    const isMarket = spec.type === 'MARKET';
    const touch = side === 'BUY' ? t.ask : t.bid;
    const crossing = isMarket ? touch.isPositive() : crosses(side, spec.price, t);
    // What the book holds for it now (levels within the limit), and the average price paid.
    let takeable = Decimal.ZERO;
    if (crossing) {
      const plan = planTake(ctx, symbol, side, fillQty, isMarket ? undefined : spec.price, touch);
      takeable = plan.qty;
      // The part the book cannot take rests at the limit (LIMIT) or expires (MARKET: priced at
      // the last level for the margin check).
      const restPrice = isMarket ? plan.worst : spec.price;
      const rest = spec.qty.sub(plan.qty);
      execPrice = rest.isPositive()
        ? plan.quote.add(restPrice.mul(rest)).div(spec.qty, 12)
        : plan.quote.div(plan.qty, 12);
    }
    if (!reducing) {
      checkMargin(
        ctx,
        acct,
        { side, positionSide: spec.positionSide, price: execPrice, qty: spec.qty },
        symbol,
        rules,
      );
    }
    if (!isMarket && spec.timeInForce === 'GTX' && crossing) throw apiError(-5022);
    if (spec.timeInForce === 'FOK' && (!crossing || fillQty.lt(spec.qty) || takeable.lt(spec.qty)))
      throw apiError(-5021);
  }

  const order = newOrder(ctx, acct, spec, opts, ctx.nextOrderId(symbol));
  const now = order.time;

  acct.recordOrder(order);
  acct.addOpen(order);
  if (conditional) {
    order.trigger = makeTrigger(ctx, spec.type as ConditionalType, spec);
    ctx.addTrigger(order);
    opts.beforeAccept?.(order);
    ctx.events.push(acct.apiKey, orderTradeUpdate(order, 'NEW', now));
    return order;
  }
  opts.beforeAccept?.(order);
  ctx.events.push(acct.apiKey, orderTradeUpdate(order, 'NEW', now));
  execute(ctx, order, t);
  return order;
}

/** The order object for a validated spec (not recorded). */
export function newOrder(
  ctx: Ctx,
  acct: Account,
  spec: OrderSpec,
  opts: PlaceOptions,
  orderId: number,
): Order {
  const now = ctx.now();
  return {
    acct,
    rules: spec.rules,
    symbol: spec.symbol,
    orderId,
    clientOrderId: spec.clientOrderId ?? opts.algo?.clientAlgoId ?? '',
    side: spec.side,
    positionSide: spec.positionSide,
    type: spec.type,
    origType: spec.type,
    timeInForce: spec.timeInForce,
    price: spec.price,
    origQty: spec.qty,
    executedQty: Decimal.ZERO,
    cumQuote: Decimal.ZERO,
    status: 'NEW',
    reduceOnly: spec.reduceOnly,
    closePosition: spec.closePosition,
    stopPrice: spec.stopPrice,
    workingType: spec.workingType,
    priceProtect: spec.priceProtect,
    priceMatch: spec.priceMatch,
    selfTradePreventionMode: spec.selfTradePreventionMode,
    goodTillDate: spec.goodTillDate,
    time: now,
    updateTime: now,
    expireReason: '0',
    activatePrice: spec.type === 'TRAILING_STOP_MARKET' ? spec.activatePrice : undefined,
    priceRate: spec.type === 'TRAILING_STOP_MARKET' ? spec.callbackRate : undefined,
    algo: opts.algo,
    resting: false,
  };
}

export function makeTrigger(
  ctx: Ctx,
  type: ConditionalType,
  s: {
    symbol: string;
    side: Side;
    stopPrice: Decimal;
    workingType: WorkingType;
    priceProtect: boolean;
    activatePrice?: Decimal;
    callbackRate?: Decimal;
  },
): Trigger {
  const trig: Trigger = {
    type,
    side: s.side,
    triggerPrice: s.stopPrice,
    workingType: s.workingType,
    priceProtect: s.priceProtect,
    activatePrice: s.activatePrice,
    callbackRate: s.callbackRate,
    activated: false,
  };
  if (type === 'TRAILING_STOP_MARKET' && !s.activatePrice) {
    trig.activated = true;
    trig.extreme = referencePrice(ctx, s.symbol, s.workingType);
  }
  return trig;
}

/** One price level of the book as a taker meets it. */
export interface Level {
  price: Decimal;
  qty: Decimal;
}

/**
 * The levels a taker on `side` meets, best first: the opposite side of the simulator's depth book
 * (net of what other takers took since it last refreshed), only those at or better than `limit`
 * (undefined: any price), as many as it takes to cover `qty` if the book holds that much. A market
 * without depth offers `qty` at the touch.
 */
export function takerLevels(
  ctx: Ctx,
  symbol: string,
  side: Side,
  qty: Decimal,
  limit: Decimal | undefined,
  touch: Decimal,
): Level[] {
  let out: Level[] = [];
  for (const n of [5, 50, 1000]) {
    const d = ctx.market.depth(symbol, n);
    const raw = side === 'BUY' ? d.asks : d.bids;
    out = [];
    let sum = Decimal.ZERO;
    let enough = false;
    for (const [pt, qt] of raw) {
      const price = parseDecimal(pt);
      const q = parseDecimal(qt);
      if (!price || !q?.isPositive()) continue;
      if (limit && (side === 'BUY' ? price.gt(limit) : price.lt(limit))) {
        enough = true;
        break;
      }
      out.push({ price, qty: q });
      sum = sum.add(q);
      if (sum.gte(qty)) {
        enough = true;
        break;
      }
    }
    if (enough || raw.length < n) break;
  }
  if (out.length === 0 && touch.isPositive()) return [{ price: touch, qty }];
  return out;
}

/** How much of qty the book can take now, what it costs, and the last (worst) price used. */
function planTake(
  ctx: Ctx,
  symbol: string,
  side: Side,
  qty: Decimal,
  limit: Decimal | undefined,
  touch: Decimal,
): { qty: Decimal; quote: Decimal; worst: Decimal } {
  let left = qty;
  let quote = Decimal.ZERO;
  let worst = touch;
  for (const l of takerLevels(ctx, symbol, side, qty, limit, touch)) {
    if (!left.isPositive()) break;
    const q = Decimal.min(left, l.qty);
    quote = quote.add(l.price.mul(q));
    left = left.sub(q);
    worst = l.price;
  }
  return { qty: qty.sub(left), quote, worst };
}

/** Runs an accepted (NEW) order against the book: fill (level by level), rest, or expire. */
export function execute(ctx: Ctx, order: Order, t: Touch): void {
  const touch = order.side === 'BUY' ? t.ask : t.bid;
  if (order.type === 'MARKET') {
    if (touch.isPositive()) takerFill(ctx, order, undefined, touch);
    if (isOpen(order.status)) finalize(ctx, order, 'EXPIRED', isReducing(order.acct, order) ? '4' : '9');
    return;
  }
  if (crosses(order.side, order.price, t)) takerFill(ctx, order, order.price, touch);
  if (!isOpen(order.status)) return;
  if (order.timeInForce === 'IOC' || order.timeInForce === 'FOK') finalize(ctx, order, 'EXPIRED', '2');
  else ctx.addResting(order);
}

function reducibleQty(order: Order): Decimal {
  const rest = order.origQty.sub(order.executedQty);
  if (!isReducing(order.acct, order)) return rest;
  return Decimal.min(rest, closableQty(order.acct, order.symbol, order.side, order.positionSide));
}

/**
 * Takes liquidity for an order, level by level from the depth book up to `limit` (undefined for
 * MARKET): one trade per level, each level consumed in the market's book.
 */
export function takerFill(ctx: Ctx, order: Order, limit: Decimal | undefined, touch: Decimal): void {
  const want = reducibleQty(order);
  if (!want.isPositive()) return;
  for (const l of takerLevels(ctx, order.symbol, order.side, want, limit, touch)) {
    if (!isOpen(order.status)) break;
    const q = Decimal.min(l.qty, reducibleQty(order));
    if (!q.isPositive()) break;
    ctx.market.consume?.(order.symbol, order.side, l.price.toString(), q.toString());
    applyFill(ctx, order, q, l.price, false);
  }
}

/** A resting order the market traded through: fills as maker at its limit price. */
export function makerFill(ctx: Ctx, order: Order): void {
  const qty = reducibleQty(order);
  if (!qty.isPositive()) {
    finalize(ctx, order, 'EXPIRED', '4');
    return;
  }
  applyFill(ctx, order, qty, order.price, true);
}

export function applyFill(ctx: Ctx, order: Order, qty: Decimal, price: Decimal, maker: boolean): void {
  const acct = order.acct;
  const now = ctx.now();
  const symbol = order.symbol;
  ctx.marginEpoch++;
  const pos = acct.position(symbol, order.positionSide);
  const cfg = acct.cfg(symbol);
  const signed = order.side === 'BUY' ? qty : qty.neg();
  const old = pos.amt;
  const oldAbs = old.abs();
  let closeQty = Decimal.ZERO;
  let realized = Decimal.ZERO;
  if (!old.isZero() && old.sign() !== signed.sign()) {
    closeQty = Decimal.min(qty, oldAbs);
    realized = price.sub(pos.entryPrice).mul(closeQty).mul(old.sign()).round(8);
  }
  const commission = price
    .mul(qty)
    .mul(maker ? ctx.makerRate : ctx.takerRate)
    .round(8);
  const next = old.add(signed);
  const margin = (q: Decimal) => (cfg.isolated ? price.mul(q).div(cfg.leverage, 12) : Decimal.ZERO);

  if (closeQty.isZero()) {
    pos.entryPrice = old.isZero()
      ? price
      : pos.entryPrice.mul(oldAbs).add(price.mul(qty)).div(oldAbs.add(qty), 12);
    pos.openFee = pos.openFee.add(commission);
    pos.isolatedWallet = pos.isolatedWallet.add(margin(qty));
  } else {
    const openQty = qty.sub(closeQty);
    const keep = oldAbs.sub(closeQty).div(oldAbs, 18);
    pos.openFee = pos.openFee.mul(keep).round(12);
    pos.isolatedWallet = pos.isolatedWallet.mul(keep).round(12);
    if (next.isZero()) {
      pos.entryPrice = Decimal.ZERO;
      pos.openFee = Decimal.ZERO;
      pos.isolatedWallet = Decimal.ZERO;
    } else if (openQty.isPositive()) {
      pos.entryPrice = price;
      pos.openFee = commission.mul(openQty).div(qty, 12);
      pos.isolatedWallet = margin(openQty);
    }
  }
  pos.amt = next;
  pos.cumRealized = pos.cumRealized.add(realized);
  pos.updateTime = now;
  if (next.isZero()) acct.active.delete(pos);
  else acct.active.add(pos);
  acct.wallet = acct.wallet.add(realized).sub(commission);
  acct.updateTime = now;

  const tradeId = ctx.nextTradeId(symbol);
  acct.addTrade({
    id: tradeId,
    symbol,
    orderId: order.orderId,
    side: order.side,
    positionSide: order.positionSide,
    price,
    qty,
    quoteQty: price.mul(qty),
    commission,
    realizedPnl: realized,
    maker,
    time: now,
  });
  if (!closeQty.isZero()) realizedPnlIncome(ctx, acct, symbol, realized, tradeId, now);
  if (!commission.isZero()) {
    acct.income.push({
      symbol,
      incomeType: 'COMMISSION',
      income: commission.neg(),
      asset: 'USDT',
      info: 'COMMISSION',
      time: now,
      tranId: ctx.nextTranId('COMMISSION'),
      tradeId: String(tradeId),
    });
  }

  order.executedQty = order.executedQty.add(qty);
  order.cumQuote = order.cumQuote.add(price.mul(qty));
  order.updateTime = now;
  const filled = order.executedQty.gte(order.origQty);
  order.status = filled ? 'FILLED' : 'PARTIALLY_FILLED';
  if (filled) {
    acct.removeOpen(order);
    ctx.removeResting(order);
    acct.stats.filled++;
  }
  const fill: Fill = { qty, price, commission, realizedPnl: realized, tradeId, maker };
  ctx.events.push(acct.apiKey, tradeLite(order, fill, now));
  ctx.events.push(acct.apiKey, orderTradeUpdate(order, 'TRADE', now, fill));
  ctx.events.push(acct.apiKey, accountUpdate(ctx, acct, 'ORDER', [pos], Decimal.ZERO, now));
  if (filled && order.algo) finishAlgo(ctx, order.algo);
  expireStaleReduceOnly(ctx, acct, symbol, order.positionSide);
}

/** Reduce-only / closing orders that can no longer reduce anything expire (er 4). */
export function expireStaleReduceOnly(ctx: Ctx, acct: Account, symbol: string, ps: PositionSide): void {
  const open = acct.open.get(symbol);
  if (!open || open.size === 0) return;
  for (const o of [...open.values()]) {
    if (o.positionSide !== ps || o.trigger || !isOpen(o.status) || !isReducing(acct, o)) continue;
    if (closableQty(acct, symbol, o.side, ps).isZero()) finalize(ctx, o, 'EXPIRED', '4');
  }
}

/** Ends an open order as CANCELED or EXPIRED and reports it. */
export function finalize(ctx: Ctx, order: Order, status: 'CANCELED' | 'EXPIRED', er: string): void {
  const now = ctx.now();
  order.status = status;
  order.expireReason = status === 'EXPIRED' ? er : '0';
  order.updateTime = now;
  order.acct.removeOpen(order);
  ctx.removeResting(order);
  if (order.trigger) {
    ctx.removeTrigger(order);
    order.trigger = undefined;
  }
  ctx.events.push(
    order.acct.apiKey,
    orderTradeUpdate(order, status === 'CANCELED' ? 'CANCELED' : 'EXPIRED', now),
  );
  if (order.algo) finishAlgo(ctx, order.algo);
}

/** The order an algo order placed is final: the algo order is FINISHED. */
export function finishAlgo(ctx: Ctx, algo: AlgoOrder): void {
  if (algo.status !== 'TRIGGERED' && algo.status !== 'TRIGGERING') return;
  const now = ctx.now();
  algo.status = 'FINISHED';
  algo.updateTime = now;
  ctx.events.push(algo.acct.apiKey, algoUpdate(algo, now));
}

/** Resting orders on a symbol against the trades of a tick (and GTD expiry). */
export function matchTick(ctx: Ctx, tick: MarketTick): void {
  const set = ctx.resting.get(tick.symbol);
  if (!set || set.size === 0) return;
  let lo: Decimal | undefined;
  let hi: Decimal | undefined;
  for (const tr of tick.trades) {
    const p = parseDecimal(tr.price);
    if (!p) continue;
    if (!lo || p.lt(lo)) lo = p;
    if (!hi || p.gt(hi)) hi = p;
  }
  const now = ctx.now();
  for (const o of [...set]) {
    if (!isOpen(o.status) || !o.resting) continue;
    if (o.timeInForce === 'GTD' && o.goodTillDate > 0 && o.goodTillDate <= now) {
      finalize(ctx, o, 'EXPIRED', '0');
      continue;
    }
    if (!lo || !hi) continue;
    if (o.side === 'BUY' ? lo.lte(o.price) : hi.gte(o.price)) makerFill(ctx, o);
  }
}

/** The REALIZED_PNL income row of a trade that closed (part of) a position. */
export function realizedPnlIncome(
  ctx: Ctx,
  acct: Account,
  symbol: string,
  realized: Decimal,
  tradeId: number,
  now: number,
): void {
  acct.income.push({
    symbol,
    incomeType: 'REALIZED_PNL',
    income: realized,
    asset: 'USDT',
    info: 'REALIZED_PNL',
    time: now,
    tranId: ctx.nextTranId('REALIZED_PNL'),
    tradeId: String(tradeId),
  });
}
