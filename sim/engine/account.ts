// One account: wallet, per-symbol settings, positions, orders, trades, income, algo orders, and
// the margin arithmetic over them (initial/maintenance margin, available balance, liquidation).

import { D, Decimal } from '../../core/decimal.ts';
import type { AccountConfig, UserEvent } from '../contracts.ts';
import { fix8, plain } from './format.ts';
import type { ForceOrder } from './liquidation.ts';
import { DEFAULT_LEVERAGE, maintMargin } from './rules.ts';
import type { Ctx } from './state.ts';
import type {
  AlgoOrder,
  IncomeRow,
  Order,
  Position,
  PositionSide,
  Side,
  SymbolRules,
  Trade,
} from './types.ts';

export interface SymbolConfig {
  leverage: number;
  isolated: boolean;
}

export interface AccountStatsCounters {
  orders: number;
  cancelled: number;
  rejected: number;
  filled: number;
}

export class Account {
  readonly apiKey: string;
  secret: string;
  startBalance: Decimal;
  wallet: Decimal;
  /** Last change of the wallet (balance updateTime). */
  updateTime = 0;
  dual = false;
  private readonly cfgs = new Map<string, SymbolConfig>();
  readonly positions = new Map<string, Position>();
  /** Positions with a non-zero amount. */
  readonly active = new Set<Position>();
  /** Open normal orders per symbol (orderId → order). */
  readonly open = new Map<string, Map<number, Order>>();
  /** Every order per symbol, ascending orderId. */
  readonly orders = new Map<string, Order[]>();
  /** symbol → clientOrderId → latest order with that id. */
  readonly clientIds = new Map<string, Map<string, Order>>();
  /** clientOrderIds of open orders (uniqueness, -4116). */
  readonly openClientIds = new Map<string, Order>();
  readonly trades = new Map<string, Trade[]>();
  readonly income: IncomeRow[] = [];
  readonly algos = new Map<number, AlgoOrder>();
  /** Every algo order, ascending algoId. */
  readonly algoList: AlgoOrder[] = [];
  readonly algoClientIds = new Map<string, AlgoOrder>();
  readonly openAlgos = new Map<number, AlgoOrder>();
  readonly stats: AccountStatsCounters = { orders: 0, cancelled: 0, rejected: 0, filled: 0 };
  /** Forced (liquidation) orders, oldest first (GET /fapi/v1/forceOrders). */
  readonly forceOrders: ForceOrder[] = [];
  /** A MARGIN_CALL was sent and the margin ratio has not fallen below the threshold since. */
  marginCalled = false;
  /** Liquidation check cache: the ctx.marginEpoch it was computed in (-1: none). */
  marginCheckEpoch = -1;
  /** USDT the marks may still move the account's margins by before a check can find anything. */
  marginSlack = 0;
  /** Mark of each position when the slack was last computed or charged. */
  readonly marginMarks = new Map<Position, number>();

  constructor(cfg: AccountConfig) {
    this.apiKey = cfg.apiKey;
    this.secret = cfg.apiSecret;
    this.startBalance = D(cfg.balance);
    this.wallet = this.startBalance;
  }

  reset(): void {
    this.wallet = this.startBalance;
    this.updateTime = 0;
    this.dual = false;
    this.cfgs.clear();
    this.positions.clear();
    this.active.clear();
    this.open.clear();
    this.orders.clear();
    this.clientIds.clear();
    this.openClientIds.clear();
    this.trades.clear();
    this.income.length = 0;
    this.algos.clear();
    this.algoList.length = 0;
    this.algoClientIds.clear();
    this.openAlgos.clear();
    this.forceOrders.length = 0;
    this.marginCalled = false;
    this.marginCheckEpoch = -1;
    this.marginMarks.clear();
    this.stats.orders = 0;
    this.stats.cancelled = 0;
    this.stats.rejected = 0;
    this.stats.filled = 0;
  }

  cfg(symbol: string): SymbolConfig {
    let c = this.cfgs.get(symbol);
    if (!c) {
      c = { leverage: DEFAULT_LEVERAGE, isolated: false };
      this.cfgs.set(symbol, c);
    }
    return c;
  }

  peekCfg(symbol: string): SymbolConfig | undefined {
    return this.cfgs.get(symbol);
  }

  position(symbol: string, side: PositionSide): Position {
    const key = `${symbol}|${side}`;
    let p = this.positions.get(key);
    if (!p) {
      p = {
        symbol,
        side,
        amt: Decimal.ZERO,
        entryPrice: Decimal.ZERO,
        openFee: Decimal.ZERO,
        cumRealized: Decimal.ZERO,
        isolatedWallet: Decimal.ZERO,
        updateTime: 0,
      };
      this.positions.set(key, p);
    }
    return p;
  }

  peekPosition(symbol: string, side: PositionSide): Position | undefined {
    return this.positions.get(`${symbol}|${side}`);
  }

  posAmt(symbol: string, side: PositionSide): Decimal {
    return this.positions.get(`${symbol}|${side}`)?.amt ?? Decimal.ZERO;
  }

  /** Position sides of the current mode. */
  sides(): PositionSide[] {
    return this.dual ? ['LONG', 'SHORT'] : ['BOTH'];
  }

  openOrderCount(symbol: string): number {
    return this.open.get(symbol)?.size ?? 0;
  }

  openAlgoCount(symbol: string): number {
    let n = 0;
    for (const a of this.openAlgos.values()) if (a.symbol === symbol) n++;
    return n;
  }

  hasOpenOrders(symbol?: string): boolean {
    if (symbol === undefined) {
      for (const m of this.open.values()) if (m.size > 0) return true;
      return this.openAlgos.size > 0;
    }
    return this.openOrderCount(symbol) > 0 || this.openAlgoCount(symbol) > 0;
  }

  /** Open orders (normal or algo) on a symbol and position side. */
  hasOpenOrdersOn(symbol: string, side: PositionSide): boolean {
    const m = this.open.get(symbol);
    if (m) for (const o of m.values()) if (o.positionSide === side) return true;
    for (const a of this.openAlgos.values()) if (a.symbol === symbol && a.positionSide === side) return true;
    return false;
  }

  /** Symbols with a position or open orders, in no particular order. */
  busySymbols(): Set<string> {
    const s = new Set<string>();
    for (const p of this.active) s.add(p.symbol);
    for (const [sym, m] of this.open) if (m.size > 0) s.add(sym);
    for (const a of this.openAlgos.values()) s.add(a.symbol);
    return s;
  }

  recordOrder(order: Order): void {
    let list = this.orders.get(order.symbol);
    if (!list) {
      list = [];
      this.orders.set(order.symbol, list);
    }
    list.push(order);
    let ids = this.clientIds.get(order.symbol);
    if (!ids) {
      ids = new Map();
      this.clientIds.set(order.symbol, ids);
    }
    ids.set(order.clientOrderId, order);
  }

  addOpen(order: Order): void {
    let m = this.open.get(order.symbol);
    if (!m) {
      m = new Map();
      this.open.set(order.symbol, m);
    }
    m.set(order.orderId, order);
    if (!this.openClientIds.has(order.clientOrderId)) this.openClientIds.set(order.clientOrderId, order);
  }

  removeOpen(order: Order): void {
    this.open.get(order.symbol)?.delete(order.orderId);
    if (this.openClientIds.get(order.clientOrderId) === order) this.openClientIds.delete(order.clientOrderId);
  }

  findOrder(symbol: string, orderId: number | undefined, clientId: string | undefined): Order | undefined {
    if (orderId !== undefined) {
      const open = this.open.get(symbol)?.get(orderId);
      if (open) return open;
      const list = this.orders.get(symbol);
      if (!list) return undefined;
      // ascending orderIds: binary search
      let lo = 0;
      let hi = list.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const id = list[mid].orderId;
        if (id === orderId) return list[mid];
        if (id < orderId) lo = mid + 1;
        else hi = mid - 1;
      }
      return undefined;
    }
    if (clientId !== undefined) return this.clientIds.get(symbol)?.get(clientId);
    return undefined;
  }

  addTrade(t: Trade): void {
    let list = this.trades.get(t.symbol);
    if (!list) {
      list = [];
      this.trades.set(t.symbol, list);
    }
    list.push(t);
  }
}

// ---- margin arithmetic ----

export interface PosView {
  pos: Position;
  rules: SymbolRules;
  mark: Decimal;
  /** Signed: amount × mark. */
  notional: Decimal;
  upnl: Decimal;
  leverage: number;
  isolated: boolean;
  /** Initial margin: |notional| / leverage. */
  pim: Decimal;
  mm: Decimal;
}

export function posView(ctx: Ctx, acct: Account, pos: Position, mark?: Decimal): PosView {
  const rules = ctx.needRules(pos.symbol);
  const cfg = acct.cfg(pos.symbol);
  const m = mark ?? (pos.amt.isZero() ? Decimal.ZERO : ctx.mark(pos.symbol));
  const notional = pos.amt.mul(m);
  const upnl = pos.amt.isZero() ? Decimal.ZERO : m.sub(pos.entryPrice).mul(pos.amt);
  return {
    pos,
    rules,
    mark: m,
    notional,
    upnl,
    leverage: cfg.leverage,
    isolated: cfg.isolated,
    pim: notional.abs().div(cfg.leverage, 12),
    mm: maintMargin(rules, notional),
  };
}

/** An order not yet placed, for the margin check. */
export interface Hypothetical {
  side: Side;
  positionSide: PositionSide;
  price: Decimal;
  qty: Decimal;
}

/**
 * Initial margin of the open orders on a symbol. One-way: per side, the part of the orders that
 * would only close the position needs none; the larger side counts. Hedge: opening orders of both
 * sides count. Reduce-only orders need none.
 */
export function openOrderIM(acct: Account, symbol: string, extra?: Hypothetical): Decimal {
  const open = acct.open.get(symbol);
  if ((!open || open.size === 0) && !extra) return Decimal.ZERO;
  const lev = acct.cfg(symbol).leverage;
  if (!acct.dual) {
    let qb = Decimal.ZERO;
    let nb = Decimal.ZERO;
    let qs = Decimal.ZERO;
    let ns = Decimal.ZERO;
    const add = (side: Side, price: Decimal, qty: Decimal) => {
      if (side === 'BUY') {
        qb = qb.add(qty);
        nb = nb.add(price.mul(qty));
      } else {
        qs = qs.add(qty);
        ns = ns.add(price.mul(qty));
      }
    };
    if (open)
      for (const o of open.values())
        if (o.resting && !o.reduceOnly && !o.closePosition)
          add(o.side, o.price, o.origQty.sub(o.executedQty));
    if (extra) add(extra.side, extra.price, extra.qty);
    const pa = acct.posAmt(symbol, 'BOTH');
    const uncovered = (q: Decimal, n: Decimal, cover: Decimal) => {
      if (q.isZero()) return Decimal.ZERO;
      const rest = q.sub(Decimal.min(q, cover));
      return n.mul(rest).div(q, 12);
    };
    const buy = uncovered(qb, nb, pa.isNegative() ? pa.abs() : Decimal.ZERO);
    const sell = uncovered(qs, ns, pa.isPositive() ? pa : Decimal.ZERO);
    return Decimal.max(buy, sell).div(lev, 12);
  }
  let n = Decimal.ZERO;
  const opening = (side: Side, ps: PositionSide) =>
    (side === 'BUY' && ps === 'LONG') || (side === 'SELL' && ps === 'SHORT');
  if (open)
    for (const o of open.values())
      if (o.resting && opening(o.side, o.positionSide)) n = n.add(o.price.mul(o.origQty.sub(o.executedQty)));
  if (extra && opening(extra.side, extra.positionSide)) n = n.add(extra.price.mul(extra.qty));
  return n.div(lev, 12);
}

export interface Totals {
  wallet: Decimal;
  crossWallet: Decimal;
  upnl: Decimal;
  crossUpnl: Decimal;
  /** Initial margin of all positions / of cross positions. */
  pim: Decimal;
  crossPim: Decimal;
  oim: Decimal;
  mm: Decimal;
  available: Decimal;
  maxWithdraw: Decimal;
  views: PosView[];
  oimBySymbol: Map<string, Decimal>;
}

export function totals(ctx: Ctx, acct: Account): Totals {
  let iw = Decimal.ZERO;
  let upnl = Decimal.ZERO;
  let crossUpnl = Decimal.ZERO;
  let pim = Decimal.ZERO;
  let crossPim = Decimal.ZERO;
  let mm = Decimal.ZERO;
  const views: PosView[] = [];
  for (const pos of acct.active) {
    const v = posView(ctx, acct, pos);
    views.push(v);
    upnl = upnl.add(v.upnl);
    pim = pim.add(v.pim);
    mm = mm.add(v.mm);
    if (v.isolated) iw = iw.add(pos.isolatedWallet);
    else {
      crossUpnl = crossUpnl.add(v.upnl);
      crossPim = crossPim.add(v.pim);
    }
  }
  let oim = Decimal.ZERO;
  const oimBySymbol = new Map<string, Decimal>();
  for (const [sym, m] of acct.open) {
    if (m.size === 0) continue;
    const x = openOrderIM(acct, sym);
    oimBySymbol.set(sym, x);
    oim = oim.add(x);
  }
  const crossWallet = acct.wallet.sub(iw);
  const available = crossWallet.add(crossUpnl).sub(crossPim).sub(oim);
  const maxWithdraw = Decimal.max(Decimal.ZERO, available.sub(Decimal.max(Decimal.ZERO, crossUpnl)));
  return {
    wallet: acct.wallet,
    crossWallet,
    upnl,
    crossUpnl,
    pim,
    crossPim,
    oim,
    mm,
    available,
    maxWithdraw,
    views,
    oimBySymbol,
  };
}

/** Cross wallet: wallet minus the isolated wallets. */
export function crossWallet(acct: Account): Decimal {
  let w = acct.wallet;
  for (const p of acct.active) if (!p.isolatedWallet.isZero()) w = w.sub(p.isolatedWallet);
  return w;
}

/**
 * Liquidation price, Binance's one-position formula:
 * LP = (WB − TMM₁ + UPNL₁ + cum − amt × entry) / (|amt| × mmr − amt), where WB is the cross
 * wallet (isolated: the isolated wallet) and TMM₁/UPNL₁ the other cross positions'
 * maintenance margin and unrealized PnL. Zero when it would not be positive.
 */
export function liquidationPrice(v: PosView, t: Totals): Decimal {
  const amt = v.pos.amt;
  if (amt.isZero()) return Decimal.ZERO;
  let wb: Decimal;
  if (v.isolated) wb = v.pos.isolatedWallet;
  else {
    wb = t.crossWallet;
    for (const o of t.views) if (o !== v && !o.isolated) wb = wb.sub(o.mm).add(o.upnl);
  }
  const b = v.rules.brackets.find((x) => v.notional.abs().lt(x.notionalCap)) ?? v.rules.brackets.at(-1)!;
  const den = amt.abs().mul(b.maintMarginRatio).sub(amt);
  if (den.isZero()) return Decimal.ZERO;
  const lp = wb.add(b.cum).sub(amt.mul(v.pos.entryPrice)).div(den, 12);
  return lp.sign() > 0 ? lp.round(8) : Decimal.ZERO;
}

/** Break-even price: entry moved by the commission paid to open. */
export function breakEven(pos: Position): Decimal {
  if (pos.amt.isZero()) return Decimal.ZERO;
  const perUnit = pos.openFee.div(pos.amt.abs(), 12);
  return (pos.amt.isPositive() ? pos.entryPrice.add(perUnit) : pos.entryPrice.sub(perUnit)).round(8);
}

/** ACCOUNT_UPDATE with the USDT balance and the given (changed) positions. */
export function accountUpdate(
  ctx: Ctx,
  acct: Account,
  reason: string,
  positions: Position[],
  balanceChange: Decimal,
  now: number,
): UserEvent {
  const P = positions.map((pos) => {
    const v = posView(ctx, acct, pos);
    return {
      s: pos.symbol,
      pa: plain(pos.amt),
      ep: plain(pos.entryPrice),
      bep: plain(breakEven(pos)),
      cr: plain(pos.cumRealized),
      up: fix8(v.upnl),
      mt: v.isolated ? 'isolated' : 'cross',
      iw: fix8(pos.isolatedWallet),
      ps: pos.side,
    };
  });
  return {
    e: 'ACCOUNT_UPDATE',
    E: now,
    T: now,
    a: {
      m: reason,
      B: [{ a: 'USDT', wb: fix8(acct.wallet), cw: fix8(crossWallet(acct)), bc: plain(balanceChange) }],
      P,
    },
  };
}
