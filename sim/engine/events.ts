// User-data events: a queue flushed after each engine operation, so listeners always see state
// that is already updated, in order, and a listener that calls back into the engine cannot
// interleave its own events with the ones of the operation in progress.

import { Decimal } from '../../core/decimal.ts';
import type { UserEvent, UserEventListener } from '../contracts.ts';
import { plain } from './format.ts';
import type { AlgoOrder, Fill, Order } from './types.ts';

export class EventQueue {
  private readonly listeners = new Set<UserEventListener>();
  private queue: Array<[string, UserEvent]> = [];
  private flushing = false;

  on(listener: UserEventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  push(apiKey: string, event: UserEvent): void {
    this.queue.push([apiKey, event]);
  }

  /** Delivers everything queued; reentrant calls return at once (the outer loop delivers). */
  flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let i = 0; i < this.queue.length; i++) {
        const [key, event] = this.queue[i];
        for (const l of this.listeners) {
          try {
            l(key, event);
          } catch {
            // a failing listener must not break the engine or starve the others
          }
        }
      }
      this.queue = [];
    } finally {
      this.flushing = false;
    }
  }

  clear(): void {
    this.queue = [];
  }
}

/** Notional of the account's open orders on one side of a symbol (ORDER_TRADE_UPDATE b / a). */
export function sideNotional(order: Order, side: 'BUY' | 'SELL'): string {
  const open = order.acct.open.get(order.symbol);
  if (!open) return '0';
  let n = Decimal.ZERO;
  for (const o of open.values()) {
    if (o.side === side && o.type === 'LIMIT' && !o.trigger)
      n = n.add(o.price.mul(o.origQty.sub(o.executedQty)));
  }
  return plain(n);
}

/** ORDER_TRADE_UPDATE for an order after a change (execution type x). */
export function orderTradeUpdate(order: Order, x: string, now: number, fill?: Fill): UserEvent {
  const avg = order.executedQty.isZero() ? '0' : plain(order.cumQuote.div(order.executedQty, 8));
  const o: Record<string, unknown> = {
    s: order.symbol,
    c: order.clientOrderId,
    S: order.side,
    o: order.type,
    f: order.timeInForce,
    q: plain(order.origQty),
    p: plain(order.price),
    ap: avg,
    sp: plain(order.stopPrice),
    x,
    X: order.status,
    i: order.orderId,
    l: fill ? plain(fill.qty) : '0',
    z: plain(order.executedQty),
    L: fill ? plain(fill.price) : '0',
    N: 'USDT',
    n: fill ? plain(fill.commission) : '0',
    T: now,
    t: fill ? fill.tradeId : 0,
    b: sideNotional(order, 'BUY'),
    a: sideNotional(order, 'SELL'),
    m: fill ? fill.maker : false,
    R: order.reduceOnly,
    wt: order.workingType,
    ot: order.origType,
    ps: order.positionSide,
    cp: order.closePosition,
  };
  if (order.origType === 'TRAILING_STOP_MARKET') {
    o.AP = order.activatePrice ? plain(order.activatePrice) : '0';
    o.cr = order.priceRate ? plain(order.priceRate) : '0';
  }
  o.pP = order.priceProtect;
  o.si = 0;
  o.ss = 0;
  o.rp = fill ? plain(fill.realizedPnl) : '0';
  o.V = order.selfTradePreventionMode;
  o.pm = order.priceMatch;
  o.gtd = order.goodTillDate;
  o.er = order.expireReason;
  return { e: 'ORDER_TRADE_UPDATE', E: now, T: now, o };
}

export function tradeLite(order: Order, fill: Fill, now: number): UserEvent {
  return {
    e: 'TRADE_LITE',
    E: now,
    T: now,
    s: order.symbol,
    q: plain(order.origQty),
    p: plain(order.price),
    m: fill.maker,
    c: order.clientOrderId,
    S: order.side,
    L: plain(fill.price),
    l: plain(fill.qty),
    t: fill.tradeId,
    i: order.orderId,
  };
}

function zeroPadded(text: string): string {
  return text === '0' ? '0.00000' : text;
}

export function algoUpdate(algo: AlgoOrder, now: number): UserEvent {
  const actual = algo.actual;
  const o: Record<string, unknown> = {
    caid: algo.clientAlgoId,
    aid: algo.algoId,
    at: 'CONDITIONAL',
    o: algo.orderType,
    s: algo.symbol,
    S: algo.side,
    ps: algo.positionSide,
    f: algo.timeInForce,
    q: plain(algo.quantity),
    X: algo.status,
    ai: actual ? String(actual.orderId) : '',
    ap: zeroPadded(
      actual && !actual.executedQty.isZero() ? plain(actual.cumQuote.div(actual.executedQty, 8)) : '0',
    ),
    aq: zeroPadded(actual ? plain(actual.executedQty) : '0'),
    act: actual ? actual.type : '0',
    tp: plain(algo.triggerPrice),
    p: plain(algo.price),
    V: algo.selfTradePreventionMode,
    wt: algo.workingType,
    pm: algo.priceMatch,
    cp: algo.closePosition,
    pP: algo.priceProtect,
    R: algo.reduceOnly,
    tt: algo.triggerTime,
    gtd: algo.goodTillDate,
    rm: algo.reason,
  };
  if (algo.orderType === 'TRAILING_STOP_MARKET') o.ia = algo.trigger.activated;
  return { e: 'ALGO_UPDATE', T: now, E: now, o };
}

export function accountConfigUpdate(symbol: string, leverage: number, now: number): UserEvent {
  return { e: 'ACCOUNT_CONFIG_UPDATE', E: now, T: now, ac: { s: symbol, l: leverage } };
}
