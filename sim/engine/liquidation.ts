// Liquidation and margin calls, checked on every mark-price tick of a symbol for the accounts
// that hold a position on it, and GET /fapi/v1/forceOrders.
//
// A position whose mark price reaches its liquidation price (the price positionRisk shows) is
// closed at once by a forced order (type LIQUIDATION, clientOrderId "autoclose-…") filled at the
// liquidation price: the loss is capped at the margin; a gap beyond it is the insurance fund's.
// Isolated: what is left of the isolated margin (the maintenance margin) is taken as the
// clearance fee (income INSURANCE_CLEAR). Cross: the rest of the wallet stays.
// MARGIN_CALL: a cross account whose maintenance margin reaches MARGIN_CALL_RATIO of its cross
// margin balance gets one event; the next one only after the ratio fell below it again.

import { D, Decimal } from '../../core/decimal.ts';
import { apiError, type MarketTick, type Params, type UserEvent } from '../contracts.ts';
import {
  type Account,
  accountUpdate,
  liquidationPrice,
  type PosView,
  type Totals,
  totals,
} from './account.ts';
import { fix8, pad, padMin, plain } from './format.ts';
import { finalize, isOpen, realizedPnlIncome } from './matching.ts';
import { enumParam, intParam, limitParam, opt } from './params.ts';
import type { Ctx } from './state.ts';
import { type Position, type PositionSide, type Side, type SymbolRules, WEEK_MS } from './types.ts';

/** MARGIN_CALL when cross maintenance margin / cross margin balance reaches this. */
export const MARGIN_CALL_RATIO = D('0.8');

/** A forced (liquidation) order, as GET /fapi/v1/forceOrders lists it. */
export interface ForceOrder {
  rules: SymbolRules;
  symbol: string;
  orderId: number;
  clientOrderId: string;
  side: Side;
  positionSide: PositionSide;
  price: Decimal;
  qty: Decimal;
  time: number;
  autoCloseType: 'LIQUIDATION' | 'ADL';
}

/** Liquidations and margin calls after a tick of `tick.symbol`. */
export function checkLiquidations(ctx: Ctx, tick: MarketTick): void {
  for (const acct of ctx.accounts.values()) {
    let holds = false;
    for (const p of acct.active)
      if (p.symbol === tick.symbol) {
        holds = true;
        break;
      }
    if (!holds) continue;
    if (stillSafe(ctx, acct, tick.symbol)) continue;
    const t = liquidateCrossed(ctx, acct, tick.symbol);
    marginCall(ctx, acct, t);
    remember(ctx, acct, t);
  }
}

/**
 * The cheap path: since the last full check nothing but marks moved (same margin epoch), and the
 * moves of this symbol's positions cannot have used up the slack that check left. A mark move of
 * Δ changes a position's margin balance by |amt|·Δ and its maintenance margin by at most
 * |amt|·Δ·mmr (mmr ≤ 0.5), so 1.6·|amt|·Δ bounds what it costs the tightest of the conditions.
 */
function stillSafe(ctx: Ctx, acct: Account, symbol: string): boolean {
  if (acct.marginCheckEpoch !== ctx.marginEpoch || acct.marginCalled) return false;
  let used = 0;
  for (const p of acct.active) {
    if (p.symbol !== symbol) continue;
    const prev = acct.marginMarks.get(p);
    if (prev === undefined) return false;
    const m = Number(ctx.market.markPrice(symbol));
    used += 1.6 * Math.abs(p.amt.toNumber()) * Math.abs(m - prev);
    acct.marginMarks.set(p, m);
  }
  acct.marginSlack -= used;
  return acct.marginSlack > 0;
}

/** After a full check: the slack to the nearest liquidation or margin-call line, and the marks. */
function remember(ctx: Ctx, acct: Account, t: Totals): void {
  let slack = Number.POSITIVE_INFINITY;
  let crossMm = Decimal.ZERO;
  let anyCross = false;
  acct.marginMarks.clear();
  for (const v of t.views) {
    acct.marginMarks.set(v.pos, v.mark.toNumber());
    if (v.isolated) slack = Math.min(slack, v.pos.isolatedWallet.add(v.upnl).sub(v.mm).toNumber());
    else {
      anyCross = true;
      crossMm = crossMm.add(v.mm);
    }
  }
  if (anyCross) {
    const balance = t.crossWallet.add(t.crossUpnl);
    slack = Math.min(slack, balance.mul(MARGIN_CALL_RATIO).sub(crossMm).toNumber());
  }
  acct.marginSlack = slack * 0.999 - 1e-6;
  acct.marginCheckEpoch = ctx.marginEpoch;
}

/** Whether the mark has reached the liquidation price (long: at or below, short: at or above). */
function crossed(v: PosView, lp: Decimal): boolean {
  if (!lp.isPositive()) return false;
  return v.pos.amt.isPositive() ? v.mark.lte(lp) : v.mark.gte(lp);
}

/**
 * Closes the positions on `symbol` whose mark reached their liquidation price, one at a time (the
 * worst first), recomputing after each: closing one at its liquidation price frees its
 * maintenance margin, which can save the others of a cross account.
 */
function liquidateCrossed(ctx: Ctx, acct: Account, symbol: string): Totals {
  let t = totals(ctx, acct);
  for (let guard = 0; guard < 4; guard++) {
    if (guard > 0) t = totals(ctx, acct);
    let worst: { v: PosView; lp: Decimal } | undefined;
    for (const v of t.views) {
      if (v.pos.symbol !== symbol) continue;
      const lp = liquidationPrice(v, t);
      if (!crossed(v, lp)) continue;
      if (!worst || v.upnl.lt(worst.v.upnl)) worst = { v, lp };
    }
    if (!worst) return t;
    forceClose(ctx, acct, worst.v, worst.lp);
  }
  return totals(ctx, acct);
}

function forceClose(ctx: Ctx, acct: Account, v: PosView, lp: Decimal): void {
  const pos: Position = v.pos;
  const { symbol } = pos;
  const { rules } = v;
  const now = ctx.now();
  const isolated = v.isolated;
  // Open orders of the liquidated position expire first (er 5: expired on account liquidation).
  const open = acct.open.get(symbol);
  if (open)
    for (const o of [...open.values()])
      if (isOpen(o.status) && !o.trigger && o.positionSide === pos.side) finalize(ctx, o, 'EXPIRED', '5');

  // On the tick grid, the last tick at or before it (long) / at or after it (short).
  const price = lp.div(rules.tick, 0, pos.amt.isPositive() ? 'floor' : 'ceil').mul(rules.tick);
  const qty = pos.amt.abs();
  const side: Side = pos.amt.isPositive() ? 'SELL' : 'BUY';
  const realized = price.sub(pos.entryPrice).mul(pos.amt).round(8);
  const orderId = ctx.nextOrderId(symbol);
  const tradeId = ctx.nextTradeId(symbol);
  const clientOrderId = `autoclose-${now}${String(ctx.nextLiquidationSeq() % 1_000_000).padStart(6, '0')}`;
  const isoBefore = pos.isolatedWallet;
  ctx.marginEpoch++;

  pos.amt = Decimal.ZERO;
  pos.entryPrice = Decimal.ZERO;
  pos.openFee = Decimal.ZERO;
  pos.isolatedWallet = Decimal.ZERO;
  pos.cumRealized = pos.cumRealized.add(realized);
  pos.updateTime = now;
  acct.active.delete(pos);
  acct.wallet = acct.wallet.add(realized);
  acct.updateTime = now;

  acct.addTrade({
    id: tradeId,
    symbol,
    orderId,
    side,
    positionSide: pos.side,
    price,
    qty,
    quoteQty: price.mul(qty),
    commission: Decimal.ZERO,
    realizedPnl: realized,
    maker: false,
    time: now,
  });
  realizedPnlIncome(ctx, acct, symbol, realized, tradeId, now);
  const fo: ForceOrder = {
    rules,
    symbol,
    orderId,
    clientOrderId,
    side,
    positionSide: pos.side,
    price,
    qty,
    time: now,
    autoCloseType: 'LIQUIDATION',
  };
  acct.forceOrders.push(fo);

  ctx.events.push(acct.apiKey, liquidationOrderUpdate(fo, now, undefined));
  ctx.events.push(acct.apiKey, liquidationOrderUpdate(fo, now, { tradeId, realized }));
  ctx.events.push(acct.apiKey, accountUpdate(ctx, acct, 'ORDER', [pos], Decimal.ZERO, now));

  if (isolated) {
    // What is left of the isolated margin (its maintenance margin) goes to the insurance fund.
    const left = isoBefore.add(realized);
    if (left.isPositive()) {
      const fee = left.round(8);
      acct.wallet = acct.wallet.sub(fee);
      acct.income.push({
        symbol,
        incomeType: 'INSURANCE_CLEAR',
        income: fee.neg(),
        asset: 'USDT',
        info: 'INSURANCE_CLEAR',
        time: now,
        tranId: ctx.nextTranId('INSURANCE_CLEAR'),
        tradeId: '',
      });
      ctx.events.push(acct.apiKey, accountUpdate(ctx, acct, 'INSURANCE_CLEAR', [], fee.neg(), now));
    }
  }
}

/** ORDER_TRADE_UPDATE of a forced order: NEW, then its execution (x CALCULATED, X FILLED). */
function liquidationOrderUpdate(
  fo: ForceOrder,
  now: number,
  fill: { tradeId: number; realized: Decimal } | undefined,
): UserEvent {
  return {
    e: 'ORDER_TRADE_UPDATE',
    E: now,
    T: now,
    o: {
      s: fo.symbol,
      c: fo.clientOrderId,
      S: fo.side,
      o: 'LIQUIDATION',
      f: 'IOC',
      q: plain(fo.qty),
      p: plain(fo.price),
      ap: fill ? plain(fo.price) : '0',
      sp: '0',
      x: fill ? 'CALCULATED' : 'NEW',
      X: fill ? 'FILLED' : 'NEW',
      i: fo.orderId,
      l: fill ? plain(fo.qty) : '0',
      z: fill ? plain(fo.qty) : '0',
      L: fill ? plain(fo.price) : '0',
      N: 'USDT',
      n: '0',
      T: now,
      t: fill ? fill.tradeId : 0,
      b: '0',
      a: '0',
      m: false,
      R: false,
      wt: 'CONTRACT_PRICE',
      ot: 'LIQUIDATION',
      ps: fo.positionSide,
      cp: false,
      pP: false,
      si: 0,
      ss: 0,
      rp: fill ? plain(fill.realized) : '0',
      V: 'NONE',
      pm: 'NONE',
      gtd: 0,
      er: '0',
    },
  };
}

/** MARGIN_CALL once per crossing of MARGIN_CALL_RATIO by a cross account. */
function marginCall(ctx: Ctx, acct: Account, t: Totals): void {
  const cross = t.views.filter((v) => !v.isolated);
  let mm = Decimal.ZERO;
  for (const v of cross) mm = mm.add(v.mm);
  const balance = t.crossWallet.add(t.crossUpnl);
  const high = cross.length > 0 && (!balance.isPositive() || mm.gte(balance.mul(MARGIN_CALL_RATIO)));
  if (!high) {
    acct.marginCalled = false;
    return;
  }
  if (acct.marginCalled) return;
  acct.marginCalled = true;
  const now = ctx.now();
  ctx.events.push(acct.apiKey, {
    e: 'MARGIN_CALL',
    E: now,
    cw: fix8(t.crossWallet),
    p: cross.map((v) => ({
      s: v.pos.symbol,
      ps: v.pos.side,
      pa: plain(v.pos.amt),
      mt: 'CROSSED',
      iw: '0',
      mp: plain(v.mark),
      up: fix8(v.upnl),
      mm: fix8(v.mm),
    })),
  });
}

/**
 * GET /fapi/v1/forceOrders: symbol, autoCloseType (LIQUIDATION | ADL), startTime, endTime, limit
 * (default 50, max 100). No times: the last 7 days. Newest first, as Binance answers.
 */
export function forceOrders(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = opt(p, 'symbol');
  if (symbol !== undefined) ctx.needRules(symbol);
  const type = enumParam(p, 'autoCloseType', ['LIQUIDATION', 'ADL'] as const, -1130);
  const s = intParam(p, 'startTime');
  const e = intParam(p, 'endTime');
  if (s !== undefined && e !== undefined && s > e) throw apiError(-1023);
  const now = ctx.now();
  const end = e ?? (s !== undefined ? Number.MAX_SAFE_INTEGER : now);
  const start = s ?? end - WEEK_MS;
  const limit = limitParam(p, 50, 100);
  return acct.forceOrders
    .filter(
      (f) =>
        f.time >= start &&
        f.time <= end &&
        (symbol === undefined || f.symbol === symbol) &&
        (type === undefined || f.autoCloseType === type),
    )
    .sort((a, b) => b.time - a.time || b.orderId - a.orderId)
    .slice(0, limit)
    .map(forceOrderJson);
}

function forceOrderJson(f: ForceOrder): Record<string, unknown> {
  const pp = f.rules.pricePrecision;
  const qp = f.rules.quantityPrecision;
  return {
    orderId: f.orderId,
    symbol: f.symbol,
    status: 'FILLED',
    clientOrderId: f.clientOrderId,
    price: pad(f.price, pp),
    avgPrice: padMin(f.price, pp),
    origQty: pad(f.qty, qp),
    executedQty: pad(f.qty, qp),
    cumQuote: padMin(f.price.mul(f.qty), pp),
    timeInForce: 'IOC',
    type: 'LIMIT',
    reduceOnly: false,
    closePosition: false,
    side: f.side,
    positionSide: f.positionSide,
    stopPrice: '0',
    workingType: 'CONTRACT_PRICE',
    origType: 'LIMIT',
    time: f.time,
    updateTime: f.time,
  };
}
