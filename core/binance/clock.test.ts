import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExchangeClock } from './clock.ts';

test('offset = serverTime - midpoint of the round trip, from the sample with the smallest RTT', async () => {
  // Three samples: slow (60 ms, server says +5000 late), fast (2 ms), medium (20 ms).
  const delays = [60, 2, 20];
  let calls = 0;
  const clock = new ExchangeClock({
    samples: 3,
    resyncMs: 0,
    fetchServerTime: async () => {
      const d = delays[calls++];
      const start = Date.now();
      await new Promise((r) => setTimeout(r, d));
      // A server 3 s ahead stamping at the middle of the round trip; the slow sample is off.
      return start + d / 2 + 3000 + (d === 60 ? 2000 : 0);
    },
  });
  assert.equal(clock.synced, false);
  assert.equal(await clock.sync(), clock.offsetMs);
  assert.equal(calls, 3);
  assert.ok(Math.abs(clock.offsetMs - 3000) <= 15, `offset ${clock.offsetMs}`);
  assert.ok(clock.rttMs < 50);
  assert.ok(Math.abs(clock.now() - (Date.now() + 3000)) <= 16);
  assert.equal(clock.toLocal(clock.now()), Date.now());
  assert.equal(clock.generation, 1);
});

test('concurrent syncs share one measurement; resyncAfter skips when someone already re-synced', async () => {
  let calls = 0;
  let skew = 0;
  const clock = new ExchangeClock({
    samples: 2,
    resyncMs: 0,
    fetchServerTime: async () => {
      calls++;
      await new Promise((r) => setImmediate(r));
      return Date.now() + skew;
    },
  });
  await Promise.all([clock.sync(), clock.sync(), clock.sync()]);
  assert.equal(calls, 2);
  const g = clock.generation;
  skew = -5000;
  await Promise.all([clock.resyncAfter(g), clock.resyncAfter(g)]);
  assert.equal(calls, 4);
  assert.ok(Math.abs(clock.offsetMs + 5000) <= 5);
  await clock.resyncAfter(g);
  assert.equal(calls, 4, 'a newer offset exists: no new sync');
});

test('a failed sample is skipped; all failing rejects and keeps the old offset', async () => {
  let n = 0;
  const clock = new ExchangeClock({
    samples: 3,
    resyncMs: 0,
    fetchServerTime: async () => {
      if (n++ % 2 === 0) throw new Error('boom');
      return Date.now() + 1000;
    },
  });
  await clock.sync();
  assert.ok(Math.abs(clock.offsetMs - 1000) <= 5);
  const failing = new ExchangeClock({
    resyncMs: 0,
    fetchServerTime: async () => Promise.reject(new Error('down')),
  });
  await assert.rejects(failing.sync(), /down/);
  assert.equal(failing.offsetMs, 0);
  assert.equal(failing.synced, false);
});

test('periodic re-sync runs on its own (unref timer) until stopped', async () => {
  let calls = 0;
  const clock = new ExchangeClock({
    samples: 1,
    resyncMs: 30,
    fetchServerTime: async () => {
      calls++;
      return Date.now();
    },
  });
  await clock.sync();
  const deadline = Date.now() + 5000;
  while (calls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  clock.stop();
  assert.ok(calls >= 3);
});

test('the round trip is timed from the moment budget is granted (onSend), not while queueing', async () => {
  const clock = new ExchangeClock({
    samples: 2,
    resyncMs: 0,
    fetchServerTime: async (onSend) => {
      // 300 ms in the throttler's queue, then a 4 ms exchange with a server 2 s ahead.
      await new Promise((r) => setTimeout(r, 300));
      onSend?.();
      const start = Date.now();
      await new Promise((r) => setTimeout(r, 4));
      return start + 2 + 2000;
    },
  });
  await clock.sync();
  assert.ok(clock.rttMs < 100, `rtt ${clock.rttMs} ms excludes the queueing`);
  assert.ok(Math.abs(clock.offsetMs - 2000) <= 20, `offset ${clock.offsetMs}`);
});
