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
