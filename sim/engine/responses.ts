// REST response objects for orders and algo orders, field order as Binance sends them and
// decimals padded to the symbol's precision.

import { Decimal } from '../../core/decimal.ts';
import { pad, padMin, plain } from './format.ts';
import type { AlgoOrder, Order } from './types.ts';

function avgPrice(o: Order): Decimal {
  return o.executedQty.isZero() ? Decimal.ZERO : o.cumQuote.div(o.executedQty, 8);
}

export interface OrderView {
  status: Order['status'];
  executedQty: Decimal;
  cumQuote: Decimal;
  updateTime: number;
}

/** The state an order had at acceptance (ACK response). */
export function ackView(o: Order): OrderView {
  return { status: 'NEW', executedQty: Decimal.ZERO, cumQuote: Decimal.ZERO, updateTime: o.time };
}

/**
 * The order object of POST/PUT/DELETE /fapi/v1/order (§8.1); `time` adds the creation time
 * (GET queries), `pair` is added by PUT.
 */
export function orderJson(
  o: Order,
  opts: { time?: boolean; pair?: boolean; view?: OrderView } = {},
): Record<string, unknown> {
  const pp = o.rules.pricePrecision;
  const qp = o.rules.quantityPrecision;
  const v = opts.view ?? o;
  const avg = v.executedQty.isZero() ? Decimal.ZERO : v.cumQuote.div(v.executedQty, 8);
  const out: Record<string, unknown> = { orderId: o.orderId, symbol: o.symbol };
  if (opts.pair) out.pair = o.symbol;
  out.status = v.status;
  out.clientOrderId = o.clientOrderId;
  out.price = pad(o.price, pp);
  out.avgPrice = padMin(avg, pp);
  out.origQty = pad(o.origQty, qp);
  out.executedQty = pad(v.executedQty, qp);
  out.cumQty = pad(v.executedQty, qp);
  out.cumQuote = padMin(v.cumQuote, pp);
  out.timeInForce = o.timeInForce;
  out.type = o.type;
  out.reduceOnly = o.reduceOnly;
  out.closePosition = o.closePosition;
  out.side = o.side;
  out.positionSide = o.positionSide;
  out.stopPrice = pad(o.stopPrice, pp);
  out.workingType = o.workingType;
  out.priceProtect = o.priceProtect;
  out.origType = o.origType;
  if (o.origType === 'TRAILING_STOP_MARKET') {
    out.activatePrice = o.activatePrice ? pad(o.activatePrice, pp) : '';
    out.priceRate = o.priceRate ? plain(o.priceRate) : '';
  }
  out.priceMatch = o.priceMatch;
  out.selfTradePreventionMode = o.selfTradePreventionMode;
  out.goodTillDate = o.goodTillDate;
  if (opts.time) out.time = o.time;
  out.updateTime = v.updateTime;
  return out;
}

/** POST /fapi/v1/algoOrder response (§9.1). */
export function algoJson(a: AlgoOrder): Record<string, unknown> {
  const pp = a.rules.pricePrecision;
  const trailing = a.orderType === 'TRAILING_STOP_MARKET';
  return {
    algoId: a.algoId,
    clientAlgoId: a.clientAlgoId,
    algoType: 'CONDITIONAL',
    orderType: a.orderType,
    symbol: a.symbol,
    side: a.side,
    positionSide: a.positionSide,
    timeInForce: a.timeInForce,
    quantity: pad(a.quantity, a.rules.quantityPrecision),
    algoStatus: a.status,
    triggerPrice: pad(a.triggerPrice, pp),
    price: pad(a.price, pp),
    icebergQuantity: null,
    selfTradePreventionMode: a.selfTradePreventionMode,
    workingType: a.workingType,
    priceMatch: a.priceMatch,
    closePosition: a.closePosition,
    priceProtect: a.priceProtect,
    reduceOnly: a.reduceOnly,
    activatePrice: trailing && a.activatePrice ? pad(a.activatePrice, pp) : '',
    callbackRate: trailing && a.callbackRate ? plain(a.callbackRate) : '',
    createTime: a.createTime,
    updateTime: a.updateTime,
    triggerTime: a.triggerTime,
    goodTillDate: a.goodTillDate,
  };
}

/** GET algoOrder / openAlgoOrders / allAlgoOrders object (§9.2). */
export function algoQueryJson(a: AlgoOrder): Record<string, unknown> {
  const pp = a.rules.pricePrecision;
  const qp = a.rules.quantityPrecision;
  const zeroP = pad(Decimal.ZERO, pp);
  const act = a.actual;
  const trailing = a.orderType === 'TRAILING_STOP_MARKET';
  return {
    algoId: a.algoId,
    clientAlgoId: a.clientAlgoId,
    algoType: 'CONDITIONAL',
    orderType: a.orderType,
    symbol: a.symbol,
    side: a.side,
    positionSide: a.positionSide,
    timeInForce: a.timeInForce,
    quantity: pad(a.quantity, qp),
    algoStatus: a.status,
    actualOrderId: act ? String(act.orderId) : '',
    actualPrice: act ? padMin(avgPrice(act), pp) : zeroP,
    actualType: act ? act.type : '',
    actualQty: act ? pad(act.executedQty, qp) : pad(Decimal.ZERO, qp),
    triggerPrice: pad(a.triggerPrice, pp),
    price: pad(a.price, pp),
    icebergQuantity: null,
    tpTriggerPrice: zeroP,
    tpPrice: zeroP,
    slTriggerPrice: zeroP,
    slPrice: zeroP,
    tpOrderType: '',
    selfTradePreventionMode: a.selfTradePreventionMode,
    workingType: a.workingType,
    priceMatch: a.priceMatch,
    closePosition: a.closePosition,
    priceProtect: a.priceProtect,
    reduceOnly: a.reduceOnly,
    activatePrice: trailing && a.activatePrice ? pad(a.activatePrice, pp) : '',
    callbackRate: trailing && a.callbackRate ? plain(a.callbackRate) : '',
    createTime: a.createTime,
    updateTime: a.updateTime,
    triggerTime: a.triggerTime,
    goodTillDate: a.goodTillDate,
  };
}
