import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Params } from '../contracts.ts';
import { harness, KEY2, market } from './testkit.ts';

type Obj = Record<string, unknown>;

function algo(p: Params): Params {
  return { algoType: 'CONDITIONAL', symbol: 'BTCUSDT', ...p };
}

function algoEvents(h: ReturnType<typeof harness>): Obj[] {
  return h.ev('ALGO_UPDATE').map((e) => e.o as Obj);
}

describe('algo order placement', () => {
  test('response shape §9.1 and ALGO_UPDATE NEW', () => {
    const h = harness();
    const r = h.call(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'TAKE_PROFIT',
        quantity: '0.01',
        price: '61000',
        triggerPrice: '61000',
        clientAlgoId: 'tp-1',
      }),
    );
    assert.deepEqual(Object.keys(r), [
      'algoId',
      'clientAlgoId',
      'algoType',
      'orderType',
      'symbol',
      'side',
      'positionSide',
      'timeInForce',
      'quantity',
      'algoStatus',
      'triggerPrice',
      'price',
      'icebergQuantity',
      'selfTradePreventionMode',
      'workingType',
      'priceMatch',
      'closePosition',
      'priceProtect',
      'reduceOnly',
      'activatePrice',
      'callbackRate',
      'createTime',
      'updateTime',
      'triggerTime',
      'goodTillDate',
    ]);
    assert.equal(r.clientAlgoId, 'tp-1');
    assert.equal(r.algoStatus, 'NEW');
    assert.equal(r.quantity, '0.010');
    assert.equal(r.triggerPrice, '61000.00');
    assert.equal(r.icebergQuantity, null);
    assert.equal(r.activatePrice, '');
    const ev = algoEvents(h);
    assert.equal(ev.length, 1);
    assert.equal(ev[0].X, 'NEW');
    assert.equal(ev[0].aid, r.algoId);
    assert.equal(ev[0].caid, 'tp-1');
    const q = h.call('queryAlgoOrder', { algoId: String(r.algoId) });
    assert.equal(q.actualOrderId, '');
    assert.equal(q.tpTriggerPrice, '0.00');
    assert.equal(h.call('queryAlgoOrder', { clientAlgoId: 'tp-1' }).algoId, r.algoId);
  });

  test('validation codes', () => {
    const h = harness();
    const base = { side: 'SELL', type: 'STOP_MARKET', quantity: '0.01', triggerPrice: '59000' };
    h.fails('newAlgoOrder', { symbol: 'BTCUSDT', ...base }, -1102);
    h.fails('newAlgoOrder', algo({ ...base, algoType: 'TWAP' }), -1130);
    h.fails('newAlgoOrder', algo({ ...base, type: 'LIMIT' }), -1116);
    h.fails('newAlgoOrder', algo({ ...base, side: 'X' }), -1117);
    h.fails('newAlgoOrder', algo({ ...base, symbol: 'NOPE' }), -1121);
    h.fails('newAlgoOrder', algo({ ...base, triggerPrice: '' }), -1102);
    h.fails('newAlgoOrder', algo({ ...base, type: 'STOP' }), -1102);
    h.fails('newAlgoOrder', algo({ ...base, workingType: 'INDEX' }), -1130);
    h.fails('newAlgoOrder', algo({ ...base, clientAlgoId: 'bad id' }), -4015);
    h.fails('newAlgoOrder', algo({ ...base, triggerPrice: '59000.05' }), -4014);
    h.fails('newAlgoOrder', algo({ ...base, quantity: '0.0001' }), -1111);
    h.fails('newAlgoOrder', algo({ ...base, quantity: '0.001' }), -4164);
    h.fails('newAlgoOrder', algo({ ...base, closePosition: 'true' }), -4137);
    h.fails(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'STOP',
        quantity: '0.01',
        price: '59000',
        triggerPrice: '59000',
        closePosition: 'true',
      }),
      -1106,
    );
    h.fails(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'STOP_MARKET',
        triggerPrice: '59000',
        closePosition: 'true',
        reduceOnly: 'true',
      }),
      -1106,
    );
    h.fails('newAlgoOrder', algo({ side: 'SELL', type: 'TRAILING_STOP_MARKET', quantity: '0.01' }), -1102);
    h.fails(
      'newAlgoOrder',
      algo({ side: 'SELL', type: 'TRAILING_STOP_MARKET', quantity: '0.01', callbackRate: '21' }),
      -1130,
    );
    h.fails(
      'newAlgoOrder',
      algo({ side: 'SELL', type: 'TRAILING_STOP_MARKET', quantity: '0.01', callbackRate: '0.05' }),
      -1130,
    );
    // reduce-only and close-position orders are exempt from MIN_NOTIONAL
    h.call('newAlgoOrder', algo({ ...base, quantity: '0.001', reduceOnly: 'true' }));
    h.call(
      'newAlgoOrder',
      algo({ ...base, quantity: undefined as unknown as string, closePosition: 'true' }),
    );
    // duplicates among open algo orders
    h.call('newAlgoOrder', algo({ ...base, clientAlgoId: 'dup' }));
    h.fails('newAlgoOrder', algo({ ...base, clientAlgoId: 'dup' }), -4116);
  });

  test('would trigger immediately → -2021 (contract price and mark price)', () => {
    const h = harness();
    h.fails(
      'newAlgoOrder',
      algo({ side: 'SELL', type: 'STOP_MARKET', quantity: '0.01', triggerPrice: '60100' }),
      -2021,
    );
    h.fails(
      'newAlgoOrder',
      algo({ side: 'BUY', type: 'STOP_MARKET', quantity: '0.01', triggerPrice: '59900' }),
      -2021,
    );
    h.fails(
      'newAlgoOrder',
      algo({ side: 'SELL', type: 'TAKE_PROFIT_MARKET', quantity: '0.01', triggerPrice: '59900' }),
      -2021,
    );
    h.market.set('BTCUSDT', '60000', { mark: '58000' });
    h.fails(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'STOP_MARKET',
        quantity: '0.01',
        triggerPrice: '59000',
        workingType: 'MARK_PRICE',
      }),
      -2021,
    );
    h.call(
      'newAlgoOrder',
      algo({ side: 'SELL', type: 'STOP_MARKET', quantity: '0.01', triggerPrice: '59000' }),
    );
    h.fails(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'TRAILING_STOP_MARKET',
        quantity: '0.01',
        callbackRate: '1',
        activatePrice: '59000',
      }),
      -2021,
    );
  });

  test('algo orders are invisible to /fapi/v1/order endpoints and count toward limits', () => {
    const h = harness();
    const a = h.call(
      'newAlgoOrder',
      algo({ side: 'SELL', type: 'STOP_MARKET', quantity: '0.01', triggerPrice: '59000' }),
    );
    assert.equal(h.call<Obj[]>('openOrders').length, 0);
    assert.equal(h.call<Obj[]>('openAlgoOrders').length, 1);
    assert.equal(h.call<Obj[]>('openAlgoOrders', { symbol: 'ETHUSDT' }).length, 0);
    assert.equal(h.call<Obj[]>('openAlgoOrders', { algoId: String(a.algoId) }).length, 1);
    assert.equal(h.call<Obj[]>('openAlgoOrders', {}, KEY2).length, 0);
    h.fails('queryAlgoOrder', {}, -1102);
    h.fails('queryAlgoOrder', { algoId: '1' }, -2013);
    h.fails('queryAlgoOrder', { algoId: String(a.algoId) }, -2013, KEY2);
    // margin type cannot change with an open algo order
    h.fails('setMarginType', { symbol: 'BTCUSDT', marginType: 'ISOLATED' }, -4047);
  });

  test('cancel one, cancel all, query history', () => {
    const h = harness();
    const a = h.call(
      'newAlgoOrder',
      algo({ side: 'SELL', type: 'STOP_MARKET', quantity: '0.01', triggerPrice: '59000' }),
    );
    h.call(
      'newAlgoOrder',
      algo({ side: 'SELL', type: 'STOP_MARKET', quantity: '0.01', triggerPrice: '58000' }),
    );
    h.call(
      'newAlgoOrder',
      algo({ side: 'BUY', type: 'STOP_MARKET', quantity: '0.01', triggerPrice: '61000' }),
    );
    assert.deepEqual(h.call('cancelAlgoOrder', { algoId: String(a.algoId) }), {
      algoId: a.algoId,
      clientAlgoId: a.clientAlgoId,
      code: '200',
      msg: 'success',
    });
    h.fails('cancelAlgoOrder', { algoId: String(a.algoId) }, -2011);
    h.fails('cancelAlgoOrder', {}, -1102);
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'CANCELED');
    assert.deepEqual(h.call('cancelAllAlgoOpen', { symbol: 'BTCUSDT' }), {
      code: 200,
      msg: 'The operation of cancel all open order is done.',
    });
    assert.equal(h.call<Obj[]>('openAlgoOrders').length, 0);
    const all = h.call<Obj[]>('allAlgoOrders', { symbol: 'BTCUSDT' });
    assert.deepEqual(
      all.map((x) => x.algoStatus),
      ['CANCELED', 'CANCELED', 'CANCELED'],
    );
    assert.equal(
      h.call<Obj[]>('allAlgoOrders', { symbol: 'BTCUSDT', algoId: String(a.algoId), limit: '1' }).length,
      1,
    );
    h.fails('allAlgoOrders', {}, -1102);
    assert.deepEqual(
      algoEvents(h).map((e) => e.X),
      ['NEW', 'NEW', 'NEW', 'CANCELED', 'CANCELED', 'CANCELED'],
    );
    assert.equal(h.engine.stats()['key-A'].cancelled, 3);
  });
});

describe('algo triggers', () => {
  test('STOP_MARKET on the contract price: TRIGGERING → TRIGGERED → FINISHED, the market order fills', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    const a = h.call(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'STOP_MARKET',
        quantity: '0.01',
        triggerPrice: '59000',
        reduceOnly: 'true',
      }),
    );
    h.clearEvents();
    // the mark crossing does not trigger a CONTRACT_PRICE stop
    h.market.markTo('BTCUSDT', '58000');
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'NEW');
    h.market.trade('BTCUSDT', ['59500', '58999.9', '59100'], { bid: '59100', ask: '59100.1', mark: '59100' });
    const q = h.call('queryAlgoOrder', { algoId: String(a.algoId) });
    assert.equal(q.algoStatus, 'FINISHED');
    assert.notEqual(q.actualOrderId, '');
    assert.equal(q.actualPrice, '59100.00');
    assert.ok((q.triggerTime as number) > 0);
    const ord = h.call('queryOrder', { symbol: 'BTCUSDT', orderId: q.actualOrderId as string });
    assert.equal(ord.status, 'FILLED');
    assert.equal(ord.type, 'MARKET');
    assert.equal(ord.origType, 'STOP_MARKET');
    assert.equal(ord.reduceOnly, true);
    assert.equal(ord.clientOrderId, a.clientAlgoId);
    assert.deepEqual(
      h.events.map((x) =>
        x.e.e === 'ALGO_UPDATE'
          ? `ALGO:${(x.e.o as Obj).X}`
          : x.e.e === 'ORDER_TRADE_UPDATE'
            ? `OTU:${(x.e.o as Obj).x}`
            : x.e.e,
      ),
      [
        'ALGO:TRIGGERING',
        'ALGO:TRIGGERED',
        'OTU:NEW',
        'TRADE_LITE',
        'OTU:TRADE',
        'ACCOUNT_UPDATE',
        'ALGO:FINISHED',
      ],
    );
    const triggered = algoEvents(h).find((e) => e.X === 'TRIGGERED') as Obj;
    assert.equal(triggered.ai, q.actualOrderId);
    const finished = algoEvents(h).at(-1) as Obj;
    assert.equal(finished.ap, '59100');
    assert.equal(finished.aq, '0.01');
    assert.equal(finished.act, 'MARKET');
    assert.equal(h.call<Obj[]>('positionRiskV3').length, 0);
  });

  test('MARK_PRICE stops trigger on the mark, not on trades', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    const a = h.call(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'STOP_MARKET',
        triggerPrice: '59000',
        workingType: 'MARK_PRICE',
        closePosition: 'true',
      }),
    );
    assert.equal(a.workingType, 'MARK_PRICE');
    assert.equal(a.closePosition, true);
    h.market.trade('BTCUSDT', ['58000'], { mark: '59500', bid: '58000', ask: '58000.1' });
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'NEW');
    h.market.markTo('BTCUSDT', '58999');
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'FINISHED');
    assert.equal(h.call<Obj[]>('positionRiskV3').length, 0);
  });

  test('priceProtect holds a trigger while mark and last price diverge by more than the threshold', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    const a = h.call(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'STOP_MARKET',
        triggerPrice: '59000',
        closePosition: 'true',
        priceProtect: 'TRUE',
      }),
    );
    assert.equal(a.priceProtect, true);
    // last 55000 vs mark 60000: 8 % apart
    h.market.trade('BTCUSDT', ['55000'], { mark: '60000', bid: '55000', ask: '55000.1' });
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'NEW');
    h.market.trade('BTCUSDT', ['58000'], { mark: '58500', bid: '58000', ask: '58000.1' });
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'FINISHED');
  });

  test('closePosition closes the whole position at trigger time; with no position it expires', () => {
    const h = harness();
    h.call('newOrder', market('SELL', '0.03'));
    const a = h.call(
      'newAlgoOrder',
      algo({ side: 'BUY', type: 'STOP_MARKET', triggerPrice: '61000', closePosition: 'true' }),
    );
    h.call('newOrder', market('SELL', '0.02'));
    h.market.trade('BTCUSDT', ['61000'], { bid: '61000', ask: '61000.1' });
    const q = h.call('queryAlgoOrder', { algoId: String(a.algoId) });
    assert.equal(q.actualQty, '0.050');
    assert.equal(h.call<Obj[]>('positionRiskV3').length, 0);

    const b = h.call(
      'newAlgoOrder',
      algo({ side: 'BUY', type: 'STOP_MARKET', triggerPrice: '62000', closePosition: 'true' }),
    );
    h.market.trade('BTCUSDT', ['62000'], { bid: '62000', ask: '62000.1' });
    const qb = h.call('queryAlgoOrder', { algoId: String(b.algoId) });
    assert.equal(qb.algoStatus, 'EXPIRED');
    const last = algoEvents(h).at(-1) as Obj;
    assert.equal(last.X, 'EXPIRED');
    assert.equal(last.rm, 'Reduce Only reject');
  });

  test('TAKE_PROFIT (limit) triggers and places a LIMIT at its price; resting until traded through', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    const a = h.call(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'TAKE_PROFIT',
        quantity: '0.01',
        triggerPrice: '61000',
        price: '61500',
        reduceOnly: 'true',
      }),
    );
    h.market.trade('BTCUSDT', ['61000'], { bid: '61000', ask: '61000.1' });
    let q = h.call('queryAlgoOrder', { algoId: String(a.algoId) });
    assert.equal(q.algoStatus, 'TRIGGERED');
    const open = h.call<Obj[]>('openOrders', { symbol: 'BTCUSDT' });
    assert.equal(open.length, 1);
    assert.equal(open[0].price, '61500.00');
    assert.equal(open[0].origType, 'TAKE_PROFIT');
    h.market.trade('BTCUSDT', ['61500']);
    q = h.call('queryAlgoOrder', { algoId: String(a.algoId) });
    assert.equal(q.algoStatus, 'FINISHED');
    assert.equal(q.actualPrice, '61500.00');
  });

  test('trailing stop: activation, extreme tracking, trigger on the callback', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    const a = h.call(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'TRAILING_STOP_MARKET',
        quantity: '0.01',
        callbackRate: '1',
        activatePrice: '61000',
        reduceOnly: 'true',
      }),
    );
    assert.equal(a.activatePrice, '61000.00');
    assert.equal(a.callbackRate, '1');
    assert.equal((algoEvents(h)[0] as Obj).ia, false);
    // below the activation price nothing happens, even a 1 % drop
    h.market.trade('BTCUSDT', ['60500', '59800']);
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'NEW');
    // activation at 61000, then the high rises to 62000
    h.market.trade('BTCUSDT', ['61000', '61500', '62000']);
    const act = algoEvents(h).at(-1) as Obj;
    assert.equal(act.X, 'NEW');
    assert.equal(act.ia, true);
    // 62000 × 0.99 = 61380: 61400 does not trigger, 61380 does
    h.market.trade('BTCUSDT', ['61400']);
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'NEW');
    h.market.trade('BTCUSDT', ['61380'], { bid: '61380', ask: '61380.1' });
    const q = h.call('queryAlgoOrder', { algoId: String(a.algoId) });
    assert.equal(q.algoStatus, 'FINISHED');
    assert.equal(q.actualPrice, '61380.00');
  });

  test('trailing BUY without activation price trails from the current price', () => {
    const h = harness();
    const a = h.call(
      'newAlgoOrder',
      algo({ side: 'BUY', type: 'TRAILING_STOP_MARKET', quantity: '0.01', callbackRate: '2' }),
    );
    h.market.trade('BTCUSDT', ['58000']);
    h.market.trade('BTCUSDT', ['59000']);
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'NEW');
    // 58000 × 1.02 = 59160
    h.market.trade('BTCUSDT', ['59160'], { bid: '59160', ask: '59160.1' });
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'FINISHED');
    assert.equal(h.call<Obj[]>('positionRiskV3')[0].positionAmt, '0.010');
  });

  test('a triggered order that fails the margin check → REJECTED with the reason', () => {
    const h = harness({ balance: '50' });
    const a = h.call(
      'newAlgoOrder',
      algo({ side: 'BUY', type: 'STOP_MARKET', quantity: '0.1', triggerPrice: '61000' }),
    );
    h.market.trade('BTCUSDT', ['61000'], { bid: '61000', ask: '61000.1' });
    const q = h.call('queryAlgoOrder', { algoId: String(a.algoId) });
    assert.equal(q.algoStatus, 'REJECTED');
    const last = algoEvents(h).at(-1) as Obj;
    assert.equal(last.rm, 'Margin is insufficient.');
  });

  test('hedge mode: closing algo orders use the position side', () => {
    const h = harness();
    h.call('setPositionMode', { dualSidePosition: 'true' });
    h.call('newOrder', market('BUY', '0.01', { positionSide: 'LONG' }));
    h.fails(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'STOP_MARKET',
        quantity: '0.01',
        triggerPrice: '59000',
        positionSide: 'LONG',
        reduceOnly: 'true',
      }),
      -1106,
    );
    h.fails(
      'newAlgoOrder',
      algo({ side: 'SELL', type: 'STOP_MARKET', quantity: '0.01', triggerPrice: '59000' }),
      -4061,
    );
    h.fails(
      'newAlgoOrder',
      algo({
        side: 'BUY',
        type: 'STOP_MARKET',
        triggerPrice: '61000',
        positionSide: 'LONG',
        closePosition: 'true',
      }),
      -2022,
    );
    const a = h.call(
      'newAlgoOrder',
      algo({
        side: 'SELL',
        type: 'STOP_MARKET',
        triggerPrice: '59000',
        positionSide: 'LONG',
        closePosition: 'true',
      }),
    );
    h.market.trade('BTCUSDT', ['59000'], { bid: '59000', ask: '59000.1' });
    assert.equal(h.call('queryAlgoOrder', { algoId: String(a.algoId) }).algoStatus, 'FINISHED');
    assert.equal(h.call<Obj[]>('positionRiskV3').length, 0);
  });
});
