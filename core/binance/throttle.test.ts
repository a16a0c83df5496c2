// The throttler with shortened windows (500 ms instead of a minute) so that waiting for room,
// for the end of a 429 pause and for the end of a ban can be observed in real time, quickly.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { IpBannedError, RateLimitError, ThrottleTimeoutError } from './errors.ts';
import { Priority, RollingWindow, Throttler } from './throttle.ts';
import { endpointWeight, POOLS } from './weights.ts';

const w = (ip: number, orders10s = 0, orders1m = 0) => ({ ip, orders10s, orders1m });

function capture(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

test('rolling window keeps each bucket one bucket longer than the window (conservative at edges)', () => {
  const r = new RollingWindow(60_000, 1000);
  r.add(10_999, 5); // slot 10: the server holds it until 70 000 at the latest
  r.add(30_000, 2);
  assert.equal(r.total(69_999), 7);
  assert.equal(r.total(70_999), 7, 'still held one bucket beyond the server');
  assert.equal(r.total(71_000), 2);
  assert.equal(r.msUntilBelow(40_000, 2), 31_000);
  assert.equal(r.msUntilBelow(40_000, 7), 0);
  assert.equal(r.msUntilBelow(40_000, 0), 51_000);
  // Settling at the response time moves the charge to a later bucket.
  r.move(30_000, 31_500, 2);
  assert.equal(r.total(31_500), 7);
  assert.equal(r.total(91_999), 2);
  assert.equal(r.total(92_000), 0);
  r.subtract(10_000, 100);
  assert.equal(r.total(40_000), 2, 'never below zero');
});

test('acquire waits (FIFO, one timer) until the window has room instead of letting a request fail', async () => {
  const t = new Throttler({ weightWindowMs: 500, bucketMs: 50 });
  const a = t.address('s|127.0.0.2', '127.0.0.2', { weightLimit: 10, safetyMargin: 0, reserveWeight: 0 });
  for (let i = 0; i < 5; i++) assert.ok(t.tryAcquire(a, undefined, w(2)));
  assert.equal(t.tryAcquire(a, undefined, w(1)), undefined, 'full');
  const start = Date.now();
  const order: string[] = [];
  const heavy = t.acquire(a, undefined, w(8)).then(() => order.push('heavy'));
  const light = t.acquire(a, undefined, w(1)).then(() => order.push('light'));
  assert.equal(a.queued, 2);
  assert.equal(t.tryAcquire(a, undefined, w(1)), undefined, 'no overtaking while others wait');
  await assert.rejects(t.acquire(a, undefined, w(1), { noWait: true }), (e: unknown) => {
    assert.ok(e instanceof RateLimitError && e.retryAfterMs! > 0 && e.retrySafe);
    return true;
  });
  await Promise.all([heavy, light]);
  const waited = Date.now() - start;
  assert.deepEqual(order, ['heavy', 'light']);
  assert.ok(waited >= 450 && waited < 2000, `waited ${waited} ms`);
  const u = a.usage();
  assert.equal(u.used[0], 9);
  assert.equal(u.waits, 2);
  assert.equal(u.queued, 0);
});

test('safety margin, header clamp up (never down), refund', () => {
  const t = new Throttler();
  const a = t.address('s|x', 'x', { weightLimit: 2400, safetyMargin: 0.02, reserveWeight: 0 });
  assert.equal(a.limits[0], 2352);
  const p = t.tryAcquire(a, undefined, w(10))!;
  a.clampUp(0, 2350);
  assert.equal(a.usage().used[0], 2350);
  a.clampUp(0, 5);
  assert.equal(a.usage().used[0], 2350, 'never lowered');
  assert.equal(t.tryAcquire(a, undefined, w(5)), undefined);
  assert.ok(t.tryAcquire(a, undefined, w(2)));
  t.release(p);
  assert.equal(a.usage().used[0], 2342);
  // A second client asking for a smaller limit on the same address tightens the shared budget.
  assert.equal(t.address('s|x', 'x', { weightLimit: 300, safetyMargin: 0.02 }).limits[0], 294);
});

test('account order pools: 10 s and 1 min, linked with the address pool', async () => {
  const t = new Throttler({ orders10sWindowMs: 300, orders1mWindowMs: 2000, bucketMs: 50 });
  const a = t.address('s|y', 'y', { weightLimit: 100, safetyMargin: 0 });
  const acct = t.account('s|k', 'k', { ordersPer10s: 3, ordersPerMinute: 5, safetyMargin: 0 });
  for (let i = 0; i < 3; i++) assert.ok(t.tryAcquire(a, acct, w(0, 1, 1)));
  assert.equal(t.tryAcquire(a, acct, w(0, 1, 1)), undefined, '10 s pool full');
  assert.ok(t.tryAcquire(a, acct, w(1)), 'reads do not need the order pools');
  const start = Date.now();
  await t.acquire(a, acct, w(0, 1, 1));
  assert.ok(Date.now() - start >= 250, 'waited for the 10 s window');
  await t.acquire(a, acct, w(0, 1, 1), { noWait: true });
  // 5 in the minute pool: the next one is refused there although the 10 s pool has room.
  await assert.rejects(t.acquire(a, acct, w(0, 1, 1), { noWait: true }), (e: unknown) => {
    assert.ok(e instanceof RateLimitError && e.scope === 'orders');
    return true;
  });
  assert.deepEqual(acct.usage().used, [2, 5]);
  // X-MBX-ORDER-COUNT-1M from another process on the same account fills the pool.
  const other = t.account('s|k2', 'k2', { ordersPer10s: 3, ordersPerMinute: 5, safetyMargin: 0 });
  other.clampUp(1, 5);
  await assert.rejects(t.acquire(a, other, w(0, 1, 1), { noWait: true }), RateLimitError);
});

test('429 pauses the budget until Retry-After; logged once per pause', async () => {
  const { logger, lines } = capture();
  const t = new Throttler();
  const a = t.address('s|z', 'z', { weightLimit: 100, logger });
  a.pause(Date.now() + 300);
  a.pause(Date.now() + 250);
  assert.equal(t.tryAcquire(a, undefined, w(1)), undefined);
  const start = Date.now();
  await t.acquire(a, undefined, w(1));
  assert.ok(Date.now() - start >= 280);
  assert.equal(lines.filter((l) => l.msg.startsWith('429')).length, 1);
});

test('418 fences the address: fail fast or wait until the ban ends; logged once per ban', async () => {
  const { logger, lines } = capture();
  const t = new Throttler();
  const a = t.address('s|b', '127.0.0.5', { weightLimit: 100, logger });
  const waiting = t.acquire(a, undefined, w(1), { whenBanned: 'wait' });
  await waiting;
  // A queued fail-fast waiter is rejected when the ban arrives.
  for (let i = 0; i < 100; i++) t.tryAcquire(a, undefined, w(1));
  const queuedFail = t.acquire(a, undefined, w(1), { whenBanned: 'fail' });
  const start = Date.now();
  for (let i = 0; i < 5; i++) a.ban(start + 400);
  await assert.rejects(queuedFail, IpBannedError);
  const fast = t.acquire(a, undefined, w(0), { whenBanned: 'fail' });
  await assert.rejects(fast, (e: unknown) => {
    assert.ok(e instanceof IpBannedError);
    assert.equal(e.until, start + 400);
    assert.equal(e.address, '127.0.0.5');
    return true;
  });
  assert.equal(t.tryAcquire(a, undefined, w(0)), undefined, 'even weight-0 requests (orders) are fenced');
  // A waiting request goes once the ban has ended (the window itself is full here, so clear it).
  a.windows[0].clear();
  await t.acquire(a, undefined, w(1), { whenBanned: 'wait' });
  assert.ok(Date.now() - start >= 390, 'waited for the end of the ban');
  assert.equal(lines.filter((l) => l.msg.startsWith('418')).length, 1, 'one log line per ban');
  a.ban(Date.now() + 50);
  assert.equal(lines.filter((l) => l.msg.startsWith('418')).length, 2, 'a new ban logs again');
  assert.equal(a.usage().bans, 2);
});

test('a waiting request can be abandoned (client closed)', async () => {
  const t = new Throttler({ weightWindowMs: 60_000 });
  const a = t.address('s|c', 'c', { weightLimit: 1, safetyMargin: 0 });
  assert.ok(t.tryAcquire(a, undefined, w(1)));
  const ac = new AbortController();
  const p = t.acquire(a, undefined, w(1), { signal: ac.signal });
  assert.equal(a.queued, 1);
  ac.abort(new Error('closed'));
  await assert.rejects(p, /closed/);
  assert.equal(a.queued, 0);
});

test('priority: a weight-0 order passes a queue of reads; a cancel goes before them into the reserve', async () => {
  const t = new Throttler({ weightWindowMs: 60_000 });
  const a = t.address('s|p', 'p', { weightLimit: 20, safetyMargin: 0, reserveWeight: 2 });
  assert.equal(a.limitFor(0, Priority.read), 18);
  assert.equal(a.limitFor(0, Priority.write), 20);
  // Readers saturate the address: 18 of 20 used, four more reads wait (a minute).
  for (let i = 0; i < 9; i++) assert.ok(t.tryAcquire(a, undefined, w(2)));
  assert.equal(t.tryAcquire(a, undefined, w(1)), undefined, 'reads stop at the reserve');
  const closing = new AbortController();
  const reads = Array.from({ length: 4 }, () => t.acquire(a, undefined, w(2), { signal: closing.signal }));
  assert.equal(a.queued, 4);
  // A MARKET order (weight 0) goes at once, not behind the queue.
  assert.ok(t.tryAcquire(a, undefined, w(0, 1, 1), Priority.write), 'weight 0: only the fence counts');
  const start = Date.now();
  await t.acquire(a, undefined, w(0, 1, 1), { priority: Priority.write, maxWaitMs: 1000 });
  // A cancel (weight 1) is a write: ahead of the reads, inside the reserve.
  await t.acquire(a, undefined, w(1), { priority: Priority.write, maxWaitMs: 1000 });
  assert.ok(Date.now() - start < 200, `writes left promptly (${Date.now() - start} ms)`);
  assert.equal(a.queued, 4, 'the reads still wait');
  // A heavy write that does not fit waits at the head of the queue (ahead of the reads); a light
  // write behind it (FIFO among writes) gives up at its deadline instead of going out late.
  const heavy = t.acquire(a, undefined, w(5), { priority: Priority.write, signal: closing.signal });
  const late = t.acquire(a, undefined, w(1), { priority: Priority.write, maxWaitMs: 150 });
  assert.equal(a.queued, 6);
  await assert.rejects(late, (e: unknown) => {
    assert.ok(e instanceof ThrottleTimeoutError && e instanceof RateLimitError, String(e));
    assert.ok(e.retrySafe && e.waitedMs >= 140, `waited ${e.waitedMs}`);
    return true;
  });
  // A clock sample (weight 1) goes first of all, into the last unit.
  assert.ok(t.tryAcquire(a, undefined, w(1), Priority.clock));
  assert.equal(a.queued, 5, 'the timed-out write left the queue');
  assert.equal(a.usage().timeouts, 1);
  // A wait certain to be longer than the deadline (a 60 s window) fails at once.
  const t0 = Date.now();
  await assert.rejects(
    t.acquire(a, undefined, w(2), { maxWaitMs: 1000 }),
    (e: unknown) => e instanceof ThrottleTimeoutError && e.waitedMs === 0,
  );
  assert.ok(Date.now() - t0 < 100);
  // A 429 pause fences weight-0 requests too.
  a.pause(Date.now() + 10_000);
  assert.equal(t.tryAcquire(a, undefined, w(0, 1, 1), Priority.write), undefined);
  await assert.rejects(
    t.acquire(a, undefined, w(0, 1, 1), { priority: Priority.write, maxWaitMs: 100 }),
    ThrottleTimeoutError,
  );
  // The reads never got room within the test: abandon them (the client closing).
  closing.abort(new Error('closed'));
  const settled = await Promise.allSettled([heavy, ...reads]);
  assert.ok(settled.every((r) => r.status === 'rejected' && /closed/.test(String(r.reason))));
  assert.equal(a.queued, 0);
});

test('request-count pools: fundingRate/fundingInfo 500 and /futures/data 1000 per 5 min, per address', async () => {
  assert.deepEqual(endpointWeight('GET', '/fapi/v1/fundingRate', { symbol: 'BTCUSDT' }), {
    ip: 0,
    orders10s: 0,
    orders1m: 0,
    pool: 'funding',
  });
  assert.equal(endpointWeight('GET', '/fapi/v1/fundingInfo').pool, 'funding');
  const stats = endpointWeight('GET', '/futures/data/openInterestHist', { symbol: 'BTCUSDT' });
  assert.deepEqual([stats.ip, stats.pool], [0, 'futuresData']);
  assert.equal(endpointWeight('GET', '/fapi/v1/klines').pool, undefined);
  assert.deepEqual(POOLS.funding, { windowMs: 300_000, limit: 500 });
  assert.deepEqual(POOLS.futuresData, { windowMs: 300_000, limit: 1000 });

  const t = new Throttler({ poolWindowMs: 400, bucketMs: 50 });
  const a = t.address('s|q', 'q', { weightLimit: 2400 });
  const funding = t.pool('s|q', 'q', 'funding');
  const data = t.pool('s|q', 'q', 'futuresData');
  assert.equal(funding.limits[0], 490, '500 minus the 2 % margin');
  assert.equal(data.limits[0], 980);
  assert.equal(t.pool('s|q', 'q', 'funding'), funding, 'one pool per address');
  assert.notEqual(t.pool('s|r', 'r', 'funding'), funding);
  const fr = endpointWeight('GET', '/fapi/v1/fundingRate');
  for (let i = 0; i < 490; i++) assert.ok(t.tryAcquire(a, undefined, fr, Priority.read, funding), `#${i}`);
  assert.equal(t.tryAcquire(a, undefined, fr, Priority.read, funding), undefined, 'pool full');
  assert.ok(t.tryAcquire(a, undefined, w(1)), 'the address itself has room');
  assert.ok(t.tryAcquire(a, undefined, stats, Priority.read, data), 'the other pool too');
  await assert.rejects(t.acquire(a, undefined, fr, { noWait: true, pool: funding }), (e: unknown) => {
    assert.ok(e instanceof RateLimitError && e.scope === 'pool');
    return true;
  });
  const start = Date.now();
  const p = await t.acquire(a, undefined, fr, { pool: funding });
  assert.ok(Date.now() - start >= 300, 'waited for the pool window');
  assert.equal(p.pool, funding);
  assert.equal(funding.usage().kind, 'pool');
  assert.equal(t.usage().pools.length, 3);
});

test('weights of the reference §4.3 rows that were missing', () => {
  const ip = (path: string, params: Record<string, string> = {}) => endpointWeight('GET', path, params).ip;
  assert.equal(ip('/fapi/v1/rpiDepth', { symbol: 'BTCUSDT', limit: '1000' }), 20);
  for (const k of ['income', 'order', 'trade']) {
    assert.equal(ip(`/fapi/v1/${k}/asyn`), 1000);
    assert.equal(ip(`/fapi/v1/${k}/asyn/id`), 10);
  }
  assert.equal(ip('/fapi/v1/constituents', { symbol: 'BTCUSDT' }), 2);
  assert.equal(ip('/fapi/v1/assetIndex', { symbol: 'BTCUSD' }), 1);
  assert.equal(ip('/fapi/v1/assetIndex'), 10);
  assert.equal(ip('/fapi/v1/indexInfo'), 1);
  assert.equal(ip('/fapi/v1/insuranceBalance'), 1);
  assert.equal(ip('/fapi/v1/orderAmendment', { symbol: 'BTCUSDT' }), 1);
  assert.equal(ip('/fapi/v1/fundingInfo'), 0);
});
