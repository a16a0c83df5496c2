// The order gateway: authentication, validation, netting of identical intents from five traders
// into one order, order status; and a trader sending through it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { createLogger } from '../../core/log.ts';
import { GatewayClient } from '../../trader/gateway-client.ts';
import { type RunningGateway, startGateway, startTrader } from '../../trader/index.ts';
import { type Fixture, simCall, simOrders, simPosition, startFixture, TOKENS, waitFor } from './support.ts';

const TRADERS = ['t1', 't2', 't3', 't4', 't5'];
const token = (t: string) => `gateway-token-${t}-0123456789`;
let fx: Fixture;
let gw: RunningGateway;

before(async () => {
  fx = await startFixture();
  gw = await startGateway({
    port: 0,
    tokens: TRADERS.map((t) => ({ token: token(t), trader: t })),
    rest: fx.rest,
    api: fx.api,
    netWindowMs: 2000,
    reconcileMs: 0,
    userStreamWs: fx.sim.wsUrl,
    logger: createLogger('gateway', 'silent'),
  });
});
after(async () => {
  await gw?.close();
  await fx?.close();
});

async function post(path: string, body: unknown, auth?: string): Promise<{ status: number; json: any }> {
  const res = await request(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, json: await res.body.json() };
}
async function get(path: string, auth?: string): Promise<{ status: number; json: any }> {
  const res = await request(`${gw.url}${path}`, { headers: auth ? { authorization: auth } : {} });
  return { status: res.statusCode, json: await res.body.json() };
}

const good = {
  key: 'open:1',
  symbol: 'ETHUSDT',
  action: 'open',
  side: 'BUY',
  size: { quote: '200' },
  style: { kind: 'taker' },
};

test('authentication: no token, a wrong token and a malformed header get 401', async () => {
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await post('/v1/intents', good)).status, 401);
  assert.equal((await post('/v1/intents', good, 'Bearer nope')).status, 401);
  assert.equal((await post('/v1/intents', good, token('t1'))).status, 401);
  const r = await get('/v1/orders', 'Bearer nope');
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'unauthorized');
});

test('validation: bad intents get 400 with the issues, unknown symbols 422', async () => {
  const auth = `Bearer ${token('t1')}`;
  const bad = await post('/v1/intents', { ...good, side: 'UP', size: { quote: '-5' } }, auth);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, 'invalid');
  const paths = bad.json.issues.map((i: { path: string }) => i.path);
  assert.ok(paths.includes('side'), JSON.stringify(bad.json));
  assert.ok(
    paths.some((p: string) => p.startsWith('size')),
    JSON.stringify(bad.json),
  );
  const extra = await post('/v1/intents', { ...good, leverage: 100 }, auth);
  assert.equal(extra.status, 400);
  const maker = await post('/v1/intents', { ...good, style: { kind: 'maker' } }, auth);
  assert.equal(maker.status, 400);
  const notJson = await post('/v1/intents', '{"key":', auth);
  assert.equal(notJson.status, 400);
  const unknown = await post('/v1/intents', { ...good, symbol: 'NOPEUSDT' }, auth);
  assert.equal(unknown.status, 422);
  assert.equal(unknown.json.code, -1121);
  const tooBig = await post('/v1/intents', { ...good, key: 'big', size: { quote: '50000' } }, auth);
  assert.equal(tooBig.status, 422);
  assert.equal(tooBig.json.cause, 'order-notional');
  assert.equal((await get('/v1/orders/fl-nope-x', auth)).status, 404);
});

test('five traders, one identical intent: one order, each told which order carries it', async () => {
  const orders0 = await simOrders(fx.sim);
  const answers = await Promise.all(TRADERS.map((t) => post('/v1/intents', good, `Bearer ${token(t)}`)));
  for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.json));
  const ids = new Set(answers.map((a) => a.json.clientOrderId));
  assert.equal(ids.size, 1);
  const carriers = answers.filter((a) => !a.json.netted);
  assert.equal(carriers.length, 1);
  for (const a of answers) assert.deepEqual(a.json.carrier, carriers[0].json.carrier);
  const [id] = ids;
  await waitFor(
    async () => (await get(`/v1/orders/${id}`, `Bearer ${token('t3')}`)).json.order.state === 'filled',
    'the order filled',
  );
  const status = await get(`/v1/orders/${id}`, `Bearer ${token('t3')}`);
  assert.equal(status.json.attributed.length, 4);
  assert.equal((await simOrders(fx.sim)) - orders0, 1);
  assert.ok((await simPosition(fx.sim, 'ETHUSDT')) > 0);
  // A trader repeating its intent gets the same answer; nothing is sent.
  const again = await post('/v1/intents', good, `Bearer ${token('t2')}`);
  assert.equal(again.json.clientOrderId, id);
  assert.equal((await simOrders(fx.sim)) - orders0, 1);
  assert.equal(gw.status().netted, 5 - 1);
});

test('a trader in gateway mode sends its demo decision through the gateway', async () => {
  const S = ['SOLUSDT'];
  await fx.collector.market(S);
  await fx.collector.account(S);
  const trader = await startTrader({
    name: 't4',
    aggregator: { url: fx.agg.url, token: TOKENS.trader },
    mode: 'gateway',
    gateway: { url: gw.url, token: token('t4') },
    strategy: 'demo',
    strategyParams: { quoteSize: 100 },
    symbols: S,
    now: () => fx.sim.clock.now(),
    logger: createLogger('trader', 'silent'),
  });
  try {
    await waitFor(() => (trader.book.get('SOLUSDT')?.depth() ?? 0) >= 45, 'the book filled');
    const orders0 = await simOrders(fx.sim);
    // Time moves on after the last position record (the virtual clock stands still otherwise):
    // a fill at the record's own time would be one the record already holds.
    await simCall(fx.sim, 'POST', '/sim/clock', { advanceMs: 1000 });
    await fx.collector.jump('SOLUSDT', 1.5);
    await fx.collector.market(S, { window: false });
    await waitFor(async () => (await simPosition(fx.sim, 'SOLUSDT')) > 0, 'a long SOLUSDT position');
    await waitFor(() => trader.status().orders.filled === 1, 'the trader learnt the fill');
    assert.equal((await simOrders(fx.sim)) - orders0, 1);
    assert.ok(trader.view.position('SOLUSDT').amt > 0);
  } finally {
    await trader.close();
  }
});

test('order updates are pushed over GET /v1/events: the fill of a resting maker order arrives without polling', async () => {
  const events401 = await request(`${gw.url}/v1/events`);
  assert.equal(events401.statusCode, 401);
  await events401.body.dump();

  const client = new GatewayClient({ url: gw.url, token: token('t3'), trader: 't3', pollMs: 60_000 });
  try {
    await waitFor(() => client.eventsConnected, 'the event stream is up');
    const bt = await fx.api.bookTicker('BNBUSDT');
    client.send(
      {
        key: 'push:1',
        symbol: 'BNBUSDT',
        action: 'open',
        side: 'BUY',
        size: { quote: '150' },
        style: { kind: 'maker', timeoutMs: 60_000, thenTaker: false },
      },
      { bid: Number(bt.bidPrice), ask: Number(bt.askPrice) },
    );
    await waitFor(() => client.counts().open === 1, 'the maker order rests on the book');
    // The market falls through the bid: the resting buy fills.
    await fx.collector.jump('BNBUSDT', -1);
    await waitFor(() => client.counts().filled === 1, 'the fill was pushed');
    assert.ok(client.stats.pushed >= 1);
    assert.equal(client.stats.polled, 0, 'no status query was needed');
    assert.ok(client.pendingFills('BNBUSDT') > 0);
  } finally {
    client.close();
  }
});
