import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KLINE_INTERVALS } from '../contracts.ts';
import { barOpen, nextOpen, prevOpen, selectByTime, selectOpens } from './intervals.ts';

const H = 3_600_000;
const D = 24 * H;

test('bar alignment: fixed intervals on epoch multiples, 1w on Monday, 1M on the 1st', () => {
  const t = Date.UTC(2026, 5, 3, 13, 47, 12, 345); // Wednesday 2026-06-03
  assert.equal(barOpen('1m', t), Date.UTC(2026, 5, 3, 13, 47));
  assert.equal(barOpen('3m', t), Date.UTC(2026, 5, 3, 13, 45));
  assert.equal(barOpen('5m', t), Date.UTC(2026, 5, 3, 13, 45));
  assert.equal(barOpen('15m', t), Date.UTC(2026, 5, 3, 13, 45));
  assert.equal(barOpen('30m', t), Date.UTC(2026, 5, 3, 13, 30));
  assert.equal(barOpen('1h', t), Date.UTC(2026, 5, 3, 13));
  assert.equal(barOpen('2h', t), Date.UTC(2026, 5, 3, 12));
  assert.equal(barOpen('4h', t), Date.UTC(2026, 5, 3, 12));
  assert.equal(barOpen('6h', t), Date.UTC(2026, 5, 3, 12));
  assert.equal(barOpen('8h', t), Date.UTC(2026, 5, 3, 8));
  assert.equal(barOpen('12h', t), Date.UTC(2026, 5, 3, 12));
  assert.equal(barOpen('1d', t), Date.UTC(2026, 5, 3));
  assert.equal(barOpen('3d', t) % (3 * D), 0);
  assert.ok(t - barOpen('3d', t) < 3 * D);
  assert.equal(barOpen('1w', t), Date.UTC(2026, 5, 1)); // Monday
  assert.equal(new Date(barOpen('1w', t)).getUTCDay(), 1);
  assert.equal(barOpen('1M', t), Date.UTC(2026, 5, 1));
  assert.equal(nextOpen('1M', Date.UTC(2026, 11, 1)), Date.UTC(2027, 0, 1));
  assert.equal(prevOpen('1M', Date.UTC(2026, 0, 1)), Date.UTC(2025, 11, 1));
  assert.equal(nextOpen('1M', Date.UTC(2026, 1, 1)) - Date.UTC(2026, 1, 1), 28 * D);
  for (const iv of KLINE_INTERVALS) {
    const o = barOpen(iv, t);
    assert.ok(o <= t && t < nextOpen(iv, o), iv);
    assert.equal(barOpen(iv, o), o, iv);
    assert.equal(prevOpen(iv, nextOpen(iv, o)), o, iv);
  }
});

test('selectOpens follows the klines time rules', () => {
  const first = Date.UTC(2026, 0, 1);
  const last = first + 99 * 60_000; // 100 bars of 1m
  const q = (o: { startTime?: number; endTime?: number; limit: number }) => selectOpens('1m', first, last, o);
  assert.deepEqual(q({ limit: 3 }), [last - 120_000, last - 60_000, last]);
  assert.equal(q({ limit: 1500 }).length, 100);
  // startTime inside a bar: the first bar opening at or after it.
  assert.deepEqual(q({ startTime: first + 30_000, limit: 2 }), [first + 60_000, first + 120_000]);
  assert.deepEqual(q({ startTime: first, limit: 2 }), [first, first + 60_000]);
  // endTime inside a bar includes that bar.
  assert.deepEqual(q({ endTime: first + 90_000, limit: 5 }), [first, first + 60_000]);
  assert.deepEqual(q({ startTime: first + 60_000, endTime: first + 180_000, limit: 10 }), [
    first + 60_000,
    first + 120_000,
    first + 180_000,
  ]);
  assert.deepEqual(q({ startTime: first, endTime: last, limit: 2 }), [first, first + 60_000]);
  assert.deepEqual(q({ endTime: first - 1, limit: 5 }), []);
  assert.deepEqual(q({ startTime: last + 1, limit: 5 }), []);
  assert.deepEqual(q({ startTime: 0, limit: 1 }), [first]);
});

test('selectByTime (funding history)', () => {
  const t = [10, 20, 30, 40, 50];
  assert.deepEqual(selectByTime(t, { limit: 2 }), [3, 5]);
  assert.deepEqual(selectByTime(t, { startTime: 20, limit: 2 }), [1, 3]);
  assert.deepEqual(selectByTime(t, { endTime: 35, limit: 2 }), [1, 3]);
  assert.deepEqual(selectByTime(t, { startTime: 15, endTime: 40, limit: 100 }), [1, 4]);
  assert.deepEqual(selectByTime(t, { startTime: 60, limit: 100 }), [0, 0]);
});
