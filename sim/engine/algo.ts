// Algo (conditional) orders, /fapi/v1/algoOrder: validation, the trigger watch on every market
// tick (mark or contract price per workingType, trailing stops track their extreme), and the
// normal order each one places when it triggers. Also triggers pre-2025 conditional orders of
// /fapi/v1/order in legacy mode.

import { D, Decimal } from '../../core/decimal.ts';
import { ApiError, apiError, type BookTicker, type MarketTick, type Params } from '../contracts.ts';
import type { Account } from './account.ts';
import { algoUpdate, orderTradeUpdate } from './events.ts';
import { randomClientId } from './format.ts';
import {
  checkMargin,
  closableQty,
  execute,
  finalize,
  isOpen,
  isReducing,
  makeTrigger,
  type OrderSpec,
  place,
  referencePrice,
  stopCondition,
  touchOf,
} from './matching.ts';
import {
  CLIENT_ID_RE,
  parseGoodTillDate,
  parsePositionSide,
  parseRespType,
  parseSide,
  parseStp,
  parseWorkingType,
  resolvePriceMatch,
  visible,
} from './orders.ts';
import {
  boolParam,
  decimalParam,
  eitherMissing,
  enumParam,
  intParam,
  invalid,
  limitParam,
  need,
  notRequired,
  opt,
  timeWindow,
} from './params.ts';
import { algoJson, algoQueryJson } from './responses.ts';
import {
  checkLotSize,
  checkMinNotional,
  checkPriceFilter,
  checkPricePrecision,
  checkQtyPrecision,
  checkStopPriceFilter,
} from './rules.ts';
import type { Ctx } from './state.ts';
import {
  type AlgoOrder,
  CONDITIONAL_TYPES,
  type ConditionalType,
  type Order,
  PRICE_MATCHES,
  TIFS,
  type TimeInForce,
  type Trigger,
  WEEK_MS,
} from './types.ts';

/** Account-wide limit of open conditional orders (CL 2025-12-29). */
export const MAX_OPEN_ALGO = 200;
/** Price protection threshold (exchangeInfo `triggerProtect`; the spec does not carry it). */
const TRIGGER_PROTECT = D('0.05');
const REDUCE_ONLY_REJECT = 'Reduce Only reject';

export function newAlgoOrder(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  try {
    const algo = parseAlgo(ctx, acct, p);
    acct.algos.set(algo.algoId, algo);
    acct.algoList.push(algo);
    acct.algoClientIds.set(algo.clientAlgoId, algo);
    acct.openAlgos.set(algo.algoId, algo);
    ctx.addTrigger(algo);
    acct.stats.orders++;
    ctx.events.push(acct.apiKey, algoUpdate(algo, algo.createTime));
    return algoJson(algo);
  } catch (e) {
    if (e instanceof ApiError) acct.stats.rejected++;
    throw e;
  }
}

function parseAlgo(ctx: Ctx, acct: Account, p: Params): AlgoOrder {
  const algoType = need(p, 'algoType');
  const symbol = need(p, 'symbol');
  need(p, 'side');
  const typeText = need(p, 'type');
  if (algoType !== 'CONDITIONAL') throw invalid('algoType');
  const rules = ctx.needRules(symbol);
  const side = parseSide(p);
  if (!(CONDITIONAL_TYPES as readonly string[]).includes(typeText)) throw apiError(-1116);
  const type = typeText as ConditionalType;
  const positionSide = parsePositionSide(acct, p);
  const reduceOnlyText = opt(p, 'reduceOnly');
  if (acct.dual && reduceOnlyText !== undefined) throw notRequired('reduceOnly');
  const reduceOnly = boolParam(p, 'reduceOnly') ?? false;
  parseRespType(p);
  const timeInForce: TimeInForce = enumParam(p, 'timeInForce', TIFS, -1115) ?? 'GTC';
  const limitLike = type === 'STOP' || type === 'TAKE_PROFIT';
  const trailing = type === 'TRAILING_STOP_MARKET';

  const closePosition = boolParam(p, 'closePosition') ?? false;
  if (closePosition && type !== 'STOP_MARKET' && type !== 'TAKE_PROFIT_MARKET')
    throw notRequired('closePosition');
  if (closePosition && reduceOnlyText !== undefined) {
    if (reduceOnly) throw notRequired('reduceOnly');
    throw apiError(-4138);
  }
  if (
    closePosition &&
    acct.dual &&
    !isReducing(acct, { side, positionSide, reduceOnly: false, closePosition: false })
  )
    throw apiError(-2022);
  let quantity = Decimal.ZERO;
  if (closePosition) {
    if (opt(p, 'quantity') !== undefined) throw apiError(-4137);
  } else quantity = decimalParam(p, 'quantity', true);

  let triggerPrice = Decimal.ZERO;
  if (!trailing) triggerPrice = decimalParam(p, 'triggerPrice', true);
  const priceMatch = enumParam(p, 'priceMatch', PRICE_MATCHES, -1130) ?? 'NONE';
  let price = Decimal.ZERO;
  if (limitLike) {
    if (priceMatch !== 'NONE') {
      if (opt(p, 'price') !== undefined) throw notRequired('price');
    } else price = decimalParam(p, 'price', true);
  } else if (priceMatch !== 'NONE')
    throw new ApiError(-5038, 'Price match only supports order type: LIMIT, STOP AND TAKE_PROFIT');
  let callbackRate: Decimal | undefined;
  let activatePrice: Decimal | undefined;
  if (trailing) {
    callbackRate = decimalParam(p, 'callbackRate', true);
    if (callbackRate.lt('0.1') || callbackRate.gt('20') || callbackRate.decimalPlaces() > 1)
      throw invalid('callbackRate');
    activatePrice =
      opt(p, 'activatePrice') !== undefined
        ? decimalParam(p, 'activatePrice')
        : decimalParam(p, 'activationPrice');
  }
  const workingType = parseWorkingType(p);
  const priceProtect = boolParam(p, 'priceProtect', true) ?? false;
  const selfTradePreventionMode = parseStp(p);
  const clientAlgoId = opt(p, 'clientAlgoId');
  if (clientAlgoId !== undefined && !CLIENT_ID_RE.test(clientAlgoId)) throw apiError(-4015);
  const goodTillDate = parseGoodTillDate(ctx, p, timeInForce);

  // filters
  if (limitLike && priceMatch === 'NONE') checkPricePrecision(rules, price);
  if (!trailing) checkPricePrecision(rules, triggerPrice);
  if (activatePrice) checkPricePrecision(rules, activatePrice);
  if (!closePosition) checkQtyPrecision(rules, quantity, !limitLike);
  if (limitLike && priceMatch === 'NONE') checkPriceFilter(rules, price);
  if (!trailing) checkStopPriceFilter(rules, triggerPrice);
  if (activatePrice) checkStopPriceFilter(rules, activatePrice);
  if (!closePosition) checkLotSize(rules, quantity, !limitLike);
  const reducing = isReducing(acct, { side, positionSide, reduceOnly, closePosition });
  const ref = referencePrice(ctx, symbol, workingType);
  if (!closePosition && !reducing) {
    const notionalPrice =
      limitLike && priceMatch === 'NONE' ? price : trailing ? (activatePrice ?? ref) : triggerPrice;
    checkMinNotional(rules, notionalPrice, quantity);
  }
  if (acct.openOrderCount(symbol) + acct.openAlgoCount(symbol) >= rules.maxNumOrders) throw apiError(-2025);
  if (acct.openAlgos.size >= MAX_OPEN_ALGO) throw new ApiError(-4045, 'Reach max stop order limit.');
  if (clientAlgoId !== undefined) {
    const prev = acct.algoClientIds.get(clientAlgoId);
    if (prev && prev.status === 'NEW') throw apiError(-4116);
  }
  if (ref.isPositive()) {
    if (!trailing && stopCondition(type, side, ref, triggerPrice)) throw apiError(-2021);
    if (trailing && activatePrice && (side === 'BUY' ? activatePrice.gte(ref) : activatePrice.lte(ref)))
      throw apiError(-2021);
  }

  const now = ctx.now();
  return {
    acct,
    rules,
    symbol,
    algoId: ctx.nextAlgoId(),
    clientAlgoId: clientAlgoId ?? randomClientId(),
    orderType: type,
    side,
    positionSide,
    timeInForce,
    quantity,
    status: 'NEW',
    triggerPrice,
    price,
    priceMatch,
    selfTradePreventionMode,
    workingType,
    closePosition,
    priceProtect,
    reduceOnly,
    activatePrice,
    callbackRate,
    goodTillDate,
    createTime: now,
    updateTime: now,
    triggerTime: 0,
    trigger: makeTrigger(ctx, type, {
      symbol,
      side,
      stopPrice: triggerPrice,
      workingType,
      priceProtect,
      activatePrice,
      callbackRate,
    }),
    reason: '',
  };
}

function lookupAlgo(acct: Account, p: Params): AlgoOrder | undefined {
  const id = intParam(p, 'algoId');
  const cid = opt(p, 'clientAlgoId');
  if (id === undefined && cid === undefined) throw eitherMissing('algoId', 'clientAlgoId');
  return id !== undefined ? acct.algos.get(id) : acct.algoClientIds.get(cid as string);
}

function cancelAlgo(ctx: Ctx, algo: AlgoOrder): void {
  const now = ctx.now();
  ctx.removeTrigger(algo);
  algo.acct.openAlgos.delete(algo.algoId);
  algo.status = 'CANCELED';
  algo.updateTime = now;
  algo.acct.stats.cancelled++;
  ctx.events.push(algo.acct.apiKey, algoUpdate(algo, now));
}

export function cancelAlgoOrder(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const algo = lookupAlgo(acct, p);
  if (algo?.status !== 'NEW') throw apiError(-2011);
  cancelAlgo(ctx, algo);
  return { algoId: algo.algoId, clientAlgoId: algo.clientAlgoId, code: '200', msg: 'success' };
}

export function cancelAllAlgoOpen(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  ctx.needRules(symbol);
  for (const a of [...acct.openAlgos.values()]) if (a.symbol === symbol) cancelAlgo(ctx, a);
  return { code: 200, msg: 'The operation of cancel all open order is done.' };
}

export function queryAlgoOrder(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const algo = lookupAlgo(acct, p);
  if (!algo || !algoVisible(algo, ctx.now())) throw apiError(-2013);
  return algoQueryJson(algo);
}

function algoVisible(a: AlgoOrder, now: number): boolean {
  const filled = a.actual ? a.actual.executedQty : Decimal.ZERO;
  return visible({ status: a.status, executedQty: filled, time: a.createTime }, now);
}

export function openAlgoOrders(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const algoType = opt(p, 'algoType');
  if (algoType !== undefined && algoType !== 'CONDITIONAL') throw invalid('algoType');
  const symbol = opt(p, 'symbol');
  if (symbol !== undefined) ctx.needRules(symbol);
  const algoId = intParam(p, 'algoId');
  const out: AlgoOrder[] = [];
  for (const a of acct.openAlgos.values()) {
    if (symbol !== undefined && a.symbol !== symbol) continue;
    if (algoId !== undefined && a.algoId !== algoId) continue;
    out.push(a);
  }
  out.sort((a, b) => a.algoId - b.algoId);
  return out.map(algoQueryJson);
}

export function allAlgoOrders(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  ctx.needRules(symbol);
  const algoId = intParam(p, 'algoId');
  const limit = limitParam(p, 500, 1000);
  const now = ctx.now();
  const list = acct.algoList.filter((a) => a.symbol === symbol && algoVisible(a, now));
  const hasTimes = opt(p, 'startTime') !== undefined || opt(p, 'endTime') !== undefined;
  if (algoId !== undefined) {
    let sel = list.filter((a) => a.algoId >= algoId);
    if (hasTimes) {
      const w = timeWindow(p, now, WEEK_MS, WEEK_MS);
      sel = sel.filter((a) => a.createTime >= w.start && a.createTime <= w.end);
    }
    return sel.slice(0, limit).map(algoQueryJson);
  }
  const w = timeWindow(p, now, WEEK_MS, WEEK_MS);
  const sel = list.filter((a) => a.createTime >= w.start && a.createTime <= w.end);
  const page = w.fromStart ? sel.slice(0, limit) : sel.slice(Math.max(0, sel.length - limit));
  return page.map(algoQueryJson);
}

// ---- triggers ----

/** Advances a trigger by one observed price; true when it fires. */
function observe(trig: Trigger, price: Decimal): boolean {
  if (trig.type !== 'TRAILING_STOP_MARKET')
    return stopCondition(trig.type, trig.side, price, trig.triggerPrice);
  const buy = trig.side === 'BUY';
  if (!trig.activated) {
    const act = trig.activatePrice as Decimal;
    if (buy ? price.gt(act) : price.lt(act)) return false;
    trig.activated = true;
    trig.extreme = price;
  }
  const ext = trig.extreme as Decimal;
  const rate = (trig.callbackRate as Decimal).div(100, 12);
  if (buy) {
    if (price.lt(ext)) trig.extreme = price;
    return price.gte((trig.extreme as Decimal).mul(Decimal.ONE.add(rate)));
  }
  if (price.gt(ext)) trig.extreme = price;
  return price.lte((trig.extreme as Decimal).mul(Decimal.ONE.sub(rate)));
}

/** Checks every pending trigger of the tick's symbol. */
export function checkTriggers(ctx: Ctx, tick: MarketTick): void {
  const set = ctx.triggers.get(tick.symbol);
  if (!set || set.size === 0) return;
  const mark = D(tick.mark);
  const last = D(tick.last);
  let contract: Decimal[] | undefined;
  const contractPrices = () => {
    if (!contract) {
      contract = tick.trades.map((t) => D(t.price));
      if (contract.length === 0) contract = [last];
    }
    return contract;
  };
  for (const item of [...set]) {
    if (!set.has(item)) continue;
    const trig = item.trigger;
    if (!trig) continue;
    if (trig.priceProtect && mark.isPositive() && last.sub(mark).abs().div(mark, 12).gt(TRIGGER_PROTECT))
      continue;
    const prices = trig.workingType === 'MARK_PRICE' ? [mark] : contractPrices();
    const wasActive = trig.activated;
    let fired = false;
    for (const price of prices) {
      if (observe(trig, price)) {
        fired = true;
        break;
      }
    }
    const isAlgo = 'algoId' in item;
    if (isAlgo && !wasActive && trig.activated) {
      const now = ctx.now();
      item.updateTime = now;
      ctx.events.push(item.acct.apiKey, algoUpdate(item, now));
    }
    if (!fired) continue;
    if (isAlgo) fireAlgo(ctx, item, tick.book);
    else fireLegacy(ctx, item, tick.book);
  }
}

/** An algo order triggered: TRIGGERING, then its order enters (TRIGGERED), FINISHED when that order is final. */
export function fireAlgo(ctx: Ctx, algo: AlgoOrder, book: BookTicker): void {
  const acct = algo.acct;
  const now = ctx.now();
  ctx.removeTrigger(algo);
  acct.openAlgos.delete(algo.algoId);
  algo.status = 'TRIGGERING';
  algo.triggerTime = now;
  algo.updateTime = now;
  ctx.events.push(acct.apiKey, algoUpdate(algo, now));

  let qty = algo.quantity;
  if (isReducing(acct, algo)) {
    const closable = closableQty(acct, algo.symbol, algo.side, algo.positionSide);
    qty = algo.closePosition ? closable : Decimal.min(qty, closable);
    if (!qty.isPositive()) {
      algo.status = 'EXPIRED';
      algo.reason = REDUCE_ONLY_REJECT;
      ctx.events.push(acct.apiKey, algoUpdate(algo, now));
      return;
    }
  }
  const limit = algo.orderType === 'STOP' || algo.orderType === 'TAKE_PROFIT';
  const spec: OrderSpec = {
    rules: algo.rules,
    symbol: algo.symbol,
    side: algo.side,
    positionSide: algo.positionSide,
    type: limit ? 'LIMIT' : 'MARKET',
    timeInForce: limit ? algo.timeInForce : 'GTC',
    price: algo.price,
    qty,
    reduceOnly: algo.reduceOnly,
    closePosition: algo.closePosition,
    stopPrice: algo.triggerPrice,
    workingType: algo.workingType,
    priceProtect: algo.priceProtect,
    priceMatch: algo.priceMatch,
    selfTradePreventionMode: algo.selfTradePreventionMode,
    goodTillDate: algo.goodTillDate,
    clientOrderId: algo.clientAlgoId,
  };
  try {
    if (limit && algo.priceMatch !== 'NONE') spec.price = resolvePriceMatch(ctx, spec);
    place(ctx, acct, spec, {
      algo,
      book,
      beforeAccept: (order) => {
        order.origType = algo.orderType;
        if (algo.orderType === 'TRAILING_STOP_MARKET') {
          order.activatePrice = algo.activatePrice;
          order.priceRate = algo.callbackRate;
        }
        algo.actual = order;
        algo.status = 'TRIGGERED';
        algo.updateTime = now;
        ctx.events.push(acct.apiKey, algoUpdate(algo, now));
      },
    });
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    algo.status = e.code === -2022 ? 'EXPIRED' : 'REJECTED';
    algo.reason = e.code === -2022 ? REDUCE_ONLY_REJECT : e.message;
    algo.updateTime = now;
    ctx.events.push(acct.apiKey, algoUpdate(algo, now));
  }
}

/** A pre-2025 conditional order triggered: it becomes a MARKET/LIMIT order under the same orderId. */
export function fireLegacy(ctx: Ctx, order: Order, book: BookTicker): void {
  const acct = order.acct;
  ctx.removeTrigger(order);
  order.trigger = undefined;
  if (!isOpen(order.status)) return;
  const limit = order.origType === 'STOP' || order.origType === 'TAKE_PROFIT';
  if (isReducing(acct, order)) {
    const closable = closableQty(acct, order.symbol, order.side, order.positionSide);
    if (order.closePosition) order.origQty = closable;
    if (!closable.isPositive()) {
      finalize(ctx, order, 'EXPIRED', '4');
      return;
    }
  } else {
    try {
      checkMargin(
        ctx,
        acct,
        {
          side: order.side,
          positionSide: order.positionSide,
          price: limit ? order.price : touchPrice(order.side, book),
          qty: order.origQty,
        },
        order.symbol,
        order.rules,
      );
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      finalize(ctx, order, 'EXPIRED', '0');
      return;
    }
  }
  const now = ctx.now();
  order.type = limit ? 'LIMIT' : 'MARKET';
  order.updateTime = now;
  ctx.events.push(acct.apiKey, orderTradeUpdate(order, 'NEW', now));
  execute(ctx, order, touchOf(book));
}

function touchPrice(side: 'BUY' | 'SELL', book: BookTicker): Decimal {
  const t = touchOf(book);
  return side === 'BUY' ? t.ask : t.bid;
}
