// The trader and the gateway survive their peers: a gateway that restarts (or is down) loses no
// intent and places none twice; a trader rides through an aggregator restart; a strategy that
// throws does not stop the trader.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import type { RunningAggregator } from '../../aggregator/index.ts';
import { startTestAggregator } from '../../aggregator/test-support.ts';
import { createLogger } from '../../core/log.ts';
import { GatewayClient } from '../../trader/gateway-client.ts';
import {
  loadStrategy,
  type RunningGateway,
  type RunningTrader,
  type Strategy,
  startGateway,
  startTrader,
} from '../../trader/index.ts';
import { type Fixture, simOrders, simPosition, startFixture, TOKENS, waitFor } from './support.ts';

const silent = createLogger('test', 'silent');
const GW_TOKEN = 'gateway-token-resilience-0123456789';
let fx: Fixture;

before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx?.close();
});

function gateway(port: number): Promise<RunningGateway> {
  return startGateway({
    port,
    tokens: [{ token: GW_TOKEN, trader: 'r1' }],
    rest: fx.rest,
    api: fx.api,
    reconcileMs: 0,
    logger: silent,
  });
}

async function postIntent(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await request(`${url}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${GW_TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, json: await res.body.json() };
}

/** A port that was free a moment ago (a gateway started on 0 and closed). */
async function freePort(): Promise<number> {
  const g = await gateway(0);
  const port = g.port;
  await g.close();
  return port;
}

const intent = (key: string) => ({
  key,
  symbol: 'ETHUSDT',
  action: 'open',
  side: 'BUY',
  size: { quote: '150' },
  style: { kind: 'taker' },
});

test('a retried intent after a gateway restart finds its order instead of placing another', async () => {
  const port = await freePort();
  let gw = await gateway(port);
  const first = await postIntent(gw.url, intent('restart:1'));
  assert.equal(first.status, 200);
  assert.equal(first.json.state, 'filled');
  await gw.close();

  // A new gateway knows nothing of it; the trader, having lost the answer, asks again.
  gw = await gateway(port);
  try {
    const orders0 = await simOrders(fx.sim);
    const again = await postIntent(gw.url, { ...intent('restart:1'), retry: true });
    assert.equal(again.status, 200);
    assert.equal(again.json.clientOrderId, first.json.clientOrderId);
    assert.equal(again.json.state, 'filled');
    assert.equal(again.json.order.adopted, true);
    assert.equal(gw.status().retriesFound, 1);
    assert.equal(await simOrders(fx.sim), orders0, 'no second order');

    // Look-up only: an intent that was never placed is reported, not placed.
    const missing = await postIntent(gw.url, { ...intent('restart:2'), retry: true, placeIfMissing: false });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error, 'not-placed');
    assert.equal(await simOrders(fx.sim), orders0);

    // A retry of an intent that never reached the exchange places it once.
    const late = await postIntent(gw.url, { ...intent('restart:3'), retry: true });
    assert.equal(late.status, 200);
    assert.equal(late.json.state, 'filled');
    assert.equal(await simOrders(fx.sim), orders0 + 1);
  } finally {
    await gw.close();
  }
});

test('a gateway that is down when the intent is sent gets it once it is back', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const client = new GatewayClient({ url, token: GW_TOKEN, trader: 'r1', pollMs: 20, log: silent });
  const orders0 = await simOrders(fx.sim);
  const quote = { last: 3000 };
  client.send(
    {
      key: 'down:1',
      symbol: 'ETHUSDT',
      action: 'open',
      side: 'BUY',
      size: { quote: '150' },
      style: { kind: 'taker' },
    },
    quote,
  );
  await waitFor(() => client.counts().unknown === 1, 'the intent is unknown while the gateway is down');
  const gw = await gateway(port);
  try {
    await waitFor(() => client.counts().filled === 1, 'the re-asked intent filled', 15_000);
    assert.equal(await simOrders(fx.sim), orders0 + 1);
    assert.ok(client.pendingFills('ETHUSDT') > 0);
  } finally {
    client.close();
    await gw.close();
  }
});

test('an intent past its time to live is only looked up when the gateway returns', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const client = new GatewayClient({
    url,
    token: GW_TOKEN,
    trader: 'r1',
    pollMs: 20,
    intentTtlMs: 0,
    log: silent,
  });
  const orders0 = await simOrders(fx.sim);
  client.send(
    {
      key: 'ttl:1',
      symbol: 'ETHUSDT',
      action: 'open',
      side: 'BUY',
      size: { quote: '150' },
      style: { kind: 'taker' },
    },
    { last: 3000 },
  );
  await waitFor(() => client.counts().unknown === 1, 'unknown while the gateway is down');
  const gw = await gateway(port);
  try {
    await waitFor(() => client.counts().rejected === 1, 'expired unplaced', 15_000);
    assert.equal(await simOrders(fx.sim), orders0);
  } finally {
    client.close();
    await gw.close();
  }
});

test('a strategy that throws is counted and logged; the trader goes on trading other symbols', async () => {
  const S = ['XRPUSDT', 'SOLUSDT'];
  await fx.collector.market(S);
  await fx.collector.account(S);
  const demo = await loadStrategy('demo', { openPct: 1, closePct: -0.5, quoteSize: 100 });
  const flaky: Strategy = {
    name: 'flaky',
    evaluate(symbol, view, emit) {
      if (symbol === 'XRPUSDT') throw new Error('strategy bug');
      return demo.evaluate(symbol, view, emit);
    },
  };
  const trader: RunningTrader = await startTrader({
    name: 'flaky1',
    aggregator: { url: fx.agg.url, token: TOKENS.trader },
    mode: 'direct',
    rest: fx.rest,
    api: fx.api,
    strategy: flaky,
    symbols: S,
    reconcileMs: 0,
    now: () => fx.sim.clock.now(),
    logger: silent,
  });
  try {
    await waitFor(() => trader.status().strategyErrors > 0, 'the bug was counted');
    await fx.collector.jump('SOLUSDT', 1.5);
    await fx.collector.market(S, { window: false });
    await waitFor(async () => (await simPosition(fx.sim, 'SOLUSDT')) > 0, 'a long SOLUSDT position');
    assert.ok(trader.status().connected);
  } finally {
    await trader.close();
  }
});

test('a trader rides through an aggregator restart and trades on the rebuilt state', async () => {
  const S = ['BNBUSDT'];
  const port = Number(new URL(fx.agg.url).port);
  // A private aggregator on a known port, so it can be restarted in place.
  let agg: RunningAggregator = fx.agg;
  await fx.collector.market(S);
  await fx.collector.account(S);
  const trader = await startTrader({
    name: 'ride1',
    aggregator: { url: fx.agg.url, token: TOKENS.trader },
    mode: 'direct',
    rest: fx.rest,
    api: fx.api,
    strategy: 'demo',
    strategyParams: { openPct: 1, closePct: -0.5, quoteSize: 100 },
    symbols: S,
    reconcileMs: 0,
    now: () => fx.sim.clock.now(),
    logger: silent,
  });
  try {
    await waitFor(() => (trader.book.get('BNBUSDT')?.depth() ?? 0) >= 45, 'the book filled');
    await agg.close();
    await waitFor(() => !trader.status().connected, 'the trader saw the aggregator go');
    agg = await startTestAggregator({ port });
    await waitFor(
      () => trader.status().connected && fx.collector.client.connected,
      'both reconnected',
      15_000,
    );
    // The new aggregator's state comes from the readers' next publications.
    await fx.collector.market(S);
    await fx.collector.account(S);
    const orders0 = await simOrders(fx.sim);
    await fx.collector.jump('BNBUSDT', 1.5);
    await fx.collector.market(S, { window: false });
    await waitFor(async () => (await simPosition(fx.sim, 'BNBUSDT')) > 0, 'a long BNBUSDT position', 15_000);
    assert.equal((await simOrders(fx.sim)) - orders0, 1);
  } finally {
    await trader.close();
    // The fixture closes the aggregator it started (closing twice is harmless); the restarted
    // one is closed here. This test runs last: the fixture's aggregator is gone after it.
    if (agg !== fx.agg) await agg.close();
  }
});
