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

describe('control API and faults over HTTP', () => {
  let sim: RunningSim;
  const account = { apiKey: 'h'.repeat(64), apiSecret: 'i'.repeat(64) };

  before(async () => {
    sim = await startSim({ port: 0, symbols: 5, virtualClock: true, startTime: START, accounts: [account] });
  });
  after(async () => {
    await closeAgents();
    await sim.close();
  });

  test('GET /sim describes the control API and the clock', async () => {
    const r = await control(sim.restUrl, 'GET', '/sim');
    assert.equal(r.virtualClock, true);
    assert.equal(r.time, sim.clock.now());
    for (const k of ['GET /sim/stats', 'POST /sim/reset', 'GET|POST|DELETE /sim/faults', 'POST /sim/clock'])
      assert.ok(k in r.endpoints, k);
  });

  test('a negative clock skew moves the reported time back but the market keeps moving', async () => {
    const t0 = (await call(sim.restUrl, 'GET', '/fapi/v1/time')).body.serverTime;
    const d0 = (await call(sim.restUrl, 'GET', '/fapi/v1/depth', { symbol: 'BTCUSDT', limit: 5 })).body;
    const k0 = (
      await call(sim.restUrl, 'GET', '/fapi/v1/klines', { symbol: 'BTCUSDT', interval: '1m', limit: 1 })
    ).body[0];
    const r = await control(sim.restUrl, 'POST', '/sim/faults', { kind: 'skew', ms: -120_000 });
    assert.equal(r.skewMs, -120_000);
    assert.equal((await call(sim.restUrl, 'GET', '/fapi/v1/time')).body.serverTime, t0 - 120_000);
    // Time passes: the market moves on (before the fix it waited two minutes for the skewed clock).
    await control(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 90_000 });
    const d1 = (await call(sim.restUrl, 'GET', '/fapi/v1/depth', { symbol: 'BTCUSDT', limit: 5 })).body;
    assert.ok(d1.lastUpdateId > d0.lastUpdateId + 300, `${d0.lastUpdateId} → ${d1.lastUpdateId}`);
    const k1 = (
      await call(sim.restUrl, 'GET', '/fapi/v1/klines', { symbol: 'BTCUSDT', interval: '1m', limit: 1 })
    ).body[0];
    assert.ok(k1[0] > k0[0], 'new bars form');
    const server = (await call(sim.restUrl, 'GET', '/fapi/v1/time')).body.serverTime;
    assert.equal(server, t0 - 120_000 + 90_000);
    // Signed requests are checked against the skewed time.
    const ok = await call(
      sim.restUrl,
      'GET',
      '/fapi/v2/balance',
      {},
      { account, signed: true, timestamp: server },
    );
    assert.equal(ok.status, 200);
    const ahead = await call(
      sim.restUrl,
      'GET',
      '/fapi/v2/balance',
      {},
      { account, signed: true, timestamp: server + 120_000 },
    );
    assert.equal(ahead.body.code, -1021);
    await control(sim.restUrl, 'DELETE', '/sim/faults');
    assert.equal((await call(sim.restUrl, 'GET', '/fapi/v1/time')).body.serverTime, t0 + 90_000);
  });

  test('a latency fault delays the matching answers, then runs out', async () => {
    await control(sim.restUrl, 'POST', '/sim/faults', {
      kind: 'latency',
      ms: 300,
      path: '/fapi/v1/ping',
      method: 'GET',
      count: 1,
    });
    assert.equal((await control(sim.restUrl, 'GET', '/sim/faults')).faults.length, 1);
    const t = Date.now();
    assert.equal((await call(sim.restUrl, 'GET', '/fapi/v1/ping')).status, 200);
    assert.ok(Date.now() - t >= 290, 'delayed');
    assert.deepEqual((await control(sim.restUrl, 'GET', '/sim/faults')).faults, [], 'count used up');
  });

  test('drop-ws closes every WebSocket connection', async () => {
    const ws = new WebSocket(`${sim.wsUrl}/market/ws/btcusdt@markPrice`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const r = await control(sim.restUrl, 'POST', '/sim/faults', { kind: 'drop-ws' });
    assert.equal(r.dropped, 1);
    await closed;
    assert.equal((await control(sim.restUrl, 'GET', '/sim/stats')).ws.connections, 0);
  });

  test('POST /sim/reset: accounts, limits and faults back to the start; private sockets get listenKeyExpired and close', async () => {
    const price = Number(
      (await call(sim.restUrl, 'GET', '/fapi/v1/ticker/price', { symbol: 'ETHUSDT' })).body.price,
    );
    const placed = await call(
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
      },
      { account, signed: true, timestamp: sim.clock.now() },
    );
    assert.equal(placed.status, 200, JSON.stringify(placed.body));
    await control(sim.restUrl, 'POST', '/sim/faults', {
      kind: 'error',
      status: 503,
      path: '/fapi/v1/exchangeInfo',
    });
    const key = (await call(sim.restUrl, 'POST', '/fapi/v1/listenKey', {}, { account })).body.listenKey;
    const ws = new WebSocket(`${sim.wsUrl}/private/ws?listenKey=${key}`);
    const frames: any[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

    assert.deepEqual(await control(sim.restUrl, 'POST', '/sim/reset'), { ok: true });
    assert.equal(await closed, 1000);
    assert.deepEqual(
      frames.map((f) => [f.e, f.listenKey]),
      [['listenKeyExpired', key]],
    );
    const stats = await control(sim.restUrl, 'GET', '/sim/stats');
    assert.deepEqual(Object.keys(stats.ips), []);
    assert.equal(stats.accounts[account.apiKey].orders, 0);
    assert.deepEqual((await control(sim.restUrl, 'GET', '/sim/faults')).faults, []);
    assert.equal((await call(sim.restUrl, 'GET', '/fapi/v1/exchangeInfo')).status, 200);
    const open = await call(
      sim.restUrl,
      'GET',
      '/fapi/v1/openOrders',
      {},
      { account, signed: true, timestamp: sim.clock.now() },
    );
    assert.deepEqual(open.body, []);
    assert.equal((await call(sim.restUrl, 'PUT', '/fapi/v1/listenKey', {}, { account })).body.code, -1125);
  });
});

describe('liquidation scenario over HTTP and the user-data stream', () => {
  let sim: RunningSim;
  const long = { apiKey: 'l'.repeat(64), apiSecret: 'm'.repeat(64), balance: '1000' };
  const short = { apiKey: 'n'.repeat(64), apiSecret: 'o'.repeat(64), balance: '1000' };

  before(async () => {
    sim = await startSim({
      port: 0,
      symbols: 5,
      virtualClock: true,
      startTime: START,
      accounts: [long, short],
    });
  });
  after(async () => {
    await closeAgents();
    await sim.close();
  });

  const signed = (
    account: { apiKey: string; apiSecret: string },
    method: string,
    path: string,
    params: Record<string, string> = {},
  ) => call(sim.restUrl, method, path, params, { account, signed: true, timestamp: sim.clock.now() });

  /** A private stream of the account, collecting every frame. */
  async function stream(account: { apiKey: string; apiSecret: string }) {
    const key = (await call(sim.restUrl, 'POST', '/fapi/v1/listenKey', {}, { account })).body.listenKey;
    const ws = new WebSocket(`${sim.wsUrl}/private/ws?listenKey=${key}`);
    const frames: any[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return { ws, frames };
  }

  /** Polls until pred holds on the frames, or fails at the deadline. */
  async function until(frames: any[], pred: (f: any[]) => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(frames)) {
      if (Date.now() > deadline) assert.fail(`condition not met; frames: ${JSON.stringify(frames)}`);
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Opens a position of about 8000 USDT notional: [positionAmt, liquidation price, entry]. */
  async function openPosition(account: typeof long, side: 'BUY' | 'SELL'): Promise<[string, number, number]> {
    await control(sim.restUrl, 'POST', '/sim/price', { symbol: 'BTCUSDT', price: '60000' });
    const r = await signed(account, 'POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side,
      type: 'MARKET',
      quantity: '0.130',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const pr = (await signed(account, 'GET', '/fapi/v3/positionRisk', { symbol: 'BTCUSDT' })).body;
    assert.equal(pr.length, 1);
    return [pr[0].positionAmt, Number(pr[0].liquidationPrice), Number(pr[0].entryPrice)];
  }

  const positions = async (account: typeof long) =>
    (await signed(account, 'GET', '/fapi/v3/positionRisk', { symbol: 'BTCUSDT' })).body as any[];

  test('a cross long: one tick short of its liquidation price untouched; through it, forced out', async () => {
    const { ws, frames } = await stream(long);
    try {
      const [amt, lp, entry] = await openPosition(long, 'BUY');
      assert.equal(amt, '0.130');
      assert.ok(lp > 50000 && lp < 60000, `${lp}`);
      await control(sim.restUrl, 'POST', '/sim/price', {
        symbol: 'BTCUSDT',
        price: (Math.ceil(lp * 10) / 10 + 0.1).toFixed(1),
      });
      assert.equal((await positions(long))[0]?.positionAmt, '0.130', 'just short of it: untouched');
      assert.ok(!frames.some((f) => f.e === 'ORDER_TRADE_UPDATE' && f.o.o === 'LIQUIDATION'));
      await until(frames, (f) => f.some((x) => x.e === 'MARGIN_CALL'));

      await control(sim.restUrl, 'POST', '/sim/price', {
        symbol: 'BTCUSDT',
        price: String(Math.floor(lp - 500)),
      });
      await until(frames, (f) => f.some((x) => x.e === 'ACCOUNT_UPDATE' && x.a.P[0]?.pa === '0'));
      const liq = frames
        .filter((f) => f.e === 'ORDER_TRADE_UPDATE' && f.o.o === 'LIQUIDATION')
        .map((f) => f.o);
      assert.deepEqual(
        liq.map((o) => [o.x, o.X, o.S, o.q]),
        [
          ['NEW', 'NEW', 'SELL', '0.13'],
          ['CALCULATED', 'FILLED', 'SELL', '0.13'],
        ],
      );
      assert.match(liq[0].c, /^autoclose-\d+$/);
      const fill = Number(liq[1].L);
      assert.ok(
        fill <= lp && fill > lp - 0.11,
        `filled at the liquidation price ${lp}, not the mark: ${fill}`,
      );
      const au = frames.filter((f) => f.e === 'ACCOUNT_UPDATE').at(-1);
      assert.equal(au.a.m, 'ORDER');
      assert.deepEqual(await positions(long), [], 'gone from positionRisk');
      const acct = (await signed(long, 'GET', '/fapi/v3/account')).body;
      assert.deepEqual(acct.positions, []);

      const income = (await signed(long, 'GET', '/fapi/v1/income', { incomeType: 'REALIZED_PNL' })).body;
      assert.equal(income.length, 1);
      assert.equal(Number(income[0].income).toFixed(2), ((fill - entry) * 0.13).toFixed(2));

      const before = (await call(sim.restUrl, 'GET', '/fapi/v1/time')).headers['x-mbx-used-weight-1m'];
      const fo = await signed(long, 'GET', '/fapi/v1/forceOrders', { symbol: 'BTCUSDT' });
      assert.equal(fo.status, 200);
      assert.equal(Number(fo.headers['x-mbx-used-weight-1m']) - Number(before), 20, 'weight 20 with symbol');
      assert.deepEqual(
        fo.body.map((o: any) => [o.clientOrderId, o.orderId, o.status, o.side, o.executedQty]),
        [[liq[0].c, liq[0].i, 'FILLED', 'SELL', '0.130']],
      );
    } finally {
      ws.close();
    }
  });

  test('an isolated short: liquidated when the mark rises through its price; the isolated margin is lost', async () => {
    assert.equal(
      (await signed(short, 'POST', '/fapi/v1/marginType', { symbol: 'BTCUSDT', marginType: 'ISOLATED' }))
        .status,
      200,
    );
    const { ws, frames } = await stream(short);
    try {
      const [amt, lp] = await openPosition(short, 'SELL');
      assert.equal(amt, '-0.130');
      assert.ok(lp > 60000, `${lp}`);
      const wallet0 = Number((await signed(short, 'GET', '/fapi/v3/balance')).body[0].balance);
      const iw = Number((await positions(short))[0].isolatedMargin);
      await control(sim.restUrl, 'POST', '/sim/price', {
        symbol: 'BTCUSDT',
        price: (Math.floor(lp * 10) / 10 - 0.1).toFixed(1),
      });
      assert.equal((await positions(short))[0]?.positionAmt, '-0.130', 'just short of it: untouched');
      await control(sim.restUrl, 'POST', '/sim/price', {
        symbol: 'BTCUSDT',
        price: String(Math.ceil(lp + 300)),
      });
      await until(frames, (f) => f.some((x) => x.e === 'ACCOUNT_UPDATE' && x.a.m === 'INSURANCE_CLEAR'));
      const liq = frames
        .filter((f) => f.e === 'ORDER_TRADE_UPDATE' && f.o.o === 'LIQUIDATION')
        .map((f) => f.o);
      assert.deepEqual(
        liq.map((o) => [o.x, o.X, o.S]),
        [
          ['NEW', 'NEW', 'BUY'],
          ['CALCULATED', 'FILLED', 'BUY'],
        ],
      );
      assert.deepEqual(await positions(short), []);
      const income = (await signed(short, 'GET', '/fapi/v1/income')).body as any[];
      assert.deepEqual(
        income.map((r) => r.incomeType).filter((t) => t !== 'COMMISSION'),
        ['REALIZED_PNL', 'INSURANCE_CLEAR'],
      );
      const wallet1 = Number((await signed(short, 'GET', '/fapi/v3/balance')).body[0].balance);
      assert.ok(
        Math.abs(wallet0 - wallet1 - iw) < 1,
        `lost the isolated margin ${iw}: ${wallet0} → ${wallet1}`,
      );
    } finally {
      ws.close();
    }
  });
});
