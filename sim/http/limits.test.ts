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

test('418 bans escalate: the second ban is twice the first, and so on up to 3 days', () => {
  const clock = new ExchangeClock({ virtual: true, start: 1_000_000 });
  const rl = new RateLimiter(clock, { weightLimit: 10, strikesBeforeBan: 2 });
  const ip = '127.0.0.4';
  /** Fills the window, then hammers until banned; returns the ban's length in seconds. */
  const banOnce = (): number => {
    for (let i = 0; i < 20; i++) {
      const v = rl.charge(ip, 5);
      if (!v.ok && v.status === 418) {
        assert.equal(v.until, clock.now() + v.retryAfterS * 1000);
        return v.retryAfterS;
      }
    }
    assert.fail('no ban');
  };
  const first = banOnce();
  assert.equal(first, 120);
  clock.advance(first * 1000 + 61_000); // ban over, window empty
  assert.equal(rl.charge(ip, 5).ok, true);
  const second = banOnce();
  assert.equal(second, 2 * first);
  clock.advance(second * 1000 + 61_000);
  assert.equal(banOnce(), 4 * first);
  assert.equal(rl.ip(ip).bans, 3);
  // The cap: 3 days.
  for (let i = 0; i < 15; i++) {
    clock.advance(3 * 24 * 3600_000 + 61_000);
    banOnce();
  }
  clock.advance(3 * 24 * 3600_000 + 61_000);
  assert.equal(banOnce(), 3 * 24 * 3600);
});

test('429 -1015 refusals are counted per account', () => {
  const clock = new ExchangeClock({ virtual: true, start: 0 });
  const ol = new OrderLimiter(clock);
  for (let i = 0; i < 300; i++) ol.charge('k', 1, 1);
  assert.equal(ol.charge('k', 1, 1).ok, false);
  assert.equal(ol.charge('k', 1, 1).ok, false);
  ol.charge('j', 1, 1);
  assert.deepEqual(
    [...ol.http429ByAccount()],
    [
      ['k', 2],
      ['j', 0],
    ],
  );
});
