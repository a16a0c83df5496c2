// `fleet aggregator` refuses a token configured for two roles (exit 2, the roles named, never the
// token); the parser and startAggregator refuse it alike.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { parseAggregatorArgs } from '../cli/aggregator.ts';
import { UsageError } from '../cli/main.ts';

const root = new URL('..', import.meta.url).pathname;

describe('fleet aggregator: one token, one role', () => {
  it('the parser refuses the same token for two roles, from flags and the environment together', () => {
    const secret = 'shared-secret-0123456789';
    assert.throws(
      () =>
        parseAggregatorArgs(['--token', `trader:${secret}`], { FLEET_AGGREGATOR_TOKENS: `admin:${secret}` }),
      (e: Error) =>
        e instanceof UsageError &&
        /two roles \(trader and admin\)/.test(e.message) &&
        !e.message.includes(secret),
    );
    // The same token twice for one role is only a repetition.
    const ok = parseAggregatorArgs(['--token', `trader:${secret}`, '--token', `trader:${secret}`], {});
    assert.equal(ok.tokens.length, 2);
  });

  it('exits 2 with the reason, never printing the token', async () => {
    const secret = 'cli-shared-secret-0123456789';
    const child = spawn(
      process.execPath,
      [
        'bin/fleet.mjs',
        'aggregator',
        '--port',
        '0',
        '--token',
        `collector:${secret}`,
        '--token',
        `admin:${secret}`,
      ],
      {
        cwd: root,
        env: { ...process.env, FLEET_AGGREGATOR_TOKENS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
    });
    child.stderr!.on('data', (d) => {
      out += String(d);
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 2, out);
    assert.match(out, /the same token is configured for two roles \(collector and admin\)/);
    assert.ok(!out.includes(secret), 'no token in the output');
    assert.doesNotMatch(out, /listening/);
  });
});
