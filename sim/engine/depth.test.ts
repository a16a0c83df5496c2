// Takers walk the depth book: one trade per level, avgPrice the weighted average, FOK checks the
// whole depth, IOC expires the rest, GTC rests it; taken levels are consumed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness, limit, market } from './testkit.ts';

type Obj = Record<string, unknown>;

const BOOK = {
  bids: [
    ['59999.9', '0.100'],
    ['59999.5', '0.200'],
    ['59998.0', '1.000'],
  ] as [string, string][],
  asks: [
    ['60000.0', '0.100'],
    ['60000.5', '0.200'],
    ['60002.0', '1.000'],
  ] as [string, string][],
};

function setup() {
  const h = harness({ balance: '100000', maker: '0', taker: '0' });
  h.market.set('BTCUSDT', '60000', { bid: '59999.9', ask: '60000.0' });
  h.market.setBook('BTCUSDT', BOOK);
  h.clearEvents();
  return h;
}

describe('takers walk the depth book', () => {
  test('a MARKET buy larger than the touch fills level by level at the weighted average', () => {
    const h = setup();
    const r = h.call('newOrder', market('BUY', '0.450', { newOrderRespType: 'RESULT' }));
    assert.equal(r.status, 'FILLED');
    assert.equal(r.executedQty, '0.450');
    // (0.1 × 60000 + 0.2 × 60000.5 + 0.15 × 60002) / 0.45
    assert.equal(Number(r.cumQuote), 27000.4);
    assert.equal(Number(r.avgPrice).toFixed(4), (27000.4 / 0.45).toFixed(4));
    const trades = h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' });
    assert.deepEqual(
      trades.map((t) => [Number(t.price), t.qty, t.maker]),
      [
        [60000, '0.100', false],
        [60000.5, '0.200', false],
        [60002, '0.150', false],
      ],
    );
    const fills = h.ev('ORDER_TRADE_UPDATE').filter((e) => (e.o as Obj).x === 'TRADE');
    assert.deepEqual(
      fills.map((e) => [Number((e.o as Obj).L), Number((e.o as Obj).l), (e.o as Obj).X]),
      [
        [60000, 0.1, 'PARTIALLY_FILLED'],
        [60000.5, 0.2, 'PARTIALLY_FILLED'],
        [60002, 0.15, 'FILLED'],
      ],
    );
    // The levels taken are gone from the book: the next buyer meets what is left.
    const d = h.market.depth('BTCUSDT', 5);
    assert.deepEqual(d.asks, [['60002.0', '0.85']]);
    assert.equal(h.market.bookTicker('BTCUSDT').askPrice, '60002.0');
    const pos = h.call<Obj[]>('positionRiskV3', { symbol: 'BTCUSDT' })[0];
    assert.equal(Number(pos.entryPrice).toFixed(4), (27000.4 / 0.45).toFixed(4));
  });

  test('a MARKET order larger than the whole book fills what is there and expires the rest (er 9)', () => {
    const h = setup();
    const r = h.call('newOrder', market('SELL', '2.000', { newOrderRespType: 'RESULT' }));
    assert.equal(r.status, 'EXPIRED');
    assert.equal(r.executedQty, '1.300');
    const last = h.ev('ORDER_TRADE_UPDATE').at(-1)?.o as Obj;
    assert.deepEqual([last.x, last.er], ['EXPIRED', '9']);
  });

  test('FOK: -5021 when the depth within the limit cannot fill it all; fills across levels when it can', () => {
    const h = setup();
    h.fails('newOrder', limit('BUY', '0.400', '60000.5', { timeInForce: 'FOK' }), -5021);
    assert.equal(h.market.consumed.length, 0, 'nothing taken');
    const ok = h.call(
      'newOrder',
      limit('BUY', '0.300', '60000.5', { timeInForce: 'FOK', newOrderRespType: 'RESULT' }),
    );
    assert.equal(ok.status, 'FILLED');
    assert.equal(h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' }).length, 2);
  });

  test('IOC takes the depth within its limit and expires the rest (er 2)', () => {
    const h = setup();
    const r = h.call(
      'newOrder',
      limit('BUY', '0.500', '60000.5', { timeInForce: 'IOC', newOrderRespType: 'RESULT' }),
    );
    assert.equal(r.status, 'EXPIRED');
    assert.equal(r.executedQty, '0.300');
    const last = h.ev('ORDER_TRADE_UPDATE').at(-1)?.o as Obj;
    assert.deepEqual([last.x, last.er], ['EXPIRED', '2']);
  });

  test('a crossing GTC takes the depth within its limit and rests the rest at its price', () => {
    const h = setup();
    const r = h.call('newOrder', limit('SELL', '0.500', '59999.5', { newOrderRespType: 'RESULT' }));
    assert.equal(r.status, 'PARTIALLY_FILLED');
    assert.equal(r.executedQty, '0.300');
    const open = h.call<Obj[]>('openOrders', { symbol: 'BTCUSDT' });
    assert.deepEqual(
      open.map((o) => [o.status, Number(o.price), o.executedQty]),
      [['PARTIALLY_FILLED', 59999.5, '0.300']],
    );
  });

  test('an order within the touch fills at the touch as one trade', () => {
    const h = setup();
    h.call('newOrder', market('BUY', '0.050'));
    assert.deepEqual(
      h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' }).map((t) => Number(t.price)),
      [60000],
    );
  });
});
