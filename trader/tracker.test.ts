// The order tracker against a scripted exchange: late fills and position records, the maker
// timeout whose cancel fails, a post-only order expired at once, the follow-up's risk hook, and
// the journal restored after a restart.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { NewOrderParams } from '../core/binance/endpoints.ts';
import { BinanceError, OrderNotFoundError, RateLimitError } from '../core/binance/errors.ts';
import type { Order } from '../core/binance/schemas.ts';
import { clientOrderId } from './orders.ts';
import { type OrderApi, OrderTracker } from './tracker.ts';

async function until<T>(cond: () => T | undefined | false, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function order(p: Partial<Order> & { clientOrderId: string }): Order {
  return {
    orderId: 1,
    symbol: 'BTCUSDT',
    status: 'NEW',
    price: '100',
    origQty: '1',
    executedQty: '0',
    timeInForce: 'GTX',
    type: 'LIMIT',
    reduceOnly: false,
    closePosition: false,
    side: 'BUY',
    positionSide: 'BOTH',
    origType: 'LIMIT',
    updateTime: 1000,
    ...p,
  } as Order;
}

/** A scripted exchange: every call is recorded; answers come from the handlers. */
class FakeApi implements OrderApi {
  calls: Array<{ op: string; p: unknown }> = [];
  orders = new Map<string, Order>();
  onNew: (p: NewOrderParams) => Order | Error = (p) =>
    order({
      clientOrderId: p.newClientOrderId!,
      symbol: p.symbol,
      side: p.side,
      type: p.type,
      origType: p.type,
      origQty: String(p.quantity),
      status: p.type === 'MARKET' ? 'FILLED' : 'NEW',
      executedQty: p.type === 'MARKET' ? String(p.quantity) : '0',
    });
  onCancel: (id: string) => Order | Error = (id) => ({ ...this.orders.get(id)!, status: 'CANCELED' });
  async newOrder(p: NewOrderParams): Promise<Order> {
    this.calls.push({ op: 'new', p });
    const r = this.onNew(p);
    if (r instanceof Error) throw r;
    this.orders.set(r.clientOrderId, r);
    return r;
  }
  async getOrder(p: { symbol: string; origClientOrderId: string }): Promise<Order> {
    this.calls.push({ op: 'get', p });
    const o = this.orders.get(p.origClientOrderId);
    if (!o) throw new OrderNotFoundError('Order does not exist.', { code: -2013 });
    return o;
  }
  async cancelOrder(p: { symbol: string; origClientOrderId: string }): Promise<Order> {
    this.calls.push({ op: 'cancel', p });
    const r = this.onCancel(p.origClientOrderId);
    if (r instanceof Error) throw r;
    this.orders.set(r.clientOrderId, r);
    return r;
  }
  async openOrders(): Promise<Order[]> {
    return [...this.orders.values()].filter((o) => o.status === 'NEW' || o.status === 'PARTIALLY_FILLED');
  }
  news(type?: string): NewOrderParams[] {
    return this.calls
      .filter((c) => c.op === 'new' && (type === undefined || (c.p as NewOrderParams).type === type))
      .map((c) => c.p as NewOrderParams);
  }
}

const limit = (id: string, qty = '1'): NewOrderParams => ({
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'LIMIT',
  price: '100',
  quantity: qty,
  timeInForce: 'GTX',
  newClientOrderId: id,
});

test('a fill learnt after the position record that holds it is not counted (a close settles to flat)', async () => {
  const api = new FakeApi();
  const tracker = new OrderTracker({ api, trader: 'p1', settleRetryMs: 5 });
  // A close (SELL 2) whose answer is lost; the flat position record (ts 2000) arrives first.
  const id = clientOrderId('p1', 'close');
  api.onNew = () => new Error('socket hang up');
  tracker.submit(
    { symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: '2', newClientOrderId: id },
    {
      intentKey: 'close',
    },
  );
  tracker.positionSeen('BTCUSDT', 2000);
  // The query settles it later: filled at 1500, before the position record.
  api.orders.set(
    id,
    order({
      clientOrderId: id,
      side: 'SELL',
      type: 'MARKET',
      status: 'FILLED',
      origQty: '2',
      executedQty: '2',
      updateTime: 1500,
    }),
  );
  await tracker.settled(id);
  assert.equal(tracker.get(id)?.state, 'filled');
  assert.equal(tracker.pendingFills('BTCUSDT'), 0, 'the flat record already holds the close');
  // A fill after the record is counted, and dropped by the next record.
  const id2 = clientOrderId('p1', 'open');
  api.onNew = (p) =>
    order({
      clientOrderId: p.newClientOrderId!,
      status: 'FILLED',
      executedQty: '1',
      type: 'MARKET',
      updateTime: 2500,
    });
  tracker.submit(
    { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '1', newClientOrderId: id2 },
    {
      intentKey: 'open',
    },
  );
  await tracker.settled(id2);
  assert.equal(tracker.pendingFills('BTCUSDT'), 1);
  tracker.positionSeen('BTCUSDT', 2500);
  assert.equal(tracker.pendingFills('BTCUSDT'), 0);
  tracker.close();
});

test('maker timeout: no taker while the cancel fails and the maker rests; the taker once it is cancelled', async () => {
  const api = new FakeApi();
  const tracker = new OrderTracker({ api, trader: 'm2', settleRetryMs: 5, cancelAttempts: 10 });
  let failures = 3;
  api.onCancel = (id) => {
    if (failures-- > 0)
      return new RateLimitError('Too many orders', { code: -1015, status: 429, scope: 'orders' });
    return { ...api.orders.get(id)!, status: 'CANCELED', executedQty: '0.4', updateTime: 3000 };
  };
  const id = clientOrderId('m2', 'mk');
  tracker.submit(limit(id), { intentKey: 'mk', maker: { timeoutMs: 20, thenTaker: true } });
  const takerId = clientOrderId('m2', 'mk:t');
  // While the cancel fails the query says NEW: the maker rests, no MARKET goes.
  await until(() => api.calls.filter((c) => c.op === 'cancel').length >= 3, 'three failed cancels');
  assert.equal(api.news('MARKET').length, 0);
  assert.equal(tracker.get(takerId), undefined);
  const t = await until(() => tracker.get(takerId), 'the taker follow-up');
  assert.equal(tracker.get(id)?.state, 'cancelled');
  assert.equal(tracker.get(id)?.followUpId, takerId);
  assert.equal(t.followUpOf, id);
  assert.equal(api.news('MARKET').length, 1);
  assert.equal(api.news('MARKET')[0].quantity, '0.6', 'only the unfilled rest');
  tracker.close();
});

test('maker timeout: a cancel that never succeeds sends no taker at all', async () => {
  const api = new FakeApi();
  const tracker = new OrderTracker({ api, trader: 'm3', settleRetryMs: 2, cancelAttempts: 3 });
  api.onCancel = () => new BinanceError('timeout', { status: 408 });
  const id = clientOrderId('m3', 'mk');
  tracker.submit(limit(id), { intentKey: 'mk', maker: { timeoutMs: 10, thenTaker: true } });
  await until(() => api.calls.filter((c) => c.op === 'cancel').length === 3, 'the bounded cancel attempts');
  await until(() => api.calls.filter((c) => c.op === 'get').length === 3, 'the last query');
  assert.equal(tracker.get(id)?.state, 'open');
  assert.equal(api.news('MARKET').length, 0, 'never a taker beside a resting maker');
  tracker.close();
});

test('a post-only order expired at once falls through to the taker; the risk hook may refuse it', async () => {
  const api = new FakeApi();
  const refused: string[] = [];
  let ban = false;
  const tracker = new OrderTracker({
    api,
    trader: 'g1',
    beforeFollowUp: (maker) => {
      if (ban) {
        refused.push(maker.clientOrderId);
        return 'banned';
      }
      return undefined;
    },
  });
  api.onNew = (p) =>
    p.type === 'LIMIT'
      ? order({ clientOrderId: p.newClientOrderId!, status: 'EXPIRED', origQty: String(p.quantity) })
      : order({
          clientOrderId: p.newClientOrderId!,
          type: 'MARKET',
          status: 'FILLED',
          executedQty: String(p.quantity),
        });
  const id = clientOrderId('g1', 'gtx');
  tracker.submit(limit(id), { intentKey: 'gtx', maker: { timeoutMs: 60_000, thenTaker: true } });
  const t = await until(() => tracker.get(clientOrderId('g1', 'gtx:t')), 'the taker after the expiry');
  assert.equal((await tracker.settled(t.clientOrderId)).state, 'filled');
  assert.equal(tracker.get(id)?.state, 'expired');
  // The same under a ban: the opening follow-up is refused, nothing more is sent.
  ban = true;
  const id2 = clientOrderId('g1', 'gtx2');
  tracker.submit(limit(id2), { intentKey: 'gtx2', maker: { timeoutMs: 60_000, thenTaker: true } });
  await until(() => tracker.get(id2)?.state === 'expired', 'the second expiry');
  assert.deepEqual(refused, [id2]);
  assert.equal(tracker.get(clientOrderId('g1', 'gtx2:t')), undefined);
  assert.equal(tracker.get(id2)?.followUpId, undefined);
  assert.equal(api.news('MARKET').length, 1);
  tracker.close();
});

test('after a restart the journal makes every recent id known; unfinished orders are settled by query', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-journal-'));
  const journalPath = join(dir, 'orders.jsonl');
  try {
    const api = new FakeApi();
    const first = new OrderTracker({ api, trader: 'j1', journalPath });
    const filled = clientOrderId('j1', 'a');
    first.submit(
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '1', newClientOrderId: filled },
      {
        intentKey: 'a',
      },
    );
    await first.settled(filled);
    const resting = clientOrderId('j1', 'b');
    first.submit(limit(resting), { intentKey: 'b' });
    await first.settled(resting);
    // The process dies; the exchange fills the resting order meanwhile.
    first.close();
    api.orders.set(resting, {
      ...api.orders.get(resting)!,
      status: 'FILLED',
      executedQty: '1',
      updateTime: 5000,
    });

    const second = new OrderTracker({ api, trader: 'j1', journalPath, settleRetryMs: 5 });
    assert.deepEqual(second.restore(), { loaded: 2, settling: 1 });
    assert.equal(second.get(filled)?.state, 'filled');
    // The same decision again: refused, nothing sent (Binance would accept the id again).
    const sent = api.news().length;
    assert.equal(
      second.submit(
        { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '1', newClientOrderId: filled },
        {
          intentKey: 'a',
        },
      ),
      undefined,
    );
    assert.equal(api.news().length, sent);
    assert.equal((await second.settled(resting)).state, 'filled');
    assert.ok(
      api.calls.some(
        (c) => c.op === 'get' && (c.p as { origClientOrderId: string }).origClientOrderId === resting,
      ),
    );
    second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
