// UserStream against the in-process simulator: events of orders placed by signed REST, recovery
// from dropped sockets, -1125 on keepalive, listenKeyExpired (virtual clock), rotation, and ping
// liveness against a peer that never answers.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { type RunningSim, startSim } from '../../sim/index.ts';
import { createLogger } from '../log.ts';
import { simControl, TestRest, until, waitFor } from './testing-streams.ts';
import type { RestCaller } from './types.ts';
import {
  USER_EVENTS,
  type UserConnected,
  type UserEvent,
  type UserGap,
  UserStream,
  type UserStreamOptions,
} from './user-stream.ts';

const silent = createLogger('test', 'silent');
const ACCOUNT = {
  apiKey: 'uSeRsTrEaMtEsTkEy000000000000000000000000000000000000000000000001',
  apiSecret: 'uSeRsTrEaMtEsTsEcReT0000000000000000000000000000000000000000000001',
};
const ALL_EVENTS = USER_EVENTS.join('/');

let orderSeq = 0;

interface OrderUpdate {
  s: string;
  c: string;
  x: string;
  X: string;
}
const ord = (e: UserEvent): OrderUpdate => (e.o ?? {}) as OrderUpdate;

/**
 * Places a MARKET order by signed REST and resolves with the stream's ORDER_TRADE_UPDATE that
 * reports it FILLED (the listener is in place before the order goes out).
 */
async function orderRoundTrip(
  us: UserStream,
  rest: TestRest,
  side: 'BUY' | 'SELL' = 'BUY',
): Promise<UserEvent> {
  const id = `us-test-${++orderSeq}-${Date.now()}`;
  const filled = waitFor<[UserEvent]>(
    us,
    'event',
    (e) => e.e === 'ORDER_TRADE_UPDATE' && ord(e).c === id && ord(e).X === 'FILLED',
  );
  await rest.request(
    'POST',
    '/fapi/v1/order',
    { symbol: 'BTCUSDT', side, type: 'MARKET', quantity: '0.010', newClientOrderId: id },
    { security: 'TRADE' },
  );
  return (await filled)[0];
}

describe('UserStream against the simulator (real clock)', () => {
  let sim: RunningSim;
  let rest: TestRest;
  const streams: UserStream[] = [];

  function userStream(opts: Partial<UserStreamOptions> = {}): UserStream {
    const us = new UserStream({
      rest,
      wsBase: sim.wsUrl,
      backoff: { minMs: 30, maxMs: 500, jitter: 0.2 },
      log: silent,
      // These tests are the API key's only user: clean up the key (the default leaves it).
      deleteOnClose: true,
      ...opts,
    });
    streams.push(us);
    return us;
  }

  async function privateSockets(): Promise<number> {
    const stats = (await simControl(sim.restUrl, 'GET', '/sim/stats')) as {
      ws: { byRoute: { private: number } };
    };
    return stats.ws.byRoute.private;
  }

  before(async () => {
    sim = await startSim({ port: 0, symbols: 20, accounts: [ACCOUNT] });
    rest = new TestRest(sim.restUrl, ACCOUNT.apiKey, ACCOUNT.apiSecret);
  });

  // A failed test must not leave a stream behind: it would share (and fight over) the listenKey.
  afterEach(async () => {
    await Promise.all(streams.splice(0).map((s) => s.close()));
  });

  after(() => sim.close());

  it('connects on /private and receives ORDER_TRADE_UPDATE for an order placed by signed REST', async () => {
    const us = userStream();
    const connected = waitFor<[UserConnected]>(us, 'connected');
    await us.start();
    const [c] = await connected;
    assert.equal(c.reason, 'start');
    assert.equal(c.listenKey, us.listenKey);
    assert.ok(us.connected);
    assert.equal(await privateSockets(), 1);

    const events: UserEvent[] = [];
    us.on('event', (e) => events.push(e));
    const e = await orderRoundTrip(us, rest);
    const id = ord(e).c;
    assert.equal(ord(e).s, 'BTCUSDT');
    assert.equal(ord(e).x, 'TRADE');
    const mine = events.filter((x) => x.e === 'ORDER_TRADE_UPDATE' && ord(x).c === id);
    assert.equal(ord(mine[0]).X, 'NEW', 'NEW comes first');
    await until(() => events.some((x) => x.e === 'ACCOUNT_UPDATE'), 5_000, 'ACCOUNT_UPDATE');

    // close() with deleteOnClose deletes the key: the sim no longer knows one for this API key.
    await us.close();
    assert.equal(await privateSockets(), 0);
    await assert.rejects(rest.request('PUT', '/fapi/v1/listenKey', {}, { security: 'USER_STREAM' }), {
      code: -1125,
    });
  });

  it('after drop-ws: reconnects on the same key, reports the gap, and events flow again', async () => {
    const us = userStream();
    await us.start();
    const key = us.listenKey;
    const gap = waitFor<[UserGap]>(us, 'gap');
    const back = waitFor<[UserConnected]>(us, 'connected', (c) => c.reason === 'reconnect');
    await simControl(sim.restUrl, 'POST', '/sim/faults', { kind: 'drop-ws' });
    const t1 = rest.now();
    const [g] = await gap;
    const [c] = await back;
    assert.match(g.reason, /closed 1006/);
    assert.equal(g.keyReplaced, false);
    assert.ok(g.from <= t1 && g.to >= t1, `the gap ${g.from}..${g.to} spans the drop (${t1})`);
    assert.equal(c.listenKey, key, 'same key: it was still active');
    await orderRoundTrip(us, rest, 'SELL');
    await us.close();
  });

  it('keepalive answered -1125 (key deleted behind its back): new key, reconnect, gap', async () => {
    // Reconnect backoff far above the keepalive period: the recovery below is the keepalive's.
    const us = userStream({ keepaliveMs: 150, backoff: { minMs: 4_000, maxMs: 4_000, jitter: 0 } });
    await us.start();
    const oldKey = us.listenKey;
    const gap = waitFor<[UserGap]>(us, 'gap', () => true, 3_000);
    const back = waitFor<[UserConnected]>(us, 'connected', (c) => c.reason === 'reconnect', 3_000);
    const mark = rest.calls.length;
    // Another client of the same API key deletes it (the sim also closes our socket).
    await rest.request('DELETE', '/fapi/v1/listenKey', {}, { security: 'USER_STREAM' });
    const [g] = await gap;
    const [c] = await back;
    assert.equal(g.keyReplaced, true);
    assert.match(g.reason, /-1125/);
    assert.notEqual(c.listenKey, oldKey);
    assert.equal(us.listenKey, c.listenKey);
    const calls = rest.calls.slice(mark).map((x) => `${x.method} ${x.status} ${x.code ?? ''}`.trim());
    const i = calls.indexOf('PUT 400 -1125');
    assert.ok(i > 0, `a keepalive got -1125: ${calls.join(', ')}`);
    assert.ok(calls.slice(i).includes('POST 200'), 'then a new key was created');
    await orderRoundTrip(us, rest);
    await us.close();
  });

  it('rotates the socket before the lifetime cap: overlap, no duplicate, no gap', async () => {
    const us = userStream({ maxLifetimeMs: 300, overlapMs: 1_500 });
    const gaps: UserGap[] = [];
    us.on('gap', (g) => gaps.push(g));
    const seen: string[] = [];
    us.on('event', (e) => seen.push(JSON.stringify(e)));
    await us.start();
    const rotated = waitFor<[UserConnected]>(us, 'connected', (c) => c.reason === 'rotation', 5_000);
    // Both sockets open: the order's events reach both, and come out once.
    await until(async () => (await privateSockets()) === 2, 3_000, 'the second socket');
    const e = await orderRoundTrip(us, rest, 'SELL');
    const id = ord(e).c;
    assert.equal(us.connected, true);
    const [c] = await rotated;
    assert.equal(c.listenKey, us.listenKey);
    assert.deepEqual(gaps, []);
    assert.equal(new Set(seen).size, seen.length, 'no event delivered twice');
    assert.equal(seen.filter((x) => x.includes(id) && x.includes('"X":"FILLED"')).length, 1);
  });

  it('defaults: keepalive every 30 min; close() leaves the shared key to the other processes', async () => {
    const us = userStream({ deleteOnClose: undefined });
    assert.equal(us.settings.keepaliveMs, 30 * 60_000);
    assert.equal(us.settings.deleteOnClose, false);
    await us.start();
    const key = us.listenKey;
    // A second process of the same API key gets the same key, and shuts down.
    const other = new UserStream({ rest, wsBase: sim.wsUrl, log: silent });
    streams.push(other);
    await other.start();
    assert.equal(other.listenKey, key);
    await other.close();
    // The first stream's key is still alive.
    const put = await rest.request<{ listenKey?: string }>(
      'PUT',
      '/fapi/v1/listenKey',
      {},
      { security: 'USER_STREAM' },
    );
    assert.equal(put.listenKey ?? key, key);
    assert.equal(us.connected, true);
    await orderRoundTrip(us, rest);
  });
});

describe('UserStream with a virtual clock', () => {
  let sim: RunningSim;
  let rest: TestRest;

  before(async () => {
    sim = await startSim({ port: 0, symbols: 5, accounts: [ACCOUNT], virtualClock: true });
    rest = new TestRest(sim.restUrl, ACCOUNT.apiKey, ACCOUNT.apiSecret);
    await rest.syncTime();
  });

  after(() => sim.close());

  it('on listenKeyExpired: creates a new key, reconnects, reports the gap, and events flow on the new key', async () => {
    const us = new UserStream({
      rest,
      wsBase: sim.wsUrl,
      backoff: { minMs: 30, maxMs: 500, jitter: 0.2 },
      log: silent,
    });
    try {
      await us.start();
      const oldKey = us.listenKey;
      const expired = waitFor<[UserEvent]>(us, 'event', (e) => e.e === 'listenKeyExpired');
      const gap = waitFor<[UserGap]>(us, 'gap');
      const back = waitFor<[UserConnected]>(us, 'connected', (c) => c.reason === 'reconnect');
      await simControl(sim.restUrl, 'POST', '/sim/clock', { advanceMs: 3_660_000 });
      const [e] = await expired;
      assert.equal(e.listenKey, oldKey);
      const [g] = await gap;
      const [c] = await back;
      assert.equal(g.reason, 'listenKeyExpired');
      assert.equal(g.keyReplaced, true);
      assert.ok(g.from <= g.to);
      assert.notEqual(c.listenKey, oldKey);
      await rest.syncTime();
      await orderRoundTrip(us, rest);
    } finally {
      await us.close();
    }
  });
});

describe('UserStream liveness', () => {
  it('sends an explicit events list and replaces a socket whose peer never answers pings', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
    const urls: string[] = [];
    wss.on('connection', (_ws, req) => urls.push(req.url ?? ''));
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const { port } = wss.address() as AddressInfo;
    const calls: string[] = [];
    const fake: RestCaller = {
      now: () => Date.now(),
      async request<T>(method: string, path: string): Promise<T> {
        calls.push(`${method} ${path}`);
        return { listenKey: 'k1' } as T;
      },
    };
    const us = new UserStream({
      rest: fake,
      wsBase: `ws://127.0.0.1:${port}/`,
      events: ['ORDER_TRADE_UPDATE', 'ACCOUNT_UPDATE'],
      pingIntervalMs: 100,
      pongTimeoutMs: 200,
      backoff: { minMs: 20, maxMs: 100, jitter: 0 },
      log: silent,
    });
    try {
      const gap = waitFor<[UserGap]>(us, 'gap', () => true, 3_000);
      await us.start();
      const [g] = await gap;
      assert.match(g.reason, /^pong timeout/);
      assert.equal(g.keyReplaced, false);
      assert.deepEqual(urls.slice(0, 2), [
        '/private/ws?listenKey=k1&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/listenKeyExpired',
        '/private/ws?listenKey=k1&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/listenKeyExpired',
      ]);
      assert.deepEqual(calls.slice(0, 2), ['POST /fapi/v1/listenKey', 'POST /fapi/v1/listenKey']);
    } finally {
      await us.close();
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    }
    assert.ok(!calls.includes('DELETE /fapi/v1/listenKey'), 'default: close() leaves the shared key alone');
    assert.ok(ALL_EVENTS.endsWith('listenKeyExpired'));
  });
});
