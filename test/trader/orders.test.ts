// Exact rounding on awkward filters (TRXUSDT: tick 0.00005, step 5) and an unknown outcome
// (503 after the order was placed) settled by query, with no duplicate order.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RulesBook } from '../../core/binance/filters.ts';
import { createLogger } from '../../core/log.ts';
import { clientOrderId, OrderTracker, prepareOrder } from '../../trader/index.ts';
import type { Intent } from '../../trader/strategy.ts';
import { type Fixture, simCall, simOrders, startFixture, waitFor } from './support.ts';

let fx: Fixture;
let rules: RulesBook;

before(async () => {
  fx = await startFixture();
  rules = await RulesBook.load(fx.api);
});
after(async () => {
  await fx?.close();
});

const intent = (over: Partial<Intent>): Intent => ({
  symbol: 'TRXUSDT',
  action: 'open',
  side: 'BUY',
  size: { quote: '100' },
  style: { kind: 'taker' },
  key: 'k',
  ...over,
});

test('exact rounding on tick 0.00005 and step 5', async () => {
  const r = rules.get('TRXUSDT');
  assert.equal(r.tickSize.toString(), '0.00005');
  assert.equal(r.stepSize.toString(), '5');
  // Maker BUY at a bid off the grid: price floors to the tick, 100 USDT → 333.3 → 335 (nearest step).
  const maker = prepareOrder(
    intent({ style: { kind: 'maker', timeoutMs: 1000, thenTaker: false } }),
    rules,
    { bid: '0.300037', ask: '0.300112', last: 0.30007 },
    'id1',
  );
  assert.ok(maker.ok);
  assert.equal(maker.params.price, '0.30000');
  assert.equal(maker.params.quantity, '335');
  assert.equal(maker.params.timeInForce, 'GTX');
  // Maker SELL prices toward the passive side (ceil).
  const sell = prepareOrder(
    intent({
      side: 'SELL',
      action: 'adjust',
      size: { base: '52.7' },
      style: { kind: 'maker', timeoutMs: 1000, thenTaker: false },
    }),
    rules,
    { bid: '0.300037', ask: '0.300112' },
    'id2',
  );
  assert.ok(sell.ok, JSON.stringify(sell));
  assert.equal(sell.params.price, '0.30015');
  assert.equal(sell.params.quantity, '50'); // base sizes floor
  // Exponent input, reduce-only close: floors, never more than asked.
  const close = prepareOrder(
    intent({ action: 'close', side: 'SELL', size: { base: '2.9E+1' } }),
    rules,
    { last: 0.3 },
    'id3',
  );
  assert.ok(close.ok, JSON.stringify(close));
  assert.equal(close.params.quantity, '25');
  assert.equal(close.params.reduceOnly, true);
  // Below the minimum: refused before sending, with Binance's code.
  const tiny = prepareOrder(intent({ size: { base: '4' } }), rules, { last: 0.3 }, 'id4');
  assert.equal(tiny.ok, false);

  // The simulator accepts what was prepared, at exactly these values.
  const bt = await fx.api.bookTicker('TRXUSDT');
  const live = prepareOrder(
    intent({ style: { kind: 'maker', timeoutMs: 1000, thenTaker: false } }),
    rules,
    { bid: bt.bidPrice, ask: bt.askPrice },
    clientOrderId('t', 'trx-maker'),
  );
  assert.ok(live.ok, JSON.stringify(live));
  const placed = await fx.api.newOrder(live.params);
  assert.equal(placed.price, live.params.price);
  assert.equal(placed.origQty, live.params.quantity);
  await fx.api.cancelOrder({ symbol: 'TRXUSDT', origClientOrderId: placed.clientOrderId });
});

test('unknown outcome on 503: settled by query, no duplicate order', async () => {
  const tracker = new OrderTracker({
    api: fx.api,
    trader: 'u1',
    log: createLogger('t', 'silent'),
    settleRetryMs: 20,
  });
  const orders0 = await simOrders(fx.sim);
  await simCall(fx.sim, 'POST', '/sim/faults', { kind: 'unknown', path: '/fapi/v1/order', count: 1 });
  const params = { symbol: 'BTCUSDT', side: 'BUY' as const, type: 'MARKET' as const, quantity: '0.002' };
  const id = clientOrderId('u1', 'intent-1');
  const o = tracker.submit({ ...params, newClientOrderId: id }, { intentKey: 'intent-1' });
  assert.ok(o);
  assert.equal(o.state, 'inflight');
  await waitFor(() => tracker.stats.unknown === 1 || undefined, 'the unknown outcome');
  const settled = await tracker.settled(id);
  assert.equal(settled.state, 'filled');
  assert.equal(tracker.stats.settledByQuery, 1);
  // The same decision again: refused locally, nothing sent.
  assert.equal(tracker.submit({ ...params, newClientOrderId: id }, { intentKey: 'intent-1' }), undefined);
  assert.equal(tracker.stats.duplicates, 1);
  assert.equal((await simOrders(fx.sim)) - orders0, 1);
  const all = await fx.api.allOrders({ symbol: 'BTCUSDT' });
  assert.equal(all.filter((x) => x.clientOrderId === id).length, 1);
  tracker.close();
  await simCall(fx.sim, 'DELETE', '/sim/faults');
});

test('reconciliation adopts (or cancels) open orders with the trader prefix it does not know', async () => {
  const bt = await fx.api.bookTicker('ETHUSDT');
  const price = rules
    .get('ETHUSDT')
    .roundPrice((Number(bt.bidPrice) * 0.9).toFixed(8), 'floor')
    .toString();
  const orphan = clientOrderId('r1', 'before-restart');
  await fx.api.newOrder({
    symbol: 'ETHUSDT',
    side: 'BUY',
    type: 'LIMIT',
    price,
    quantity: '0.05',
    newClientOrderId: orphan,
  });
  const adopt = new OrderTracker({ api: fx.api, trader: 'r1' });
  assert.deepEqual(await adopt.reconcile(), { adopted: 1, cancelled: 0, queried: 0 });
  assert.equal(adopt.get(orphan)?.state, 'open');
  assert.equal(adopt.active('ETHUSDT'), 1);
  const cancel = new OrderTracker({ api: fx.api, trader: 'r1', orphanPolicy: 'cancel' });
  assert.deepEqual(await cancel.reconcile(), { adopted: 0, cancelled: 1, queried: 0 });
  // The adopting tracker learns the end by its next reconciliation.
  const r = await adopt.reconcile();
  assert.equal(r.queried, 1);
  assert.equal(adopt.get(orphan)?.state, 'cancelled');
});

test('maker with timeout: cancelled after the timeout, the rest sent as taker', async () => {
  const tracker = new OrderTracker({ api: fx.api, trader: 'm1' });
  const bt = await fx.api.bookTicker('XRPUSDT');
  const p = prepareOrder(
    intent({
      symbol: 'XRPUSDT',
      size: { quote: '50' },
      style: { kind: 'maker', timeoutMs: 150, thenTaker: true },
    }),
    rules,
    { bid: bt.bidPrice, ask: bt.askPrice },
    clientOrderId('m1', 'mk'),
  );
  assert.ok(p.ok);
  const o = tracker.submit(p.params, { intentKey: 'mk', maker: { timeoutMs: 150, thenTaker: true } })!;
  await tracker.settled(o.clientOrderId);
  assert.equal(o.state, 'open');
  const taker = clientOrderId('m1', 'mk:t');
  await waitFor(() => tracker.get(taker), 'the taker follow-up');
  assert.equal(o.state, 'cancelled');
  const t = await tracker.settled(taker);
  assert.equal(t.state, 'filled');
  assert.equal(t.executedQty, o.quantity);
  tracker.close();
});
