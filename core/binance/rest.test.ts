// BinanceRest against the in-process simulator, with its fault injection. The simulator runs
// with a weight limit of 300 per minute so that saturating an address takes a second, not a
// minute; every test uses its own egress address (127.0.0.x) because the window is a real minute.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Pool, request } from 'undici';
import { type RunningSim, startSim } from '../../sim/index.ts';
import {
  AuthError,
  ClockError,
  InvalidRequestError,
  IpBannedError,
  isRetrySafe,
  ListenKeyError,
  NetworkError,
  OrderNotFoundError,
  RateLimitError,
  ServerError,
  UnknownOutcomeError,
} from './errors.ts';
import { BinanceRest, type BinanceRestOptions, createClient } from './rest.ts';
import { Throttler } from './throttle.ts';
import { simulator } from './types.ts';

const WEIGHT_LIMIT = 300;
const account = { apiKey: 'c'.repeat(64), apiSecret: 'd'.repeat(64) };

interface IpStats {
  weight1m: number;
  requests: number;
  http429: number;
  http418: number;
  bannedUntil: number;
}

function capture(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** Polls fn until it returns a value other than undefined/false, with a deadline. */
async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { deadlineMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.deadlineMs ?? 10_000);
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => (opts.everyMs ? setTimeout(r, opts.everyMs) : setImmediate(r)));
  }
}

describe('BinanceRest against the simulator', () => {
  let sim: RunningSim;
  const clients: BinanceRest[] = [];

  const control = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await request(`${sim.restUrl}${path}`, {
      method: method as 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    assert.equal(res.statusCode, 200, text);
    return JSON.parse(text);
  };
  const ipStats = async (ip: string): Promise<IpStats | undefined> =>
    (await control('GET', '/sim/stats')).ips[ip];

  const client = (opts: Partial<BinanceRestOptions> = {}): BinanceRest => {
    const c = new BinanceRest({
      endpoints: simulator(sim.restUrl),
      apiKey: account.apiKey,
      apiSecret: account.apiSecret,
      weightLimit: WEIGHT_LIMIT,
      logger: pino({ level: 'silent' }),
      throttler: new Throttler(),
      clockSyncMs: 0,
      ...opts,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    sim = await startSim({ port: 0, symbols: 20, accounts: [account], weightLimit: WEIGHT_LIMIT });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.close();
  });

  test('reads and signed requests: gzip, form bodies, query strings, typed rejections', async () => {
    const c = client({ localAddress: '127.0.0.1' });
    const kl = await c.request<unknown[][]>('GET', '/fapi/v1/klines', {
      symbol: 'ETHUSDT',
      interval: '1m',
      limit: 45,
    });
    assert.equal(kl.length, 45, 'a gzipped answer (≥ 1 KiB) decompressed');
    const bal = await c.request<Array<{ asset: string }>>('GET', '/fapi/v2/balance');
    assert.ok(bal.some((b) => b.asset === 'USDT'));
    assert.ok(Math.abs(c.now() - Date.now()) < 1000);
    const lev = await c.request<{ leverage: number }>('POST', '/fapi/v1/leverage', {
      symbol: 'BTCUSDT',
      leverage: 7,
    });
    assert.equal(lev.leverage, 7);
    await assert.rejects(c.request('GET', '/fapi/v1/klines', { symbol: 'NOPEUSDT', interval: '1m' }), (e) => {
      assert.ok(e instanceof InvalidRequestError && e.code === -1121 && !e.retrySafe);
      return true;
    });
    await assert.rejects(c.request('PUT', '/fapi/v1/listenKey'), ListenKeyError);
    const bad = client({ apiSecret: 'x'.repeat(64), localAddress: '127.0.0.1', throttler: c.throttler });
    await assert.rejects(bad.request('GET', '/fapi/v2/balance'), (e) => {
      assert.ok(e instanceof AuthError && e.code === -1022);
      return true;
    });
    await assert.rejects(client({ apiKey: undefined }).request('GET', '/fapi/v2/balance'), AuthError);
    const u = c.usage();
    assert.equal(u.address, '127.0.0.1');
    assert.equal(u.weightLimit, 294);
    assert.equal(u.serverWeightLimit, 300);
    assert.ok(u.requests >= 5 && u.errors === 2);
    const s = await ipStats('127.0.0.1');
    assert.ok(s && u.weightUsed >= s.weight1m, 'the local count is never below the server count');
  });

  test('clock skew of +5 s and -5 s is absorbed: re-sync and one retry, no ClockError', async () => {
    const c = client({ localAddress: '127.0.0.6' });
    await c.request('GET', '/fapi/v2/balance');
    assert.ok(Math.abs(c.usage().clockOffsetMs) < 200);
    try {
      for (const skew of [5000, -5000, 5000]) {
        await control('POST', '/sim/faults', { kind: 'skew', ms: skew });
        // Several signed requests at once: all succeed, one re-sync serves them all.
        const syncs = c.usage().clockSyncs;
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, () => c.request('GET', '/fapi/v1/openOrders', { symbol: 'BTCUSDT' })),
        );
        for (const r of results) {
          if (r.status === 'rejected') assert.ok(!(r.reason instanceof ClockError), String(r.reason));
          assert.equal(r.status, 'fulfilled');
        }
        assert.ok(c.usage().clockSyncs - syncs <= 1, 'concurrent -1021 answers share one re-sync');
        assert.ok(
          Math.abs(c.usage().clockOffsetMs - skew) < 200,
          `offset ${c.usage().clockOffsetMs} for ${skew}`,
        );
        assert.ok(Math.abs(c.now() - sim.clock.now()) < 200);
      }
      assert.ok(c.usage().clockRetries >= 2, 'the -1021 path was exercised');
    } finally {
      await control('DELETE', '/sim/faults');
    }
  });

  test('a saturating loop from one address uses ≥ 90 % of the budget and never gets a 429', async () => {
    const c = client({ localAddress: '127.0.0.4' });
    const reads: Array<() => Promise<unknown>> = [
      () => c.request('GET', '/fapi/v1/klines', { symbol: 'BTCUSDT', interval: '1m', limit: 45 }),
      () => c.request('GET', '/fapi/v1/ticker/bookTicker', { symbol: 'ETHUSDT' }),
      () => c.request('GET', '/fapi/v1/premiumIndex', { symbol: 'SOLUSDT' }),
      () => c.request('GET', '/fapi/v2/balance'),
      () => c.request('GET', '/fapi/v1/depth', { symbol: 'BTCUSDT', limit: 5 }),
      () => c.request('GET', '/fapi/v1/klines', { symbol: 'XRPUSDT', interval: '5m', limit: 120 }),
    ];
    const workers = 8;
    let done = 0;
    const errors: unknown[] = [];
    // Workers run until the budget is used up; then they wait in the throttler's queue.
    const loops = Array.from({ length: workers }, async (_, k) => {
      for (let i = k; ; i++) {
        try {
          await reads[i % reads.length]();
          done++;
        } catch (err) {
          if (String(err).includes('closed')) return;
          errors.push(err);
          return;
        }
      }
    });
    await until('every worker waiting for budget', () => c.usage().queued === workers || errors.length > 0);
    assert.deepEqual(errors, []);
    const s = (await ipStats('127.0.0.4'))!;
    assert.equal(s.http429, 0);
    assert.equal(s.http418, 0);
    assert.ok(s.weight1m >= 0.9 * WEIGHT_LIMIT, `used ${s.weight1m} of ${WEIGHT_LIMIT}`);
    assert.ok(s.weight1m <= 294);
    const u = c.usage();
    assert.equal(u.requests, done + 3, 'the loop plus the clock sync (3 samples)');
    assert.equal(s.requests, u.requests, 'nothing sent while waiting');
    assert.ok(u.weightUsed >= s.weight1m);
    // noWait: refused locally, never sent.
    await assert.rejects(c.request('GET', '/fapi/v1/ping', undefined, { noWait: true }), (e) => {
      assert.ok(e instanceof RateLimitError && e.retryAfterMs! > 0 && e.status === undefined);
      return true;
    });
    await c.close();
    await Promise.all(loops);
    assert.equal((await ipStats('127.0.0.4'))!.requests, done + 3);
  });

  test('two clients on 127.0.0.2 and 127.0.0.3 have separate budgets', async () => {
    const throttler = new Throttler();
    const c2 = client({ localAddress: '127.0.0.2', throttler });
    const c3 = client({ localAddress: '127.0.0.3', throttler });
    let n = 0;
    for (;;) {
      try {
        await c2.request('GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' }, { noWait: true });
        n++;
      } catch (err) {
        assert.ok(err instanceof RateLimitError, String(err));
        break;
      }
    }
    assert.equal(n, 147, '294 / 2');
    await c3.request('GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' }, { noWait: true });
    const stats = (await control('GET', '/sim/stats')).ips as Record<string, IpStats>;
    assert.equal(stats['127.0.0.2'].weight1m, 294);
    assert.equal(stats['127.0.0.3'].weight1m, 2);
    assert.equal(stats['127.0.0.2'].http429 + stats['127.0.0.3'].http429, 0);
    const labels = c2.usage().addresses.map((a) => [a.label, a.used[0]]);
    assert.deepEqual(labels, [
      ['127.0.0.2', 294],
      ['127.0.0.3', 2],
    ]);
  });

  test('418 fences the address: requests fail fast (or wait) without reaching the server; logged once', async () => {
    const ip = '127.0.0.5';
    // Provoke a ban with a raw loop from the same address that ignores 429s.
    const raw = new Pool(sim.restUrl, { localAddress: ip, connections: 1 });
    let status = 0;
    for (let i = 0; i < 500 && status !== 418; i++) {
      const res = await raw.request({ method: 'GET', path: '/fapi/v1/ticker/bookTicker?symbol=BTCUSDT' });
      await res.body.text();
      status = res.statusCode;
    }
    await raw.close();
    assert.equal(status, 418);
    const bannedUntil = (await ipStats(ip))!.bannedUntil;
    assert.ok(bannedUntil > Date.now() + 60_000);

    const throttler = new Throttler();
    const { logger, lines } = capture();
    const c = client({ localAddress: ip, throttler, logger });
    // Concurrent requests all meet the 418: one ban, one log line.
    const first = await Promise.allSettled(
      Array.from({ length: 5 }, () => c.request('GET', '/fapi/v1/ticker/bookTicker', { symbol: 'ETHUSDT' })),
    );
    for (const r of first) {
      assert.equal(r.status, 'rejected');
      const e = (r as PromiseRejectedResult).reason;
      assert.ok(e instanceof IpBannedError, String(e));
      assert.ok(Math.abs(e.until - bannedUntil) < 1000, 'until from "banned until <ms>"');
    }
    const sent = (await ipStats(ip))!.requests;
    for (let i = 0; i < 5; i++) {
      await assert.rejects(c.request('GET', '/fapi/v2/balance'), IpBannedError);
      await assert.rejects(
        c.request('POST', '/fapi/v1/order', {
          symbol: 'BTCUSDT',
          side: 'BUY',
          type: 'MARKET',
          quantity: '0.001',
        }),
        (e) => {
          assert.ok(e instanceof IpBannedError && isRetrySafe(e));
          return true;
        },
      );
    }
    assert.equal((await ipStats(ip))!.requests, sent, 'fenced requests never reach the server');
    assert.equal(lines.filter((l) => l.msg.startsWith('418')).length, 1, 'logged once per ban');
    assert.equal(c.usage().bans, 1);
    assert.ok(c.usage().bannedUntil >= bannedUntil - 1000);

    // A client in wait mode sharing the address waits for the end of the ban, sending nothing.
    const waiter = client({ localAddress: ip, throttler, logger, whenBanned: 'wait' });
    const pending = waiter.request('GET', '/fapi/v1/ping');
    await until('the request to queue', () => waiter.usage().queued === 1);
    assert.equal((await ipStats(ip))!.requests, sent);
    await waiter.close();
    await assert.rejects(pending, /closed/);
    assert.equal(lines.filter((l) => l.msg.startsWith('418')).length, 1);
  });

  test('503 "unknown" on POST /fapi/v1/order is an UnknownOutcomeError; a query by client id settles it', async () => {
    const c = client({ localAddress: '127.0.0.7' });
    const book = await c.request<{ bidPrice: string }>('GET', '/fapi/v1/ticker/bookTicker', {
      symbol: 'BTCUSDT',
    });
    const price = (Math.floor(Number(book.bidPrice) * 0.9 * 10) / 10).toFixed(1);
    const order = (id: string) =>
      c.request('POST', '/fapi/v1/order', {
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'LIMIT',
        timeInForce: 'GTC',
        quantity: '0.010',
        price,
        newClientOrderId: id,
      });
    const ordersBefore = (await control('GET', '/sim/stats')).accounts[account.apiKey]?.orders ?? 0;

    // The order is placed, the answer is lost.
    await control('POST', '/sim/faults', {
      kind: 'unknown',
      path: '/fapi/v1/order',
      method: 'POST',
      count: 1,
    });
    await assert.rejects(order('fleet-test-unknown-1'), (e) => {
      assert.ok(e instanceof UnknownOutcomeError, String(e));
      assert.equal(e.status, 503);
      assert.equal(e.retrySafe, false);
      assert.equal(e.clientOrderId, 'fleet-test-unknown-1');
      return true;
    });
    const q = await c.request<{ status: string; clientOrderId: string; orderId: number }>(
      'GET',
      '/fapi/v1/order',
      {
        symbol: 'BTCUSDT',
        origClientOrderId: 'fleet-test-unknown-1',
      },
    );
    assert.equal(q.status, 'NEW', 'the order exists');
    assert.equal(q.clientOrderId, 'fleet-test-unknown-1');
    const ordersAfter = (await control('GET', '/sim/stats')).accounts[account.apiKey].orders;
    assert.equal(ordersAfter - ordersBefore, 1, 'sent once: no blind retry');

    // A 503 "Service Unavailable." is unknown too; here the query shows the order was not placed.
    await control('POST', '/sim/faults', {
      kind: 'error',
      status: 503,
      path: '/fapi/v1/order',
      method: 'POST',
      count: 1,
    });
    await assert.rejects(order('fleet-test-unknown-2'), UnknownOutcomeError);
    await assert.rejects(
      c.request('GET', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'fleet-test-unknown-2' }),
      (e) => {
        assert.ok(e instanceof OrderNotFoundError && e.code === -2013);
        return true;
      },
    );

    // A timeout after sending: the order lands later.
    await control('POST', '/sim/faults', {
      kind: 'latency',
      ms: 800,
      path: '/fapi/v1/order',
      method: 'POST',
      count: 1,
    });
    await assert.rejects(
      c.request(
        'POST',
        '/fapi/v1/order',
        {
          symbol: 'BTCUSDT',
          side: 'BUY',
          type: 'LIMIT',
          timeInForce: 'GTC',
          quantity: '0.010',
          price,
          newClientOrderId: 'fleet-test-timeout-1',
        },
        { timeoutMs: 150 },
      ),
      (e) => {
        assert.ok(e instanceof UnknownOutcomeError && e.clientOrderId === 'fleet-test-timeout-1', String(e));
        return true;
      },
    );
    const landed = await until(
      'the order to land',
      async () => {
        try {
          return await c.request<{ status: string }>('GET', '/fapi/v1/order', {
            symbol: 'BTCUSDT',
            origClientOrderId: 'fleet-test-timeout-1',
          });
        } catch (err) {
          if (err instanceof OrderNotFoundError) return undefined;
          throw err;
        }
      },
      { everyMs: 50 },
    );
    assert.equal(landed.status, 'NEW');

    // Cancels go in the query string.
    const cancelled = await c.request<{ status: string }>('DELETE', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      orderId: q.orderId,
    });
    assert.equal(cancelled.status, 'CANCELED');
    await c.request('DELETE', '/fapi/v1/allOpenOrders', { symbol: 'BTCUSDT' });
  });

  test('a 5xx on a GET is a retry-safe ServerError; a refused connection is a NetworkError', async () => {
    const c = client({ localAddress: '127.0.0.8' });
    await control('POST', '/sim/faults', {
      kind: 'error',
      status: 500,
      path: '/fapi/v1/ticker/bookTicker',
      count: 1,
    });
    await assert.rejects(c.request('GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' }), (e) => {
      assert.ok(e instanceof ServerError && e.status === 500 && e.retrySafe && isRetrySafe(e));
      return true;
    });
    await c.request('GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' });
    await control('POST', '/sim/faults', { kind: 'latency', ms: 500, path: '/fapi/v1/depth', count: 1 });
    await assert.rejects(
      c.request('GET', '/fapi/v1/depth', { symbol: 'BTCUSDT', limit: 5 }, { timeoutMs: 100 }),
      (e) => e instanceof ServerError && e.retrySafe,
    );

    // A port nobody listens on.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const dead = createClient({
      env: 'simulator',
      restUrl: `http://127.0.0.1:${port}`,
      ...account,
      logger: pino({ level: 'silent' }),
      throttler: new Throttler(),
    });
    clients.push(dead);
    await assert.rejects(
      dead.request('POST', '/fapi/v1/order/test', { symbol: 'BTCUSDT' }, { security: 'NONE' }),
      (e) => {
        assert.ok(e instanceof NetworkError && e.retrySafe, String(e));
        return true;
      },
    );
    await assert.rejects(
      dead.request('POST', '/fapi/v1/order', { symbol: 'BTCUSDT' }, { security: 'NONE' }),
      NetworkError,
    );
  });
});
