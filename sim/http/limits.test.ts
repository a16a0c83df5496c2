import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExchangeClock } from '../clock.ts';
import { OrderLimiter, RateLimiter, RollingCounter } from './limits.ts';

test('rolling counter forgets buckets older than the window', () => {
  const c = new RollingCounter(60_000, 1000);
  c.add(0, 100);
  c.add(30_500, 50);
  assert.equal(c.total(59_999), 150);
  assert.equal(c.total(60_000), 50);
  assert.equal(c.msUntilBelow(59_000, 50), 1000);
  assert.equal(c.total(90_999), 0);
});

test('weight over 2400 per rolling minute → 429 with Retry-After, then 418 bans that double', () => {
  const clock = new ExchangeClock({ virtual: true, start: 1_000_000 });
  const rl = new RateLimiter(clock, { strikesBeforeBan: 3 });
  for (let i = 0; i < 480; i++) assert.equal(rl.charge('127.0.0.2', 5).ok, true);
  assert.equal(rl.used('127.0.0.2'), 2400);
  const v = rl.charge('127.0.0.2', 1);
  assert.equal(v.ok, false);
  assert.equal(!v.ok && v.status, 429);
  assert.ok(!v.ok && v.retryAfterS >= 1 && v.retryAfterS <= 60);
  // another address has its own budget
  assert.equal(rl.charge('127.0.0.3', 5).ok, true);
  rl.charge('127.0.0.2', 1);
  rl.charge('127.0.0.2', 1);
  const ban = rl.charge('127.0.0.2', 1);
  assert.equal(!ban.ok && ban.status, 418);
  assert.equal(!ban.ok && ban.retryAfterS, 120);
  clock.advance(60_000);
  const still = rl.charge('127.0.0.2', 1);
  assert.equal(!still.ok && still.status, 418, 'banned until the ban ends, even with an empty window');
  clock.advance(61_000);
  assert.equal(rl.charge('127.0.0.2', 1).ok, true);
  const s = rl.ip('127.0.0.2');
  assert.equal(s.http429, 3);
  assert.equal(s.http418, 2);
});

test('order counts per account: 300 / 10 s and 1200 / minute', () => {
  const clock = new ExchangeClock({ virtual: true, start: 0 });
  const ol = new OrderLimiter(clock);
  for (let i = 0; i < 300; i++) assert.equal(ol.charge('k', 1, 1).ok, true);
  const v = ol.charge('k', 1, 1);
  assert.equal(v.ok, false);
  assert.equal(!v.ok && v.per, '10s');
  assert.equal(ol.charge('other', 1, 1).ok, true);
  for (let round = 0; round < 3; round++) {
    clock.advance(10_000);
    for (let i = 0; i < 300; i++) assert.equal(ol.charge('k', 1, 1).ok, true);
  }
  clock.advance(10_000);
  const m = ol.charge('k', 1, 1);
  assert.equal(!m.ok && m.per, '1m');
  assert.equal(ol.counts('k').count1m, 1200);
});
