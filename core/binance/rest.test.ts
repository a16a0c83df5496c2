// BinanceRest against the in-process simulator, with its fault injection. The simulator runs
// with a weight limit of 300 per minute so that saturating an address takes a second, not a
// minute; every test uses its own egress address (127.0.0.x) because the window is a real minute.

import assert from 'node:assert/strict';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Pool, request } from 'undici';
import { type RunningSim, startSim } from '../../sim/index.ts';
import { FuturesApi, isBatchError } from './endpoints.ts';
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
  ThrottleTimeoutError,
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
    assert.equal(n, 145, '(294 - a reserve of 3 for clock samples and writes) / 2');
    await c3.request('GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' }, { noWait: true });
    const stats = (await control('GET', '/sim/stats')).ips as Record<string, IpStats>;
    assert.equal(stats['127.0.0.2'].weight1m, 290);
    assert.equal(stats['127.0.0.3'].weight1m, 2);
    assert.equal(stats['127.0.0.2'].http429 + stats['127.0.0.3'].http429, 0);
    const labels = c2.usage().addresses.map((a) => [a.label, a.used[0]]);
    assert.deepEqual(labels, [
      ['127.0.0.2', 290],
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

    // A 503 "Service Unavailable." is a certain failure (reference §5.1 B): retry-safe, not placed.
    await control('POST', '/sim/faults', {
      kind: 'error',
      status: 503,
      path: '/fapi/v1/order',
      method: 'POST',
      count: 1,
    });
    await assert.rejects(order('fleet-test-unknown-2'), (e) => {
      assert.ok(e instanceof ServerError && e.status === 503 && e.retrySafe, String(e));
      return true;
    });
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

  /** Readers that keep one address saturated until the client closes. */
  function saturate(c: BinanceRest, workers: number): { loops: Promise<void>; errors: unknown[] } {
    const errors: unknown[] = [];
    const loops = Promise.all(
      Array.from({ length: workers }, async () => {
        for (;;) {
          try {
            await c.request('GET', '/fapi/v1/klines', { symbol: 'BTCUSDT', interval: '1m', limit: 499 });
          } catch (err) {
            if (!String(err).includes('closed')) errors.push(err);
            return;
          }
        }
      }),
    ).then(() => undefined);
    return { loops, errors };
  }

  test('under a saturated address, orders, cancels and clock samples leave promptly; reads keep waiting', async () => {
    const ip = '127.0.0.9';
    // A reserve of 6 weight that reads may not use: a cancel (1) and a clock sync (3 × 1) fit.
    const c = client({ localAddress: ip, reserveWeight: 6 });
    // Place a resting order first, to cancel it later under saturation.
    const book = await c.request<{ bidPrice: string }>('GET', '/fapi/v1/ticker/bookTicker', {
      symbol: 'BTCUSDT',
    });
    const price = (Math.floor(Number(book.bidPrice) * 0.9 * 10) / 10).toFixed(1);
    const resting = await c.request<{ orderId: number }>('POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '0.010',
      price,
    });
    const { loops, errors } = saturate(c, 4);
    await until('four readers waiting for budget', () => c.usage().queued === 4 || errors.length > 0);
    assert.deepEqual(errors, []);
    const sent = (await ipStats(ip))!.requests;

    // A MARKET order (weight 0) does not wait behind the reads.
    let t = Date.now();
    const filled = await c.request<{ status: string }>('POST', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'MARKET',
      quantity: '0.010',
      newOrderRespType: 'RESULT',
    });
    assert.equal(filled.status, 'FILLED');
    assert.ok(Date.now() - t < 1000, `order left after ${Date.now() - t} ms`);
    // A cancel (weight 1) goes ahead of the reads, into the reserve.
    t = Date.now();
    const cancelled = await c.request<{ status: string }>('DELETE', '/fapi/v1/order', {
      symbol: 'BTCUSDT',
      orderId: resting.orderId,
    });
    assert.equal(cancelled.status, 'CANCELED');
    assert.ok(Date.now() - t < 1000, `cancel left after ${Date.now() - t} ms`);
    // A clock sync (3 samples of GET /fapi/v1/time) bypasses the queue too, and its round trip
    // does not include any wait.
    t = Date.now();
    await c.syncClock();
    assert.ok(Date.now() - t < 1000, `sync took ${Date.now() - t} ms`);
    assert.ok(c.clock.rttMs < 500, `rtt ${c.clock.rttMs}`);
    assert.equal(c.usage().queued, 4, 'the reads still wait');
    const s = (await ipStats(ip))!;
    assert.equal(s.requests - sent, 5, 'order, cancel, three clock samples; no read went out');
    assert.equal(s.http429, 0);
    assert.ok(s.weight1m <= WEIGHT_LIMIT);

    // With the reserve used up, a write waits at most maxWaitMs, then fails unsent (retry-safe).
    const impatient = client({ localAddress: ip, throttler: c.throttler, maxWriteWaitMs: 200 });
    for (let i = 0; i < 10; i++) {
      const r = await impatient
        .request('DELETE', '/fapi/v1/allOpenOrders', { symbol: 'BTCUSDT' }, { maxWaitMs: 0 })
        .catch((e: unknown) => e);
      if (r instanceof ThrottleTimeoutError) break;
    }
    const before = (await ipStats(ip))!.requests;
    t = Date.now();
    await assert.rejects(
      impatient.request('DELETE', '/fapi/v1/allOpenOrders', { symbol: 'BTCUSDT' }),
      (e) => {
        assert.ok(e instanceof ThrottleTimeoutError && e.retrySafe && e.status === undefined, String(e));
        return true;
      },
    );
    assert.ok(Date.now() - t < 1000);
    assert.equal((await ipStats(ip))!.requests, before, 'not sent');
    assert.ok(impatient.usage().timeouts >= 1);
    await c.close();
    await loops;
  });

  test('a 429 with Retry-After from the server pauses the address for that long', async () => {
    const ip = '127.0.0.10';
    // Another process on the same address (a raw client) fills the server's window.
    const raw = new Pool(sim.restUrl, { localAddress: ip, connections: 1 });
    let status = 0;
    while (status !== 429) {
      const res = await raw.request({ method: 'GET', path: '/fapi/v1/ticker/bookTicker?symbol=BTCUSDT' });
      await res.body.text();
      status = res.statusCode;
    }
    await raw.close();
    const c = client({ localAddress: ip, clockSyncMs: 0 });
    let retryAfterMs = 0;
    await assert.rejects(c.request('GET', '/fapi/v1/ticker/bookTicker', { symbol: 'ETHUSDT' }), (e) => {
      assert.ok(e instanceof RateLimitError && e.status === 429 && e.scope === 'ip', String(e));
      assert.ok(e.retryAfterMs! >= 1000 && e.retryAfterMs! <= 60_000, `Retry-After ${e.retryAfterMs}`);
      assert.equal(e.retryAfterMs! % 1000, 0, 'whole seconds from the header');
      retryAfterMs = e.retryAfterMs!;
      return true;
    });
    const u = c.usage();
    assert.equal(u.http429, 1);
    const paused = u.addresses.find((a) => a.label === ip)!;
    assert.ok(Math.abs(paused.pausedUntil - (Date.now() + retryAfterMs)) < 1000, 'paused for Retry-After');
    // Nothing leaves the address meanwhile: refused locally, and orders too (weight 0).
    const sent = (await ipStats(ip))!.requests;
    await assert.rejects(c.request('GET', '/fapi/v1/ping', undefined, { noWait: true }), (e) => {
      assert.ok(e instanceof RateLimitError && e.status === undefined);
      return true;
    });
    await assert.rejects(
      c.request('POST', '/fapi/v1/order', {
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'MARKET',
        quantity: '0.001',
      }),
      ThrottleTimeoutError,
    );
    assert.equal((await ipStats(ip))!.requests, sent);
    assert.equal((await ipStats(ip))!.http418, 0);
  });

  test('fundingInfo/fundingRate have their own pool: the loop stops at 490 of 500 without a 429', async () => {
    const ip = '127.0.0.11';
    const c = client({ localAddress: ip });
    let n = 0;
    for (;;) {
      try {
        await c.request('GET', n % 2 ? '/fapi/v1/fundingInfo' : '/fapi/v1/fundingRate', undefined, {
          noWait: true,
        });
        n++;
      } catch (err) {
        assert.ok(err instanceof RateLimitError && err.scope === 'pool', String(err));
        break;
      }
    }
    assert.equal(n, 490);
    const s = (await ipStats(ip))!;
    assert.equal(s.requests, 490);
    assert.equal(s.http429, 0);
    // The rest of the address is free.
    await c.request('GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' }, { noWait: true });
    const pool = c.throttler.usage().pools.find((p) => p.label === `${ip} funding`)!;
    assert.equal(pool.used[0], 490);
    assert.equal(pool.limits[0], 490);
  });

  test('non-order writes: 5xx "Unknown error" and timeouts are unknown outcomes; "Service Unavailable." is not', async () => {
    const c = client({ localAddress: '127.0.0.12' });
    await control('POST', '/sim/faults', {
      kind: 'unknown',
      path: '/fapi/v1/leverage',
      method: 'POST',
      count: 1,
    });
    await assert.rejects(c.request('POST', '/fapi/v1/leverage', { symbol: 'BTCUSDT', leverage: 5 }), (e) => {
      assert.ok(e instanceof UnknownOutcomeError && !e.retrySafe && e.status === 503, String(e));
      return true;
    });
    await control('POST', '/sim/faults', { kind: 'error', status: 503, path: '/fapi/v1/leverage', count: 1 });
    await assert.rejects(c.request('POST', '/fapi/v1/leverage', { symbol: 'BTCUSDT', leverage: 5 }), (e) => {
      assert.ok(e instanceof ServerError && e.retrySafe, String(e));
      return true;
    });
    await control('POST', '/sim/faults', {
      kind: 'latency',
      ms: 600,
      path: '/fapi/v1/allOpenOrders',
      count: 1,
    });
    await assert.rejects(
      c.request('DELETE', '/fapi/v1/allOpenOrders', { symbol: 'BTCUSDT' }, { timeoutMs: 100 }),
      (e) => {
        assert.ok(e instanceof UnknownOutcomeError && !e.retrySafe, String(e));
        return true;
      },
    );
  });

  test("a caller's recvWindow must be 1..60000", async () => {
    const c = client({ localAddress: '127.0.0.12' });
    for (const recvWindow of [0, -1, 60_001, 1.5, Number.NaN]) {
      await assert.rejects(c.request('GET', '/fapi/v2/balance', { recvWindow }), RangeError);
    }
    await c.request('GET', '/fapi/v2/balance', { recvWindow: 60_000 });
    assert.throws(() => client({ recvWindow: 0 }), RangeError);
    assert.throws(() => client({ recvWindow: 60_001 }), RangeError);
  });

  test('FuturesApi over BinanceRest: batchOrders, cancelBatch, incomeAll', async () => {
    const c = client({ localAddress: '127.0.0.13' });
    const api = new FuturesApi(c);
    const t0 = await api.time();
    const symbol = 'ETHUSDT';
    const book = await api.bookTicker(symbol);
    const below = (Math.floor(Number(book.bidPrice) * 0.9 * 100) / 100).toFixed(2);
    const items = await api.batchOrders([
      { symbol, side: 'BUY', type: 'LIMIT', price: below, quantity: '0.010' },
      { symbol, side: 'BUY', type: 'LIMIT', price: below, quantity: '0.010', newClientOrderId: 'fleet-b-2' },
      { symbol, side: 'BUY', type: 'LIMIT', price: below, quantity: '0.0101' },
    ]);
    assert.equal(items.length, 3);
    const [a, b, bad] = items;
    assert.ok(!isBatchError(a) && a.status === 'NEW' && /^fx-/.test(a.clientOrderId), JSON.stringify(a));
    assert.ok(!isBatchError(b) && b.clientOrderId === 'fleet-b-2');
    assert.ok(isBatchError(bad) && bad.code < 0, 'a quantity off the step size is refused alone');
    const cancels = await api.cancelBatch({
      symbol,
      clientOrderIds: [a.clientOrderId, 'fleet-b-2', 'nope-1'],
    });
    assert.ok(!isBatchError(cancels[0]) && cancels[0].status === 'CANCELED');
    assert.ok(!isBatchError(cancels[1]) && cancels[1].status === 'CANCELED');
    assert.ok(isBatchError(cancels[2]) && cancels[2].code === -2011);
    assert.deepEqual(await api.openOrders(symbol), []);
    for (let i = 0; i < 3; i++) {
      await api.newOrder({ symbol, side: i % 2 ? 'SELL' : 'BUY', type: 'MARKET', quantity: '0.010' });
    }
    const t1 = await api.time();
    const all = await api.incomeAll({ startTime: t0, endTime: t1, pageSize: 2 });
    const one = await api.income({ startTime: t0, endTime: t1, limit: 1000 });
    assert.ok(all.length >= 3, `${all.length} rows`);
    assert.deepEqual(all, one);
  });
});

describe('BinanceRest against a scripted server', () => {
  let server: Server;
  let url: string;
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => {};
  const seen: string[] = [];
  const clients: BinanceRest[] = [];

  before(async () => {
    server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        seen.push(`${req.method} ${req.url?.split('?')[0]}`);
        if (req.url?.startsWith('/fapi/v1/time')) {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ serverTime: Date.now() }));
          return;
        }
        handler(req, res, body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const scripted = (): BinanceRest => {
    const c = new BinanceRest({
      endpoints: simulator(url),
      ...account,
      logger: pino({ level: 'silent' }),
      throttler: new Throttler(),
      clockSyncMs: 0,
    });
    clients.push(c);
    return c;
  };

  test('-5028 (ME recvWindow) is treated like -1021: re-sync and one retry', async () => {
    const c = scripted();
    let n = 0;
    handler = (_req, res) => {
      res.setHeader('content-type', 'application/json');
      if (n++ === 0) {
        res.statusCode = 400;
        res.end(
          JSON.stringify({ code: -5028, msg: 'Timestamp for this request is outside of the ME recvWindow.' }),
        );
      } else res.end(JSON.stringify({ orderId: 1, status: 'NEW' }));
    };
    seen.length = 0;
    const r = await c.request<{ orderId: number }>('POST', '/fapi/v1/order', { symbol: 'BTCUSDT' });
    assert.equal(r.orderId, 1);
    assert.equal(n, 2, 'sent twice');
    assert.equal(c.usage().clockRetries, 1);
    assert.deepEqual(
      seen.filter((x) => x === 'GET /fapi/v1/time').length,
      6,
      'the first sync and the re-sync, 3 samples each',
    );
  });

  test('a connection destroyed after the order was written is an unknown outcome, not "not sent"', async () => {
    const c = scripted();
    await c.syncClock();
    let arrived!: () => void;
    const got = new Promise<void>((r) => {
      arrived = r;
    });
    handler = () => arrived(); // never answers
    const pending = c
      .request('POST', '/fapi/v1/order', { symbol: 'BTCUSDT', newClientOrderId: 'mid-1' })
      .then(() => assert.fail('answered'));
    await got;
    // The pool is torn down mid-flight (UND_ERR_DESTROYED).
    await Promise.all([(c as any).pool.destroy(), pending.catch(() => {})]);
    await assert.rejects(pending, (e) => {
      assert.ok(e instanceof UnknownOutcomeError, `${(e as Error).name}: ${(e as Error).message}`);
      assert.equal(e.clientOrderId, 'mid-1');
      assert.equal(e.retrySafe, false);
      return true;
    });
  });
});
