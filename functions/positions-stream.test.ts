// positions-stream across a listenKey expiry, on the simulator's virtual clock: 61 minutes pass
// with no keepalive, the simulator sends listenKeyExpired, the reader's user stream takes a new
// key (a gap, then a REST snapshot), and a position changed afterwards still reaches the
// aggregator from the stream. The aggregator runs on the exchange's (virtual) time, as it would
// on a synced host: otherwise records 61 minutes ahead of its wall clock would be "in the future".

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import pino from 'pino';
import type { RunningAggregator } from '../aggregator/index.ts';
import { startTestAggregator, TOKENS, waitUntil } from '../aggregator/test-support.ts';
import { createClient } from '../core/binance/rest.ts';
import { AggregatorClient } from '../core/protocol/client.ts';
import { type RunningSim, startSim } from '../sim/index.ts';
import { call, closeAgents } from '../test/helpers/rest.ts';
import { clockOf, type Deps, ReaderStats } from './lib/common.ts';
import { run as positionsStream } from './positions-stream/index.ts';

const account = { apiKey: 'p'.repeat(64), apiSecret: 'q'.repeat(64) };
let sim: RunningSim;
let agg: RunningAggregator;
const open: Array<{ close(): Promise<void> }> = [];

before(async () => {
  sim = await startSim({ port: 0, symbols: 4, accounts: [account], virtualClock: true });
  agg = await startTestAggregator({ now: () => sim.clock.now() });
});
after(async () => {
  for (const c of open.reverse()) await c.close().catch(() => undefined);
  await closeAgents();
  await agg.close();
  await sim.close();
});

/** A pino logger that keeps every line (to see the stream's gap). */
function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

test('positions-stream survives a listenKey expiry and publishes a position changed after it', async () => {
  const { log, lines } = recordingLogger();
  const rest = createClient({ restUrl: sim.restUrl, ...account, localAddress: '127.0.0.70', logger: log });
  const client = new AggregatorClient({
    url: agg.url,
    token: TOKENS.collector,
    source: 'positions-stream@0',
    now: () => rest.now(),
    reconnect: { baseMs: 20, maxMs: 200 },
    requestTimeoutMs: 2000,
  });
  client.on('error', () => undefined);
  const watcher = new AggregatorClient({ url: agg.url, token: TOKENS.trader });
  open.push(rest, client, watcher);
  await rest.syncClock();
  await Promise.all([client.connect(), watcher.connect()]);
  await watcher.subscribe(['position', 'balance']);

  // Completed account snapshots (positionRisk v3 + account v3 per snapshot).
  let snapshots = 0;
  const orig = rest.request.bind(rest);
  rest.request = (async (...a: Parameters<typeof orig>) => {
    const r = await orig(...a);
    if (a[1] === '/fapi/v3/account') snapshots++;
    return r;
  }) as typeof rest.request;

  const stats = new ReaderStats();
  const d: Deps<unknown> = {
    rest,
    agg: client,
    clock: clockOf(rest),
    log,
    stats,
    config: {
      fn: 'positions-stream',
      source: 'positions-stream@0',
      replica: 0,
      replicas: 1,
      periodMs: 1000,
      slotOffsetMs: 0,
      wsBase: sim.wsUrl,
    },
  };
  const ac = new AbortController();
  d.signal = ac.signal;
  const running = positionsStream(d, d.clock.now() + 15_000);
  try {
    await waitUntil(() => snapshots === 1 && watcher.records('balance').size > 0, 'start snapshot', 5000);
    // The start snapshot says every listed symbol flat (nothing open yet).
    assert.equal(
      watcher.get<{ positionAmt: string }>('position', 'BTCUSDT:BOTH')?.data.positionAmt,
      '0',
      'no position yet',
    );

    // 61 minutes of exchange time with no keepalive: the key expires.
    const expiredAt = sim.clock.now() + 61 * 60_000;
    const adv = await fetch(`${sim.restUrl}/sim/clock`, {
      method: 'POST',
      body: JSON.stringify({ advanceMs: 61 * 60_000 }),
    });
    assert.equal(adv.status, 200);
    await waitUntil(
      () => lines.some((l) => l.msg === 'user stream gap: REST snapshot' && l.keyReplaced === true),
      'a gap with a new key',
      5000,
    );
    const gap = lines.find((l) => l.msg === 'user stream gap: REST snapshot')!;
    assert.match(String(gap.reason), /listenKeyExpired/);
    // The snapshot after the gap is done: from here on only the (new) stream can report changes.
    await waitUntil(() => snapshots === 2, 'snapshot after the gap', 5000);

    const order = await call(
      sim.restUrl,
      'POST',
      '/fapi/v1/order',
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.01' },
      { account, signed: true, timestamp: sim.clock.now() },
    );
    assert.equal(order.status, 200, JSON.stringify(order.body));
    await waitUntil(
      () =>
        Number(watcher.get<{ positionAmt: string }>('position', 'BTCUSDT:BOTH')?.data.positionAmt ?? 0) > 0,
      'the new position published',
      5000,
    );
    const rec = watcher.get<{ positionAmt: string }>('position', 'BTCUSDT:BOTH')!;
    assert.equal(Number(rec.data.positionAmt), 0.01);
    assert.ok(rec.ts >= expiredAt, `ts ${rec.ts} is after the expiry (${expiredAt})`);
    assert.equal(snapshots, 2, 'seen on the stream, not by another snapshot');
  } finally {
    ac.abort();
    await running;
  }
  assert.equal(stats.errors, 0, stats.lastError);
  // The reader's clock was 61 min behind after the jump: its first signed read was refused (-1021)
  // and the client re-synced and retried, as it would after any clock jump.
  assert.ok(
    lines.some((l) => String(l.msg).startsWith('-1021')),
    'the clock was re-synced',
  );
});
