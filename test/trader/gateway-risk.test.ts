// The gateway's pre-trade risk with an aggregator connection (ALL ban), caps on the rounded order
// at the book price, a refPrice far from the book, the maker→taker follow-up followed by the
// trader, orders visible only to the traders they carry, and the tokens it refuses at start.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { createLogger } from '../../core/log.ts';
import { GatewayClient } from '../../trader/gateway-client.ts';
import { type RunningGateway, startGateway } from '../../trader/index.ts';
import { type Fixture, simOrders, startFixture, TOKENS, waitFor } from './support.ts';

const silent = createLogger('test', 'silent');
const tok = (t: string) => `gateway-risk-token-${t}-0123456789`;
let fx: Fixture;
let gw: RunningGateway;

const ban = (symbol: string, active: boolean) =>
  fx.admin.publish(
    'risk.ban',
    [
      {
        key: symbol,
        ts: Date.now(),
        data: { symbol, active, reason: 'test', window: 'manual', pnl: '0', until: 0 },
      },
    ],
    { ack: true },
  );

before(async () => {
  fx = await startFixture();
  gw = await startGateway({
    port: 0,
    tokens: [
      { token: tok('a'), trader: 'a' },
      { token: tok('b'), trader: 'b' },
    ],
    rest: fx.rest,
    api: fx.api,
    reconcileMs: 0,
    netWindowMs: 0,
    limits: { maxOrderNotional: 150 },
    aggregator: { url: fx.agg.url, token: TOKENS.trader },
    logger: silent,
  });
});
after(async () => {
  await gw?.close();
  await fx?.close();
});

async function post(trader: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await request(`${gw.url}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tok(trader)}` },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, json: await res.body.json() };
}
async function get(trader: string, path: string): Promise<{ status: number; json: any }> {
  const res = await request(`${gw.url}${path}`, { headers: { authorization: `Bearer ${tok(trader)}` } });
  return { status: res.statusCode, json: await res.body.json() };
}

const open = (key: string, over: Record<string, unknown> = {}) => ({
  key,
  symbol: 'ETHUSDT',
  action: 'open',
  side: 'BUY',
  size: { quote: '100' },
  style: { kind: 'taker' },
  ...over,
});

test('with an aggregator, the gateway refuses openings under ALL; closes pass the ban', async () => {
  await ban('ALL', true);
  try {
    await waitFor(
      async () => (await post('a', open(`all:${Date.now()}`))).json.cause === 'banned-all',
      'ALL enforced',
    );
    const orders0 = await simOrders(fx.sim);
    const refused = await post('a', open('all:1'));
    assert.equal(refused.status, 422);
    assert.equal(refused.json.cause, 'banned-all');
    assert.equal(await simOrders(fx.sim), orders0);
    const closing = await post('a', {
      ...open('all:close'),
      action: 'close',
      side: 'SELL',
      size: { base: '0.01' },
    });
    assert.notEqual(closing.json.cause, 'banned-all', JSON.stringify(closing.json));
    assert.notEqual(closing.json.error, 'refused', JSON.stringify(closing.json));
  } finally {
    await ban('ALL', false);
  }
  await waitFor(async () => (await post('a', open(`all:after:${Date.now()}`))).status === 200, 'ALL lifted');
});

test('caps are checked on the rounded order at the book price; a refPrice far from the book is refused', async () => {
  // SOLUSDT: step 1 at ~185. 100 USDT rounds up to 1 SOL ≈ 185 > the 150 cap.
  const orders0 = await simOrders(fx.sim);
  const r = await post('a', open('round:1', { symbol: 'SOLUSDT' }));
  assert.equal(r.status, 422, JSON.stringify(r.json));
  assert.equal(r.json.cause, 'order-notional');
  assert.match(r.json.msg, /as rounded/);
  // A refPrice of a third of the book price would size 3× the order: refused.
  const bt = await fx.api.bookTicker('ETHUSDT');
  const bad = await post('a', open('bad:1', { refPrice: Number(bt.bidPrice) / 3 }));
  assert.equal(bad.status, 422);
  assert.equal(bad.json.cause, 'bad-price');
  assert.equal(await simOrders(fx.sim), orders0);
});

test('a maker→taker follow-up is followed by the trader to its fill; other traders do not see it', async () => {
  const client = new GatewayClient({ url: gw.url, token: tok('a'), trader: 'a', pollMs: 20, log: silent });
  try {
    await waitFor(() => client.eventsConnected, 'the event stream');
    const bt = await fx.api.bookTicker('BNBUSDT');
    const states: string[] = [];
    client.send(
      {
        key: 'mt:1',
        symbol: 'BNBUSDT',
        action: 'open',
        side: 'BUY',
        size: { quote: '120' },
        style: { kind: 'maker', timeoutMs: 150, thenTaker: true },
      },
      { bid: Number(bt.bidPrice), ask: Number(bt.askPrice) },
    );
    const done = await waitFor(() => {
      const st = Object.keys(client.counts())[0];
      if (states[states.length - 1] !== st) states.push(st);
      return client.counts().filled === 1 || client.counts().cancelled === 1 ? true : undefined;
    }, 'the intent ended');
    assert.ok(done);
    assert.deepEqual(client.counts(), { filled: 1 }, `states seen: ${states.join(' → ')}`);
    assert.ok(!states.includes('cancelled'), `states seen: ${states.join(' → ')}`);
    assert.equal(client.active('BNBUSDT'), 0);
    assert.ok(client.pendingFills('BNBUSDT') > 0);
    const [o] = client.list();
    assert.ok(o.followUpOf, 'the trader follows the taker follow-up');
    assert.equal(client.stats.followUps, 1);
    // Trader a sees both orders; trader b sees neither.
    assert.equal((await get('a', `/v1/orders/${o.clientOrderId}`)).status, 200);
    assert.equal((await get('a', `/v1/orders/${o.followUpOf}`)).status, 200);
    assert.equal((await get('b', `/v1/orders/${o.clientOrderId}`)).status, 404);
    const mine = (await get('a', '/v1/orders?symbol=BNBUSDT')).json.orders.map((x: any) => x.clientOrderId);
    assert.deepEqual(new Set(mine), new Set([o.clientOrderId, o.followUpOf]));
    assert.deepEqual((await get('b', '/v1/orders')).json.orders, []);
  } finally {
    client.close();
  }
});

test('the gateway refuses a token shared by two traders, and a trader whose prefix is its own', async () => {
  const base = { port: 0, rest: fx.rest, api: fx.api, reconcileMs: 0, logger: silent };
  await assert.rejects(
    startGateway({
      ...base,
      tokens: [
        { token: tok('s'), trader: 's1' },
        { token: tok('s'), trader: 's2' },
      ],
    }),
    /one token is given to two traders/,
  );
  await assert.rejects(
    startGateway({ ...base, name: 'gw', tokens: [{ token: tok('g'), trader: 'gw' }] }),
    /share the gateway's client order id prefix/,
  );
});
