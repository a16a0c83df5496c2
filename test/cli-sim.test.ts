// `fleet sim` as a user runs it: flags, what it prints, the account it accepts, clean stop.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSimArgs } from '../cli/sim.ts';
import { FuturesApi } from '../core/binance/endpoints.ts';
import { createClient } from '../core/binance/rest.ts';
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

test('fleet sim --api-key K --ed25519-public-key FILE serves an Ed25519 account; a bad PEM is exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-cli-sim-'));
  try {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const pemFile = join(dir, 'ed25519-public.pem');
    writeFileSync(pemFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const hmac = { apiKey: `k-${'3'.repeat(62)}`, apiSecret: `s_${'4'.repeat(62)}` };
    const edKey = `e-${'5'.repeat(62)}`;

    // Each --api-key pairs with the next credential, in command-line order.
    const opts = parseSimArgs([
      '--api-key',
      edKey,
      '--ed25519-public-key',
      pemFile,
      '--api-key',
      hmac.apiKey,
      '--api-secret',
      hmac.apiSecret,
    ]);
    assert.deepEqual(
      opts.accounts?.map((a) => [a.apiKey, a.apiSecret, a.ed25519PublicKey?.includes('BEGIN PUBLIC KEY')]),
      [
        [edKey, undefined, true],
        [hmac.apiKey, hmac.apiSecret, undefined],
      ],
    );

    const child = spawn(
      process.execPath,
      [
        'bin/fleet.mjs',
        'sim',
        '--port',
        '0',
        '--symbols',
        '5',
        '--api-key',
        hmac.apiKey,
        '--api-secret',
        hmac.apiSecret,
        '--api-key',
        edKey,
        '--ed25519-public-key',
        pemFile,
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
          if (m && out.includes(edKey) && out.split('balance').length > 2) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      });
      assert.match(out, new RegExp(`api key ${edKey}\\s+Ed25519 public key`));
      const rest = createClient({
        env: 'simulator',
        restUrl: origin,
        apiKey: edKey,
        ed25519PrivateKey: privatePem,
      });
      try {
        const acct = await new FuturesApi(rest).accountV3();
        assert.equal(acct.assets.find((a) => a.asset === 'USDT')?.walletBalance, '10000.00000000');
      } finally {
        await rest.close();
      }
      const bal = await call(origin, 'GET', '/fapi/v2/balance', {}, { account: hmac, signed: true });
      assert.equal(bal.status, 200);
    } finally {
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
    }

    const badPem = join(dir, 'bad.pem');
    writeFileSync(badPem, '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n');
    const privFile = join(dir, 'private.pem');
    writeFileSync(privFile, privatePem);
    for (const args of [
      ['--api-key', edKey, '--ed25519-public-key', badPem],
      ['--api-key', edKey, '--ed25519-public-key', privFile],
      ['--api-key', edKey, '--ed25519-public-key', join(dir, 'missing.pem')],
      ['--ed25519-public-key', pemFile],
    ]) {
      const r = spawnSync(process.execPath, ['bin/fleet.mjs', 'sim', ...args], {
        cwd: root,
        encoding: 'utf8',
      });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /fleet sim/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
