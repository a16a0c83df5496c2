// `fleet stack` end to end, as `npm start` runs it: simulator, aggregator, readers, gateway and a
// demo-strategy trader. A +1.5 % jump on a symbol with no position opens a long; a 3 % fall from
// there closes it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { call, control } from './helpers/rest.ts';

const root = new URL('..', import.meta.url).pathname;

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('fleet stack: the demo strategy opens on +1.5 % and closes on -3 %, then the stack stops cleanly', {
  timeout: 120_000,
}, async () => {
  const child = spawn(
    process.execPath,
    [
      'bin/fleet.mjs',
      'stack',
      '--port',
      '0',
      '--aggregator-port',
      '0',
      '--gateway-port',
      '0',
      '--symbols',
      '20',
      '--status-ms',
      '500',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'error' } },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  try {
    const origin = await until('the stack to print its addresses', 60_000, async () => {
      const m = /simulator\s+REST (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      return m && out.includes('trader      demo strategy') ? m[1] : undefined;
    });
    // Ready when the trader has every symbol's bars (the readers published the windows).
    await until('the trader to know the universe', 60_000, async () =>
      /trader demo \(direct, demo\) up · 20 symbols/.test(out) && /kline\.1m\.window=/.test(out)
        ? true
        : undefined,
    );
    const apiKey = /account (\S+) \//.exec(out)![1];
    const positions = async () =>
      (await control(origin, 'GET', '/sim/stats')).accounts[apiKey].positions as Record<string, string>;
    assert.deepEqual(await positions(), {});

    const symbol = 'SOLUSDT';
    const p0 = Number((await call(origin, 'GET', '/fapi/v1/ticker/price', { symbol })).body.price);
    await control(origin, 'POST', '/sim/price', { symbol, price: (p0 * 1.015).toFixed(2) });
    const amt = await until('a long position', 30_000, async () => (await positions())[symbol]);
    assert.ok(Number(amt) > 0, `long ${amt}`);

    const p1 = Number((await call(origin, 'GET', '/fapi/v1/ticker/price', { symbol })).body.price);
    await control(origin, 'POST', '/sim/price', { symbol, price: (p1 * 0.97).toFixed(2) });
    await until('the position to close', 30_000, async () =>
      (await positions())[symbol] === undefined ? true : undefined,
    );
  } finally {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, out.slice(-2000));
    assert.match(out, /fleet stack: stopped/);
  }
});

test('fleet stack helpers: shutdown closes every step despite a failing or hanging one; status line per reader', async () => {
  const { closeAll, statusLine, plannedFreshness } = await import('../cli/stack.ts');
  const { plan } = await import('../functions/plan.ts');
  const closed: string[] = [];
  const failures: string[] = [];
  const t0 = Date.now();
  const failed = await closeAll(
    [
      ['trader', async () => closed.push('trader')],
      [
        'gateway',
        async () => {
          throw new Error('boom');
        },
      ],
      ['readers', () => new Promise(() => undefined)], // never settles
      ['aggregator', async () => closed.push('aggregator')],
      ['simulator', async () => closed.push('simulator')],
    ],
    { deadlineMs: 300, minStepMs: 100, onFailure: (n, why) => failures.push(`${n}: ${why}`) },
  );
  assert.deepEqual(closed, ['trader', 'aggregator', 'simulator']);
  assert.deepEqual(failed, ['gateway', 'readers']);
  assert.match(failures[0], /gateway: boom/);
  assert.ok(Date.now() - t0 < 2000, 'bounded by the deadline');

  const stats = { perMinute: () => ({ calls: 12, weight: 60 }), errors: 1, invocations: 2, lastError: '' };
  const readers = {
    instances: [
      { config: { source: 'book@0' }, address: '127.0.0.2', stats },
      { config: { source: 'klines@0' }, address: '127.0.0.3', stats },
    ],
  } as any;
  const p = plan({ replicas: { book: 4, klines: 1 }, symbols: 20, fastSymbols: 16 });
  const planned = plannedFreshness(p);
  const line = statusLine(readers, new Map([['book', 120.4]]), planned);
  assert.match(line, /book@0=12c\/60w\/1e klines@0=12c\/60w\/1e/);
  assert.match(line, /book=120ms\(plan \d+\)/);
  assert.ok(planned.has('kline.1m'));
});

test('fleet plan: --budget-share above 1 is refused; kline window flags and environment', async () => {
  const { parsePlanArgs } = await import('../cli/plan.ts');
  assert.throws(() => parsePlanArgs(['--budget-share', '1.5'], {}), /budget-share/);
  assert.equal(parsePlanArgs(['--budget-share', '1'], {}).budgetShare, 1);
  const a = parsePlanArgs(['--kline-interval', '5m'], { FLEET_KLINE_WINDOW: '499' });
  assert.equal(a.klineWindow, 499);
  assert.equal(a.klineInterval, '5m');
  assert.throws(() => parsePlanArgs(['--kline-window', '2000'], {}), /kline-window/);
});

test('fleet function: one JSON line per invocation with its own figures; SIGINT cuts the wait', {
  timeout: 60_000,
}, async () => {
  const { startSim } = await import('../sim/index.ts');
  const { startTestAggregator, TOKENS } = await import('../aggregator/test-support.ts');
  const sim = await startSim({ port: 0, symbols: 4 });
  const agg = await startTestAggregator();
  const child = spawn(process.execPath, ['bin/fleet.mjs', 'function', 'book', '--seconds', '1'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      LOG_LEVEL: 'error',
      FLEET_BINANCE_REST: sim.restUrl,
      FLEET_AGGREGATOR_URL: agg.url,
      FLEET_AGGREGATOR_TOKEN: TOKENS.collector,
      FLEET_LOCAL_ADDRESS: '127.0.0.88',
      FLEET_TRIGGER_PERIOD_S: '30',
      FLEET_PERIOD_MS: '100',
    },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  try {
    const line = await until('the first invocation', 30_000, async () =>
      out.split('\n').find((l) => l.startsWith('{')),
    );
    const r = JSON.parse(line);
    assert.equal(r.fn, 'book');
    // This invocation's own figures: about 1 s of reads every 100 ms (not a running total).
    assert.ok(r.calls >= 3 && r.calls <= 15, line);
    // Now in the 29 s wait for the next firing: SIGINT ends it at once.
    const t0 = Date.now();
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, out);
    assert.ok(Date.now() - t0 < 5000, `exited ${Date.now() - t0} ms after SIGINT`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await agg.close();
    await sim.close();
  }
});
