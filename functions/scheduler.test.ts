// The local scheduler: it fires each replica's FC handler on the trigger period (from the first
// firing at start), every replica on its own loopback address (the simulator counts weight per
// address), and a firing that finds the same replica's run still going is skipped, never run
// alongside it. Waits poll with deadlines.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningAggregator } from '../aggregator/index.ts';
import { startTestAggregator, TOKENS, waitUntil } from '../aggregator/test-support.ts';
import { createLogger } from '../core/log.ts';
import { type RunningSim, startSim } from '../sim/index.ts';
import { definition as book } from './book/index.ts';
import { Scheduler, startReaders } from './scheduler.ts';

const silent = createLogger('test', 'silent');
let sim: RunningSim;
let agg: RunningAggregator;

before(async () => {
  sim = await startSim({ port: 0, symbols: 4 });
  agg = await startTestAggregator();
});
after(async () => {
  await agg.close();
  await sim.close();
});

/** Counts concurrent calls per key; `max` is the most seen at once for any key. */
function concurrency() {
  const now = new Map<string, number>();
  let max = 0;
  return {
    get max() {
      return max;
    },
    async around<T>(key: string, f: () => Promise<T>): Promise<T> {
      const n = (now.get(key) ?? 0) + 1;
      now.set(key, n);
      max = Math.max(max, n);
      try {
        return await f();
      } finally {
        now.set(key, (now.get(key) ?? 1) - 1);
      }
    },
  };
}

describe('scheduler', () => {
  test('Scheduler: fires on the period from the start, skips a firing while the run is going', async () => {
    const c = concurrency();
    const starts: number[] = [];
    let t0 = 0;
    const s = new Scheduler([
      {
        name: 'slow@0',
        everyMs: 50,
        // Every run lasts 120 ms: the next two firings (at +50, +100) find it going.
        fire: (event) =>
          c.around('slow@0', async () => {
            const ev = JSON.parse(event.toString()) as { triggerTime: string; payload: string };
            assert.equal(ev.payload, 'slow@0');
            starts.push(Date.parse(ev.triggerTime) - t0);
            await new Promise((r) => setTimeout(r, 120));
          }),
      },
    ]);
    t0 = Date.now();
    s.start();
    await waitUntil(() => (s.fired.get('slow@0') ?? 0) >= 3, 'three firings', 5000);
    await s.stop();
    assert.equal(c.max, 1, 'never two runs of one replica at once');
    assert.ok((s.skipped.get('slow@0') ?? 0) >= 4, `skipped ${s.skipped.get('slow@0')}`);
    // Trigger times are on the 50 ms grid from the start (the first at start).
    assert.ok(Math.abs(starts[0]) <= 5, `first at ${starts[0]}`);
    for (const t of starts) assert.ok(Math.abs(t - Math.round(t / 50) * 50) <= 5, `trigger at +${t}`);
  });

  test('startReaders: the handlers fire every FLEET_TRIGGER_PERIOD_S, each replica on its own address, an overrunning run is not overlapped', async () => {
    // The handler bounds every step of a run (reads, clock sync, flush) by the period, so the
    // first run of each replica is made to overrun here: it goes on 1.3 s after its reads, and
    // the firing at +1 s finds it still going.
    const c = concurrency();
    const runs: Array<{ source: string; at: number }> = [];
    const orig = book.run;
    book.run = (deps, until) => {
      const firstRun = !runs.some((r) => r.source === deps.config.source);
      runs.push({ source: deps.config.source, at: Date.now() });
      return c.around(deps.config.source, async () => {
        const r = await orig(deps, until);
        if (firstRun) await new Promise((done) => setTimeout(done, 1300));
        return r;
      });
    };
    const t0 = Date.now();
    const readers = await startReaders({
      restUrl: sim.restUrl,
      wsUrl: sim.wsUrl,
      aggregatorUrl: agg.url,
      token: TOKENS.collector,
      replicas: { book: 2 },
      firstAddress: 50,
      // 1 s is the smallest period the handler's environment allows (FLEET_TRIGGER_PERIOD_S ≥ 1).
      env: { FLEET_TRIGGER_PERIOD_S: '1', FLEET_RUN_MARGIN_MS: '200', FLEET_PERIOD_MS: '200' },
      logger: () => silent,
    });
    const { scheduler, instances } = readers;
    const sources = instances.map((i) => i.config.source);
    try {
      assert.deepEqual(sources, ['book@0', 'book@1']);
      assert.deepEqual(
        instances.map((i) => i.address),
        ['127.0.0.50', '127.0.0.51'],
      );
      await waitUntil(
        () => sources.every((s) => (scheduler.fired.get(s) ?? 0) >= 3),
        'three firings of each replica',
        8000,
      );
      assert.equal(scheduler.pendingTimers, 2, 'one pending timer per replica, however many firings');
    } finally {
      await readers.stop();
      book.run = orig;
    }
    assert.equal(c.max, 1, 'never two runs of one replica at once');
    for (const [i, s] of sources.entries()) {
      const fired = scheduler.fired.get(s) ?? 0;
      assert.ok((scheduler.skipped.get(s) ?? 0) >= 1, `${s}: the firing during the slow run was skipped`);
      // Every firing that was not skipped reached the handler, and the handler never had to refuse.
      assert.equal(instances[i].stats.invocations, fired, `${s}: invocations = firings`);
      const ran = runs.filter((r) => r.source === s).length;
      // (the firing under way when the readers stop may end before its run starts)
      assert.ok(ran === fired || ran === fired - 1, `${s}: runs ${ran} = firings ${fired}`);
      assert.ok(instances[i].stats.records > 0, `${s} published`);
    }
    assert.equal(scheduler.pendingTimers, 0, 'stopped: no timer left');
    // Firings follow the 1 s grid from the start: the k-th run of a replica starts near t0 + n·1 s
    // (a run starts after its clock sync: allow that much).
    for (const r of runs) {
      const phase = (r.at - t0) % 1000;
      assert.ok(phase < 400 || r.at - t0 < 1500, `run of ${r.source} at +${r.at - t0} ms`);
    }
    // Each replica's weight lands on its own address: the simulator's per-address weight is that
    // replica's own (its reads plus 3 samples of /fapi/v1/time per invocation, counted 1 by the reader).
    const stats = (await (await fetch(`${sim.restUrl}/sim/stats`)).json()) as {
      ips: Record<string, { weight1m: number; requests: number }>;
    };
    for (const inst of instances) {
      const ip = stats.ips[inst.address!];
      assert.ok(ip, `${inst.address} seen by the simulator`);
      assert.ok(ip.weight1m > 0);
      assert.equal(
        ip.weight1m,
        inst.stats.weight + 2 * inst.stats.invocations,
        `${inst.address}: weight of ${inst.config.source}`,
      );
    }
    assert.notEqual(stats.ips['127.0.0.50'].weight1m, 0);
    assert.notEqual(stats.ips['127.0.0.51'].weight1m, 0);
  });

  test('startReaders: replicas past 127.0.0.255 are refused', async () => {
    await assert.rejects(
      startReaders({
        restUrl: sim.restUrl,
        wsUrl: sim.wsUrl,
        aggregatorUrl: agg.url,
        token: TOKENS.collector,
        replicas: { book: 10 },
        firstAddress: 250,
      }),
      /past 127\.0\.0\.255/,
    );
  });
});
