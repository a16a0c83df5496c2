// Deterministic scenarios on the simulator's virtual clock: scripted paths, same seed → same
// market, and the user-data stream's listenKey lifecycle over a real WebSocket.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { type RunningSim, startSim } from '../sim/index.ts';
import { call, closeAgents, control } from './helpers/rest.ts';

const START = Date.UTC(2026, 5, 1, 0, 0, 0);

/** Resolves with the first message matching `pred`, or rejects after `ms`. */
function nextMessage(ws: WebSocket, pred: (m: any) => boolean, ms = 5000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', on);
      reject(new Error('no matching message before the deadline'));
    }, ms);
    const on = (data: WebSocket.RawData) => {
      const m = JSON.parse(data.toString());
      if (pred(m)) {
        clearTimeout(timer);
        ws.off('message', on);
        resolve(m);
      }
    };
    ws.on('message', on);
  });
}

describe('virtual-clock scenarios', () => {
  let sim: RunningSim;
  const account = { apiKey: 'f'.repeat(64), apiSecret: 'g'.repeat(64) };

  before(async () => {
    sim = await startSim({ port: 0, symbols: 10, virtualClock: true, startTime: START, accounts: [account] });
  });
  after(async () => {
    await closeAgents();
    await sim.close();
  });

  test('exchange time is the virtual clock', async () => {
    const t = await call(sim.restUrl, 'GET', '/fapi/v1/time');
    assert.equal(t.body.serverTime, START);
    const r = await control(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 1500 });
    assert.equal(r.time, START + 1500);
  });

  test('"BTCUSDT +1.5 % within 20 s" lands on the target', async () => {
    const p0 = Number(
      (await call(sim.restUrl, 'GET', '/fapi/v1/ticker/price', { symbol: 'BTCUSDT' })).body.price,
    );
    const path = await control(sim.restUrl, 'POST', '/sim/path', {
      symbol: 'BTCUSDT',
      changePercent: 1.5,
      durationMs: 20_000,
    });
    assert.ok(Math.abs(Number(path.target) / p0 - 1.015) < 1e-6);
    await control(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 10_000 });
    const mid = Number(
      (await call(sim.restUrl, 'GET', '/fapi/v1/ticker/price', { symbol: 'BTCUSDT' })).body.price,
    );
    assert.ok(mid > p0 && mid < p0 * 1.015, `halfway: ${p0} < ${mid} < ${p0 * 1.015}`);
    await control(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 10_000 });
    const p1 = Number(
      (await call(sim.restUrl, 'GET', '/fapi/v1/ticker/price', { symbol: 'BTCUSDT' })).body.price,
    );
    assert.ok(Math.abs(p1 / (p0 * 1.015) - 1) < 0.0005, `${p1} ≈ ${p0 * 1.015}`);
    const kl = await call(sim.restUrl, 'GET', '/fapi/v1/klines', {
      symbol: 'BTCUSDT',
      interval: '1m',
      limit: 2,
    });
    const highs = kl.body.map((k: string[]) => Number(k[2]));
    assert.ok(Math.max(...highs) >= p1, 'the klines saw the move');
  });

  test('a stale-data fault freezes a symbol until it runs out or faults are cleared', async () => {
    const book = async (symbol: string) =>
      (await call(sim.restUrl, 'GET', '/fapi/v1/ticker/bookTicker', { symbol })).body as { time: number };
    await control(sim.restUrl, 'POST', '/sim/faults', { kind: 'stale', symbol: 'BTCUSDT', ms: 60_000 });
    const frozen = (await book('BTCUSDT')).time;
    const other = (await book('ETHUSDT')).time;
    await control(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 5_000 });
    assert.equal((await book('BTCUSDT')).time, frozen);
    assert.ok((await book('ETHUSDT')).time > other, 'other symbols keep moving');
    await control(sim.restUrl, 'DELETE', '/sim/faults');
    await control(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 2_000 });
    assert.ok((await book('BTCUSDT')).time > frozen);
  });

  test('the same seed and the same clock give the same market', async () => {
    const a = await startSim({ port: 0, symbols: 5, seed: 7, virtualClock: true, startTime: START });
    const b = await startSim({ port: 0, symbols: 5, seed: 7, virtualClock: true, startTime: START });
    try {
      for (const s of [a, b]) await control(s.restUrl, 'POST', '/sim/clock', { advanceMs: 5 * 60_000 });
      const q = { symbol: 'SOLUSDT', interval: '1m', limit: 30 };
      const ka = await call(a.restUrl, 'GET', '/fapi/v1/klines', q);
      const kb = await call(b.restUrl, 'GET', '/fapi/v1/klines', q);
      assert.deepEqual(ka.body, kb.body);
      assert.equal(ka.body.length, 30);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('user-data stream: events, then listenKeyExpired 60 minutes after the last keepalive, then -1125', async () => {
    const lk = await call(sim.restUrl, 'POST', '/fapi/v1/listenKey', {}, { account });
    assert.equal(lk.status, 200);
    const key = lk.body.listenKey as string;
    assert.match(key, /^[A-Za-z0-9]{64}$/);
    const again = await call(sim.restUrl, 'POST', '/fapi/v1/listenKey', {}, { account });
    assert.equal(again.body.listenKey, key, 'POST while active returns the same key');

    const ws = new WebSocket(`${sim.wsUrl}/private/ws?listenKey=${key}`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    try {
      const price = Number(
        (await call(sim.restUrl, 'GET', '/fapi/v1/ticker/price', { symbol: 'ETHUSDT' })).body.price,
      );
      const newEvent = nextMessage(ws, (m) => m.e === 'ORDER_TRADE_UPDATE' && m.o.c === 'scenario-1');
      const order = await call(
        sim.restUrl,
        'POST',
        '/fapi/v1/order',
        {
          symbol: 'ETHUSDT',
          side: 'BUY',
          type: 'LIMIT',
          timeInForce: 'GTC',
          quantity: '0.05',
          price: (Math.floor(price * 0.95 * 100) / 100).toFixed(2),
          newClientOrderId: 'scenario-1',
        },
        { account, signed: true, timestamp: sim.clock.now() },
      );
      assert.equal(order.status, 200, JSON.stringify(order.body));
      const ev = await newEvent;
      assert.equal(ev.o.X, 'NEW');
      assert.equal(ev.o.x, 'NEW');

      // Keepalive at +30 min extends the key to +90 min.
      await control(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 30 * 60_000 });
      const kept = await call(sim.restUrl, 'PUT', '/fapi/v1/listenKey', {}, { account });
      assert.equal(kept.status, 200);
      const expired = nextMessage(ws, (m) => m.e === 'listenKeyExpired');
      await control(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 59 * 60_000 });
      assert.equal(
        (await call(sim.restUrl, 'PUT', '/fapi/v1/listenKey', {}, { account })).status,
        200,
        'still alive at +89 min',
      );
      await control(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 61 * 60_000 });
      const ex = await expired;
      assert.equal(ex.listenKey, key);
      const gone = await call(sim.restUrl, 'PUT', '/fapi/v1/listenKey', {}, { account });
      assert.equal(gone.body.code, -1125);
      const fresh = await call(sim.restUrl, 'POST', '/fapi/v1/listenKey', {}, { account });
      assert.notEqual(fresh.body.listenKey, key);
    } finally {
      ws.close();
    }
  });
});
