// `fleet sim` as a user runs it: flags, what it prints, the account it accepts, clean stop.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { call } from './helpers/rest.ts';

const root = new URL('..', import.meta.url).pathname;

test('fleet sim --port 0 --api-key K --api-secret S serves that account and stops on SIGTERM', async () => {
  const account = { apiKey: `k-${'1'.repeat(62)}`, apiSecret: `s_${'2'.repeat(62)}` };
  const child = spawn(
    process.execPath,
    [
      'bin/fleet.mjs',
      'sim',
      '--port',
      '0',
      '--symbols',
      '10',
      '--api-key',
      account.apiKey,
      '--api-secret',
      account.apiSecret,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let out = '';
    const origin = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /REST\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m && out.includes('balance')) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    assert.match(out, /WebSocket\s+ws:\/\/127\.0\.0\.1:\d+/);
    assert.ok(out.includes(account.apiKey), 'the account is listed');
    assert.ok(!out.includes(account.apiSecret), 'a user-given secret is never printed');
    const bal = await call(origin, 'GET', '/fapi/v2/balance', {}, { account, signed: true });
    assert.equal(bal.status, 200);
    assert.equal(bal.body[0].balance, '10000.00000000');
  } finally {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  }
});

test('fleet sim refuses bad flags with usage and exit code 2', () => {
  for (const args of [
    ['--port', 'abc'],
    ['--api-key', 'only-a-key-without-secret'],
    ['--nope'],
    ['--balance', '-5'],
  ]) {
    const r = spawnSync(process.execPath, ['bin/fleet.mjs', 'sim', ...args], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /fleet sim/);
  }
  const help = spawnSync(process.execPath, ['bin/fleet.mjs', '--help'], { cwd: root, encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /sim\s+run the Binance/);
});
