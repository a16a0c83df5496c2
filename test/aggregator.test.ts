// The aggregator with its client (core/protocol) and its CLI: readers and traders end to end,
// three position sources racing, cursors shared by concurrent readers, an aggregator restart in
// the middle of a stream, and `fleet aggregator` itself (tokens, SIGTERM drain).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { startAggregator } from '../aggregator/index.ts';
import {
  bookRecord,
  positionRecord,
  RawClient,
  startTestAggregator,
  TOKENS,
  waitUntil,
} from '../aggregator/test-support.ts';
import { DEFAULT_V8_FLAGS, missingV8Flags } from '../cli/aggregator.ts';
import { createLogger } from '../core/log.ts';
import { AggregatorClient, type AggregatorClientOptions } from '../core/protocol/client.ts';

const root = new URL('..', import.meta.url).pathname;

function client(
  url: string,
  role: keyof typeof TOKENS,
  opts: Partial<AggregatorClientOptions> = {},
): AggregatorClient {
  return new AggregatorClient({ url, token: TOKENS[role], reconnect: { baseMs: 20, maxMs: 200 }, ...opts });
}

describe('aggregator with its client', () => {
  it('a reader publishes, a trader follows, with data age by exchange time', async (t) => {
    const agg = await startTestAggregator();
    t.after(() => agg.close());
    const reader = client(agg.url, 'collector', { source: 'book-reader-1' });
    let exchangeNow = Date.now();
    const trader = client(agg.url, 'trader', { now: () => exchangeNow });
    t.after(() => Promise.all([reader.close(), trader.close()]));
    await Promise.all([reader.connect(), trader.connect()]);
    assert.equal(reader.role, 'collector');
    await trader.subscribe(['book', 'position']);
    const ts = exchangeNow - 250;
    const ack = await reader.publish(
      'book',
      [bookRecord('BTCUSDT', ts, '65000.1'), bookRecord('ETHUSDT', ts, '3500.2')],
      {
        ack: true,
      },
    );
    assert.deepEqual(ack, { accepted: 2, stale: 0, rejected: 0 });
    await waitUntil(() => trader.records('book').size === 2, 'the update');
    assert.equal(trader.get<{ bidPrice: string }>('book', 'BTCUSDT')?.data?.bidPrice, '65000.1');
    exchangeNow += 1000;
    assert.equal(trader.age('book', 'BTCUSDT'), 1250);
    assert.equal(trader.age('position'), Number.POSITIVE_INFINITY, 'no positions yet: infinitely stale');
    // A collector may not read account data: the client reports the refusal.
    await assert.rejects(reader.subscribe('position'), /forbidden/);
  });

  it('three position sources racing over real connections: the newest update time wins', async (t) => {
    const agg = await startTestAggregator();
    t.after(() => agg.close());
    const sources = ['user-stream', 'account-v3', 'position-risk'].map((s) =>
      client(agg.url, 'collector', { source: s }),
    );
    const trader = client(agg.url, 'trader');
    t.after(() => Promise.all([...sources, trader].map((c) => c.close())));
    await Promise.all([...sources, trader].map((c) => c.connect()));
    await trader.subscribe('position', { symbols: ['BTCUSDT'] });
    const base = Date.now() - 10_000;
    let best = { ts: 0, amt: '', src: '' };
    // Each source sends 50 views with its own (overlapping) update times, all at once.
    await Promise.all(
      sources.map(async (c, i) => {
        for (let k = 0; k < 50; k++) {
          const ts = base + ((k * 7 + i * 13) % 60) * 10;
          const amt = `${i}.${k}`;
          if (ts > best.ts) best = { ts, amt, src: '' };
          await c.publish('position', [positionRecord('BTCUSDT', 'BOTH', ts, amt)], { ack: true });
        }
      }),
    );
    const maxTs = best.ts;
    await waitUntil(() => trader.get('position', 'BTCUSDT:BOTH')?.ts === maxTs, 'the newest view');
    // Equal update times replace: the winner is whichever view with the newest time came last;
    // every source reached it, so check the time and that the amount is one of those views.
    const got = trader.get<{ positionAmt: string; updateTime: number }>('position', 'BTCUSDT:BOTH')!;
    assert.equal(got.data.updateTime, maxTs);
    const inspect = await trader.inspect('position', 'BTCUSDT:BOTH');
    assert.deepEqual(Object.keys(inspect.sources).sort(), ['account-v3', 'position-risk', 'user-stream']);
    for (const s of Object.values(inspect.sources)) assert.equal(s.records, 50);
    assert.ok(inspect.winner && inspect.keySources?.[inspect.winner].ts === maxTs);
    assert.ok(
      Object.values(inspect.sources).reduce((a, s) => a + s.stale, 0) > 0,
      'older views were dropped',
    );
  });

  it('cursors: ten concurrent readers split 200 symbols, each exactly once per lap', async (t) => {
    const agg = await startTestAggregator();
    t.after(() => agg.close());
    const readers = Array.from({ length: 10 }, () => client(agg.url, 'collector'));
    t.after(() => Promise.all(readers.map((r) => r.close())));
    await Promise.all(readers.map((r) => r.connect()));
    const taken = await Promise.all(
      readers.map(async (r) => {
        const mine: number[] = [];
        for (let i = 0; i < 20; i++) mine.push((await r.cursor('kline.1m', 200)).value);
        return mine;
      }),
    );
    assert.deepEqual(
      taken.flat().sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.deepEqual(await readers[0].cursor('kline.1m', 200), { value: 0, lap: 1 });
    // The universe grows to 250 mid-lap: the lap completes over the new size.
    const more = await Promise.all(
      readers.map((r) => Promise.all(Array.from({ length: 25 }, () => r.cursor('kline.1m', 250)))),
    );
    const values = more.flat().map((x) => x.value);
    assert.equal(new Set(values).size, 250, 'a lap over the new size: 1..249, then 0');
    assert.ok(values.every((v) => v >= 0 && v < 250));
  });

  it('rides through an aggregator restart mid-stream: clients reconnect, state rebuilds', async (t) => {
    const silent = createLogger('aggregator', 'silent');
    const tokens = (Object.keys(TOKENS) as Array<keyof typeof TOKENS>).map((role) => ({
      role,
      token: TOKENS[role],
    }));
    let agg = await startAggregator({ port: 0, tokens, logger: silent });
    const port = agg.port;
    const reader = client(agg.url, 'collector', { source: 'book-reader' });
    const trader = client(agg.url, 'trader');
    t.after(async () => {
      await Promise.all([reader.close(), trader.close()]);
      await agg.close();
    });
    await Promise.all([reader.connect(), trader.connect()]);
    await trader.subscribe('book');
    const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
    let ts = Date.now() - 60_000;
    let stop = false;
    t.after(() => {
      stop = true;
    });
    let publications = 0;
    const stream = (async () => {
      while (!stop) {
        ts++;
        await reader.publish(
          'book',
          symbols.map((s) => bookRecord(s, ts, `${ts % 100000}.5`)),
        );
        publications++;
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    await waitUntil(() => (trader.get('book', 'BTCUSDT')?.ts ?? 0) > 0 && publications > 10, 'the stream');
    let closes = 0;
    trader.on('close', () => closes++);

    await agg.close(); // clients see 1001 and start reconnecting; the reader queues meanwhile
    await waitUntil(() => closes === 1 && !reader.connected, 'both clients noticed');
    const queuedWhileDown = publications;
    agg = await startAggregator({ port, tokens, logger: silent });

    // The trader resubscribes and rebuilds from the reader's next publications.
    await waitUntil(() => trader.connected && reader.connected, 'reconnected', 10_000);
    await waitUntil(() => publications > queuedWhileDown + 10, 'the stream resumes');
    stop = true;
    await stream;
    await reader.flush();
    await waitUntil(
      () => symbols.every((s) => trader.get('book', s)?.ts === ts),
      'the trader holds the last publication',
      10_000,
    );
    assert.equal(trader.stats.connects, 2);
    assert.equal(trader.stats.gaps, 0);
    assert.ok(trader.isLive('book'));
  });
});

describe('fleet aggregator (the CLI)', () => {
  async function startCli(
    args: string[],
    env: Record<string, string> = {},
    detached = false,
  ): Promise<{ child: ChildProcess; url: string; out: () => string }> {
    const child = spawn(process.execPath, ['bin/fleet.mjs', 'aggregator', '--port', '0', ...args], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached,
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
    });
    child.stderr!.on('data', (d) => {
      out += String(d);
    });
    await waitUntil(
      () => /listening on ws:\/\//.test(out) || child.exitCode !== null,
      'the aggregator to start',
      30_000,
    );
    const url = /listening on (ws:\/\/[\d.]+:\d+)/.exec(out)?.[1];
    if (!url) throw new Error(`did not start: ${out}`);
    return { child, url, out: () => out };
  }

  it('takes tokens from flags and the environment, never prints them, and drains on SIGTERM', async (t) => {
    const flagToken = 'flag-collector-secret-123456';
    const envToken = 'env-trader-secret-1234567890';
    const { child, url, out } = await startCli(['--token', `collector:${flagToken}`], {
      FLEET_AGGREGATOR_TOKENS: `trader:${envToken}`,
    });
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGTERM'); // forwarded to the worker process
    });
    const pub = await RawClient.connect(url, null, { token: flagToken });
    t.after(() => pub.ws.terminate());
    await pub.next((f) => f.op === 'hello' && f.role === 'collector');
    const sub = await RawClient.connect(url, null, { token: envToken });
    t.after(() => sub.ws.terminate());
    await sub.next((f) => f.op === 'hello' && f.role === 'trader');
    assert.equal(await RawClient.upgradeStatus(url, { authorization: `Bearer ${TOKENS.admin}` }), 401);
    sub.send({ op: 'sub', topics: ['book'] });
    await sub.next((f) => f.op === 'snapshot');
    pub.send({ op: 'pub', topic: 'book', src: 'r', records: [bookRecord('BTCUSDT', Date.now())] });
    await sub.next((f) => f.op === 'upd');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    await waitUntil(() => sub.closeCode !== undefined, 'the close frame');
    assert.equal(sub.closeCode, 1001);
    assert.ok(!out().includes(flagToken) && !out().includes(envToken), 'no token in the output');
    assert.match(out(), /draining/);
    const workerPid = Number(/pid (\d+)/.exec(out())?.[1]);
    assert.ok(
      workerPid > 0 && workerPid !== child.pid,
      'the worker runs with the V8 flags in its own process',
    );
  });

  it('drains once when the signal reaches the whole process group (Ctrl-C, systemd)', async (t) => {
    const token = 'group-trader-secret-123456789';
    const { child, url } = await startCli(['--token', `trader:${token}`], {}, true);
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    const sub = await RawClient.connect(url, null, { token });
    t.after(() => sub.ws.terminate());
    await sub.next((f) => f.op === 'hello');
    process.kill(-child.pid!, 'SIGTERM'); // parent and worker both get it
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    await waitUntil(() => sub.closeCode !== undefined, 'the close frame');
    assert.equal(sub.closeCode, 1001, 'a graceful close, not a killed process');
  });

  it('runs itself again with its V8 heap flags unless node already has them or they are turned off', () => {
    assert.deepEqual(missingV8Flags({}, []), DEFAULT_V8_FLAGS);
    assert.deepEqual(missingV8Flags({}, [...DEFAULT_V8_FLAGS, '--import', 'tsx']), []);
    assert.deepEqual(missingV8Flags({ FLEET_AGGREGATOR_REEXEC: '1' }, []), []);
    assert.deepEqual(missingV8Flags({ FLEET_AGGREGATOR_V8_FLAGS: '' }, []), []);
    assert.deepEqual(missingV8Flags({ FLEET_AGGREGATOR_V8_FLAGS: '--max-semi-space-size=16' }, []), [
      '--max-semi-space-size=16',
    ]);
  });

  it('refuses to start without a token, and rejects malformed ones without echoing them', async () => {
    for (const [args, env] of [
      [[], {}],
      [['--token', 'root:x1234567'], {}],
      [['--token', 'trader:'], {}],
      [['--token', 'forgot-the-role-secret-value'], {}],
      [[], { FLEET_AGGREGATOR_TOKENS: 'collector' }],
    ] as Array<[string[], Record<string, string>]>) {
      const child = spawn(process.execPath, ['bin/fleet.mjs', 'aggregator', '--port', '0', ...args], {
        cwd: root,
        env: { ...process.env, FLEET_AGGREGATOR_TOKENS: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d) => {
        out += String(d);
      });
      child.stderr!.on('data', (d) => {
        out += String(d);
      });
      const [code] = await once(child, 'exit');
      assert.doesNotMatch(out, /forgot-the|x1234567/, 'no secret in the message');
      assert.equal(code, 2, JSON.stringify(args));
    }
  });
});
