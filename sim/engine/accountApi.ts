// Account and position endpoints (§10): account v2/v3, balance, positionRisk v2/v3, settings.

import { Decimal } from '../../core/decimal.ts';
import { ApiError, apiError, type Params } from '../contracts.ts';
import {
  type Account,
  breakEven,
  liquidationPrice,
  type PosView,
  posView,
  type Totals,
  totals,
} from './account.ts';
import { accountConfigUpdate } from './events.ts';
import { accountAlias, fix8, pad, plain, posPrice, zeroOr8 } from './format.ts';
import { boolParam, intParam, invalid, need, opt } from './params.ts';
import { MAX_LEVERAGE, maxNotional } from './rules.ts';
import type { Ctx } from './state.ts';
import type { Position, PositionSide, SymbolRules } from './types.ts';

/** Per (symbol, side) figures the position rows need. */
interface Row {
  rules: SymbolRules;
  side: PositionSide;
  pos: Position | undefined;
  view: PosView | undefined;
  oim: Decimal;
  bid: Decimal;
  ask: Decimal;
}

function openNotional(acct: Account, symbol: string, side: PositionSide): { bid: Decimal; ask: Decimal } {
  let bid = Decimal.ZERO;
  let ask = Decimal.ZERO;
  const m = acct.open.get(symbol);
  if (m)
    for (const o of m.values()) {
      if (!o.resting || (acct.dual && o.positionSide !== side)) continue;
      const n = o.price.mul(o.origQty.sub(o.executedQty));
      if (o.side === 'BUY') bid = bid.add(n);
      else ask = ask.add(n);
    }
  return { bid, ask };
}

/** Open-order margin of one row: the symbol's (one-way) or that side's opening orders (hedge). */
function rowOim(acct: Account, symbol: string, side: PositionSide, t: Totals): Decimal {
  if (!acct.dual) return t.oimBySymbol.get(symbol) ?? Decimal.ZERO;
  const m = acct.open.get(symbol);
  if (!m || m.size === 0) return Decimal.ZERO;
  let n = Decimal.ZERO;
  for (const o of m.values()) {
    const opening =
      (o.side === 'BUY' && o.positionSide === 'LONG') || (o.side === 'SELL' && o.positionSide === 'SHORT');
    if (o.resting && opening && o.positionSide === side) n = n.add(o.price.mul(o.origQty.sub(o.executedQty)));
  }
  return n.div(acct.cfg(symbol).leverage, 12);
}

function row(acct: Account, rules: SymbolRules, side: PositionSide, t: Totals): Row {
  const pos = acct.peekPosition(rules.symbol, side);
  const view = pos && !pos.amt.isZero() ? t.views.find((v) => v.pos === pos) : undefined;
  const hasOrders = acct.open.get(rules.symbol)?.size;
  const { bid, ask } = hasOrders
    ? openNotional(acct, rules.symbol, side)
    : { bid: Decimal.ZERO, ask: Decimal.ZERO };
  return {
    rules,
    side,
    pos,
    view,
    oim: hasOrders ? rowOim(acct, rules.symbol, side, t) : Decimal.ZERO,
    bid,
    ask,
  };
}

function assetJson(acct: Account, t: Totals, withMarginAvailable: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    asset: 'USDT',
    walletBalance: fix8(t.wallet),
    unrealizedProfit: fix8(t.upnl),
    marginBalance: fix8(t.wallet.add(t.upnl)),
    maintMargin: fix8(t.mm),
    initialMargin: fix8(t.pim.add(t.oim)),
    positionInitialMargin: fix8(t.pim),
    openOrderInitialMargin: fix8(t.oim),
    crossWalletBalance: fix8(t.crossWallet),
    crossUnPnl: fix8(t.crossUpnl),
    availableBalance: fix8(t.available),
    maxWithdrawAmount: fix8(t.maxWithdraw),
  };
  if (withMarginAvailable) out.marginAvailable = true;
  out.updateTime = acct.updateTime;
  return out;
}

function totalsJson(t: Totals): Record<string, unknown> {
  return {
    totalInitialMargin: fix8(t.pim.add(t.oim)),
    totalMaintMargin: fix8(t.mm),
    totalWalletBalance: fix8(t.wallet),
    totalUnrealizedProfit: fix8(t.upnl),
    totalMarginBalance: fix8(t.wallet.add(t.upnl)),
    totalPositionInitialMargin: fix8(t.pim),
    totalOpenOrderInitialMargin: fix8(t.oim),
    totalCrossWalletBalance: fix8(t.crossWallet),
    totalCrossUnPnl: fix8(t.crossUpnl),
    availableBalance: fix8(t.available),
    maxWithdrawAmount: fix8(t.maxWithdraw),
  };
}

const maxNotionalText = new Map<string, string>();
function maxNotionalOf(rules: SymbolRules, leverage: number): string {
  const key = `${rules.symbol}|${leverage}`;
  let s = maxNotionalText.get(key);
  if (s === undefined) {
    s = maxNotional(rules, leverage).toString();
    maxNotionalText.set(key, s);
  }
  return s;
}

function allRules(ctx: Ctx): SymbolRules[] {
  const out: SymbolRules[] = [];
  for (const spec of ctx.market.specs()) {
    const r = ctx.rules(spec.symbol);
    if (r) out.push(r);
  }
  return out;
}

export function accountV2(ctx: Ctx, apiKey: string, _p: Params): unknown {
  const acct = ctx.account(apiKey);
  const t = totals(ctx, acct);
  const positions: Record<string, unknown>[] = [];
  const sides = acct.sides();
  for (const rules of allRules(ctx)) {
    const cfg = acct.peekCfg(rules.symbol);
    const leverage = cfg?.leverage ?? 20;
    for (const side of sides) {
      const r = row(acct, rules, side, t);
      const pim = r.view?.pim ?? Decimal.ZERO;
      positions.push({
        symbol: rules.symbol,
        initialMargin: zeroOr8(pim.add(r.oim)),
        maintMargin: zeroOr8(r.view?.mm ?? Decimal.ZERO),
        unrealizedProfit: fix8(r.view?.upnl ?? Decimal.ZERO),
        positionInitialMargin: zeroOr8(pim),
        openOrderInitialMargin: zeroOr8(r.oim),
        leverage: String(leverage),
        isolated: cfg?.isolated ?? false,
        entryPrice: posPrice(r.pos?.entryPrice ?? Decimal.ZERO),
        breakEvenPrice: posPrice(r.pos ? breakEven(r.pos) : Decimal.ZERO),
        maxNotional: maxNotionalOf(rules, leverage),
        bidNotional: plain(r.bid),
        askNotional: plain(r.ask),
        positionSide: side,
        positionAmt: pad(r.pos?.amt ?? Decimal.ZERO, rules.quantityPrecision),
        updateTime: r.pos?.updateTime ?? 0,
      });
    }
  }
  return {
    feeTier: 0,
    feeBurn: false,
    canTrade: true,
    canDeposit: true,
    canWithdraw: true,
    updateTime: 0,
    multiAssetsMargin: false,
    tradeGroupId: -1,
    ...totalsJson(t),
    assets: [assetJson(acct, t, true)],
    positions,
  };
}

/** (symbol, side) pairs with a position or open orders, in universe order. */
function busyRows(ctx: Ctx, acct: Account, symbol: string | undefined): Array<[SymbolRules, PositionSide]> {
  const busy = acct.busySymbols();
  const out: Array<[SymbolRules, PositionSide]> = [];
  const list =
    symbol !== undefined ? [ctx.needRules(symbol)] : allRules(ctx).filter((r) => busy.has(r.symbol));
  for (const rules of list) {
    if (!busy.has(rules.symbol)) continue;
    for (const side of acct.sides()) {
      if (!acct.posAmt(rules.symbol, side).isZero() || acct.hasOpenOrdersOn(rules.symbol, side))
        out.push([rules, side]);
    }
  }
  return out;
}

export function accountV3(ctx: Ctx, apiKey: string, _p: Params): unknown {
  const acct = ctx.account(apiKey);
  const t = totals(ctx, acct);
  const positions = busyRows(ctx, acct, undefined).map(([rules, side]) => {
    const r = row(acct, rules, side, t);
    const isolated = acct.peekCfg(rules.symbol)?.isolated ?? false;
    const iw = r.pos?.isolatedWallet ?? Decimal.ZERO;
    const upnl = r.view?.upnl ?? Decimal.ZERO;
    const pim = r.view?.pim ?? Decimal.ZERO;
    return {
      symbol: rules.symbol,
      positionSide: side,
      positionAmt: pad(r.pos?.amt ?? Decimal.ZERO, rules.quantityPrecision),
      unrealizedProfit: fix8(upnl),
      isolatedMargin: fix8(isolated ? iw.add(upnl) : Decimal.ZERO),
      notional: zeroOr8(r.view?.notional ?? Decimal.ZERO),
      isolatedWallet: zeroOr8(iw),
      initialMargin: fix8(pim.add(r.oim)),
      maintMargin: fix8(r.view?.mm ?? Decimal.ZERO),
      updateTime: r.pos?.updateTime ?? 0,
    };
  });
  return { ...totalsJson(t), assets: [assetJson(acct, t, false)], positions };
}

export function balance(ctx: Ctx, apiKey: string, _p: Params): unknown {
  const acct = ctx.account(apiKey);
  const t = totals(ctx, acct);
  return [
    {
      accountAlias: accountAlias(apiKey),
      asset: 'USDT',
      balance: fix8(t.wallet),
      crossWalletBalance: fix8(t.crossWallet),
      crossUnPnl: fix8(t.crossUpnl),
      availableBalance: fix8(t.available),
      maxWithdrawAmount: fix8(t.maxWithdraw),
      marginAvailable: true,
      updateTime: acct.updateTime,
    },
  ];
}

export function positionRiskV2(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = opt(p, 'symbol');
  const list = symbol !== undefined ? [ctx.needRules(symbol)] : allRules(ctx);
  const t = totals(ctx, acct);
  const out: Record<string, unknown>[] = [];
  for (const rules of list) {
    const cfg = acct.peekCfg(rules.symbol);
    const leverage = cfg?.leverage ?? 20;
    const isolated = cfg?.isolated ?? false;
    const mark = Decimal.parse(ctx.market.markPrice(rules.symbol));
    for (const side of acct.sides()) {
      const pos = acct.peekPosition(rules.symbol, side);
      const v = pos && !pos.amt.isZero() ? posView(ctx, acct, pos, mark) : undefined;
      const iw = pos?.isolatedWallet ?? Decimal.ZERO;
      const upnl = v?.upnl ?? Decimal.ZERO;
      out.push({
        entryPrice: posPrice(pos?.entryPrice ?? Decimal.ZERO),
        breakEvenPrice: posPrice(pos ? breakEven(pos) : Decimal.ZERO),
        marginType: isolated ? 'isolated' : 'cross',
        isAutoAddMargin: 'false',
        isolatedMargin: fix8(isolated ? iw.add(upnl) : Decimal.ZERO),
        leverage: String(leverage),
        liquidationPrice: zeroOr8(v ? liquidationPrice(v, t) : Decimal.ZERO),
        markPrice: fix8(mark),
        maxNotionalValue: maxNotionalOf(rules, leverage),
        positionAmt: pad(pos?.amt ?? Decimal.ZERO, rules.quantityPrecision),
        notional: zeroOr8(v?.notional ?? Decimal.ZERO),
        isolatedWallet: zeroOr8(iw),
        symbol: rules.symbol,
        unRealizedProfit: fix8(upnl),
        positionSide: side,
        updateTime: pos?.updateTime ?? 0,
      });
    }
  }
  return out;
}

export function positionRiskV3(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = opt(p, 'symbol');
  const t = totals(ctx, acct);
  return busyRows(ctx, acct, symbol).map(([rules, side]) => {
    const r = row(acct, rules, side, t);
    const isolated = acct.peekCfg(rules.symbol)?.isolated ?? false;
    const mark = r.view?.mark ?? Decimal.parse(ctx.market.markPrice(rules.symbol));
    const iw = r.pos?.isolatedWallet ?? Decimal.ZERO;
    const upnl = r.view?.upnl ?? Decimal.ZERO;
    const pim = r.view?.pim ?? Decimal.ZERO;
    return {
      symbol: rules.symbol,
      positionSide: side,
      positionAmt: pad(r.pos?.amt ?? Decimal.ZERO, rules.quantityPrecision),
      entryPrice: posPrice(r.pos?.entryPrice ?? Decimal.ZERO),
      breakEvenPrice: posPrice(r.pos ? breakEven(r.pos) : Decimal.ZERO),
      markPrice: fix8(mark),
      unRealizedProfit: fix8(upnl),
      liquidationPrice: zeroOr8(r.view ? liquidationPrice(r.view, t) : Decimal.ZERO),
      isolatedMargin: fix8(isolated ? iw.add(upnl) : Decimal.ZERO),
      notional: zeroOr8(r.view?.notional ?? Decimal.ZERO),
      marginAsset: 'USDT',
      isolatedWallet: zeroOr8(iw),
      initialMargin: fix8(pim.add(r.oim)),
      maintMargin: fix8(r.view?.mm ?? Decimal.ZERO),
      positionInitialMargin: fix8(pim),
      openOrderInitialMargin: fix8(r.oim),
      adl: r.view ? 2 : 0,
      bidNotional: plain(r.bid),
      askNotional: plain(r.ask),
      updateTime: r.pos?.updateTime ?? 0,
    };
  });
}

export function accountConfig(ctx: Ctx, apiKey: string, _p: Params): unknown {
  const acct = ctx.account(apiKey);
  return {
    feeTier: 0,
    canTrade: true,
    canDeposit: true,
    canWithdraw: true,
    dualSidePosition: acct.dual,
    updateTime: 0,
    multiAssetsMargin: false,
    tradeGroupId: -1,
  };
}

export function symbolConfig(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = opt(p, 'symbol');
  const list = symbol !== undefined ? [ctx.needRules(symbol)] : allRules(ctx);
  return list.map((rules) => {
    const cfg = acct.peekCfg(rules.symbol);
    const leverage = cfg?.leverage ?? 20;
    return {
      symbol: rules.symbol,
      marginType: cfg?.isolated ? 'ISOLATED' : 'CROSSED',
      isAutoAddMargin: false,
      leverage,
      maxNotionalValue: maxNotionalOf(rules, leverage),
    };
  });
}

export function setLeverage(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  const text = need(p, 'leverage');
  const rules = ctx.needRules(symbol);
  const leverage = intParam(p, 'leverage', true);
  if (leverage < 1 || leverage > MAX_LEVERAGE) throw apiError(-4028, text);
  const cfg = acct.cfg(symbol);
  const positions = acct
    .sides()
    .map((s) => acct.peekPosition(symbol, s))
    .filter((x): x is Position => x !== undefined && !x.amt.isZero());
  if (cfg.isolated && leverage < cfg.leverage && positions.length > 0)
    throw new ApiError(
      -4161,
      'Leverage reduction is not supported in Isolated Margin Mode with open positions',
    );
  const cap = maxNotional(rules, leverage);
  for (const pos of positions) {
    if (pos.amt.abs().mul(ctx.mark(symbol)).gt(cap)) throw apiError(-2027);
  }
  cfg.leverage = leverage;
  const now = ctx.now();
  ctx.events.push(acct.apiKey, accountConfigUpdate(symbol, leverage, now));
  return { leverage, maxNotionalValue: cap.toString(), symbol };
}

export function setMarginType(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  const typeText = need(p, 'marginType').toUpperCase();
  ctx.needRules(symbol);
  if (typeText !== 'ISOLATED' && typeText !== 'CROSSED') throw invalid('marginType');
  const isolated = typeText === 'ISOLATED';
  const cfg = acct.cfg(symbol);
  if (cfg.isolated === isolated) throw apiError(-4046);
  if (acct.hasOpenOrders(symbol)) throw apiError(-4047);
  for (const s of acct.sides()) if (!acct.posAmt(symbol, s).isZero()) throw apiError(-4048);
  cfg.isolated = isolated;
  return { code: 200, msg: 'success' };
}

export function setPositionMode(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  need(p, 'dualSidePosition');
  const dual = boolParam(p, 'dualSidePosition', true) as boolean;
  if (dual === acct.dual) throw apiError(-4059);
  if (acct.hasOpenOrders()) throw apiError(-4067);
  if (acct.active.size > 0) throw apiError(-4068);
  acct.dual = dual;
  return { code: 200, msg: 'success' };
}

export function getPositionMode(ctx: Ctx, apiKey: string, _p: Params): unknown {
  return { dualSidePosition: ctx.account(apiKey).dual };
}

export function commissionRate(ctx: Ctx, apiKey: string, p: Params): unknown {
  ctx.account(apiKey);
  const symbol = need(p, 'symbol');
  ctx.needRules(symbol);
  return {
    symbol,
    makerCommissionRate: ctx.makerRate.toString(),
    takerCommissionRate: ctx.takerRate.toString(),
  };
}

function bracketsJson(rules: SymbolRules): Record<string, unknown> {
  return {
    symbol: rules.symbol,
    brackets: rules.brackets.map((b) => ({
      bracket: b.bracket,
      initialLeverage: b.initialLeverage,
      notionalCap: b.notionalCap.toNumber(),
      notionalFloor: b.notionalFloor.toNumber(),
      maintMarginRatio: b.maintMarginRatio.toNumber(),
      cum: b.cum.toNumber(),
    })),
  };
}

/** GET /fapi/v1/leverageBracket: an array, or the one object when a symbol is sent. */
export function leverageBracket(ctx: Ctx, apiKey: string, p: Params): unknown {
  ctx.account(apiKey);
  const symbol = opt(p, 'symbol');
  if (symbol !== undefined) return bracketsJson(ctx.needRules(symbol));
  return allRules(ctx).map(bracketsJson);
}

export function multiAssetsMargin(ctx: Ctx, apiKey: string, _p: Params): unknown {
  ctx.account(apiKey);
  return { multiAssetsMargin: false };
}
