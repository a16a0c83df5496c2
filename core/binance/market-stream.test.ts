// MarketStream against the in-process simulator: routing, live subscribe/unsubscribe, pacing,
// reconnect with resubscription and gap reports after drops, stalls and dead peers, rotation.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { type RunningSim, startSim } from '../../sim/index.ts';
import { createLogger } from '../log.ts';
import {
  type MarketGap,
  type MarketReconnect,
  MarketStream,
  type MarketStreamOptions,
  normalizeStream,
  StreamRequestError,
  streamKind,
  streamRoute,
} from './market-stream.ts';
import { simControl, until, waitFor } from './testing-streams.ts';
import { backoffDelay } from './ws-util.ts';

const silent = createLogger('test', 'silent');

/** Resolves once every one of `streams` delivered a message (from now on). */
function messagesFrom(ms: MarketStream, streams: string[], timeout = 5_000): Promise<void> {
  const pending = new Set(streams);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      ms.off('message', on);
      reject(new Error(`no message within ${timeout} ms from ${[...pending].join(', ')}`));
    }, timeout);
    const on = (stream: string): void => {
      pending.delete(stream);
      if (pending.size > 0) return;
      clearTimeout(timer);
      ms.off('message', on);
      resolve();
    };
    ms.on('message', on);
  });
}

describe('stream names', () => {
  it('routes book streams to /public and the rest to /market', () => {
    const pub = [
      'btcusdt@bookTicker',
      '!bookTicker',
      'btcusdt@depth',
      'btcusdt@depth@100ms',
      'btcusdt@depth20@500ms',
    ];
    const mkt = [
      'btcusdt@aggTrade',
      'btcusdt@markPrice',
      'btcusdt@markPrice@1s',
      '!markPrice@arr@1s',
      'btcusdt@kline_1m',
      'btcusdt_perp@continuousKline_1m',
      'btcusdt@miniTicker',
      '!miniTicker@arr',
      'btcusdt@ticker',
      '!ticker@arr',
      'btcusdt@forceOrder',
      '!contractInfo',
    ];
    for (const s of pub) assert.equal(streamRoute(s), 'public', s);
    for (const s of mkt) assert.equal(streamRoute(s), 'market', s);
    assert.equal(streamKind('btcusdt@markPrice@1s'), 'markPrice1s');
    assert.equal(streamKind('btcusdt@depth10'), 'partialDepth');
    assert.equal(normalizeStream('BTCUSDT@aggTrade'), 'btcusdt@aggTrade');
    assert.equal(normalizeStream('!bookTicker'), '!bookTicker');
  });

  it('backs off exponentially up to the ceiling, jittered downwards', () => {
    const b = { minMs: 100, maxMs: 1000, jitter: 0.5 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, b, () => 0)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(
      backoffDelay(1, b, () => 1),
      100,
    );
  });
});

describe('MarketStream against the simulator', () => {
  let sim: RunningSim;
  let symbols: string[];
  const open: MarketStream[] = [];

  function stream(opts: Partial<MarketStreamOptions> = {}): MarketStream {
    const ms = new MarketStream({
      wsBase: sim.wsUrl,
      backoff: { minMs: 30, maxMs: 500, jitter: 0.2 },
      log: silent,
      ...opts,
    });
    open.push(ms);
    return ms;
  }

  async function wsStats(): Promise<{ connections: number; byRoute: Record<string, number> }> {
    return (await simControl(sim.restUrl, 'GET', '/sim/stats')).ws as {
      connections: number;
      byRoute: Record<string, number>;
    };
  }

  before(async () => {
    sim = await startSim({ port: 0, symbols: 20 });
    symbols = sim.market.specs().map((s) => s.symbol.toLowerCase());
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((m) => m.close()));
  });

  after(() => sim.close());

  it('puts bookTicker on /public and kline on /market, and delivers both', async () => {
    const ms = stream();
    const flowing = messagesFrom(ms, ['btcusdt@bookTicker', 'btcusdt@kline_1m']);
    const seen = new Map<string, Record<string, unknown>>();
    ms.on('message', (s, d) => seen.set(s, d as Record<string, unknown>));
    await ms.subscribe(['btcusdt@bookTicker', 'BTCUSDT@kline_1m']);
    await flowing;
    const conns = ms.connections();
    assert.deepEqual(
      conns.map((c) => [c.route, c.state, c.streams]),
      [
        ['public', 'open', ['btcusdt@bookTicker']],
        ['market', 'open', ['btcusdt@kline_1m']],
      ],
    );
    assert.deepEqual(await wsStats(), {
      connections: 2,
      byRoute: { public: 1, market: 1, private: 0, legacy: 0 },
    });
    assert.equal(seen.get('btcusdt@bookTicker')?.e, 'bookTicker');
    assert.equal(seen.get('btcusdt@bookTicker')?.s, 'BTCUSDT');
    assert.equal(seen.get('btcusdt@kline_1m')?.e, 'kline');
    assert.equal((seen.get('btcusdt@kline_1m')?.k as { i?: string } | undefined)?.i, '1m');
    await ms.close();
    await until(async () => (await wsStats()).connections === 0, 3_000, 'sockets closed');
  });

  it('subscribes and unsubscribes live on the open connection', async () => {
    const ms = stream();
    await ms.subscribe('btcusdt@bookTicker');
    const [conn] = ms.connections();
    const eth = messagesFrom(ms, ['ethusdt@bookTicker']);
    await ms.subscribe('ethusdt@bookTicker');
    await eth;
    assert.equal(ms.connections().length, 1, 'same connection');
    assert.equal(ms.connections()[0].id, conn.id);
    assert.deepEqual(ms.connections()[0].live.sort(), ['btcusdt@bookTicker', 'ethusdt@bookTicker']);

    await ms.unsubscribe('btcusdt@bookTicker');
    assert.deepEqual(ms.connections()[0].live, ['ethusdt@bookTicker'], 'server acknowledged');
    const after: string[] = [];
    const on = (s: string): void => {
      after.push(s);
    };
    ms.on('message', on);
    await until(() => after.filter((s) => s === 'ethusdt@bookTicker').length >= 5, 5_000, 'eth messages');
    ms.off('message', on);
    assert.ok(!after.includes('btcusdt@bookTicker'), 'nothing from the unsubscribed stream');

    // The last stream of a connection: the connection goes.
    await ms.unsubscribe('ethusdt@bookTicker');
    assert.deepEqual(ms.connections(), []);
    await ms.close();
  });

  it('rejects and drops a stream the server refuses', async () => {
    const ms = stream();
    const errors: Error[] = [];
    ms.on('error', (e) => errors.push(e));
    await ms.subscribe('btcusdt@kline_1m');
    await assert.rejects(ms.subscribe('btcusdt@kline#1m'), StreamRequestError);
    assert.deepEqual(ms.streams(), ['btcusdt@kline_1m']);
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as StreamRequestError).code, 2);
    await ms.close();
  });

  it('paces SUBSCRIBE messages under the per-connection limit instead of getting cut', async () => {
    const ms = stream({ maxMessagesPerSecond: 5 });
    const reconnects: MarketReconnect[] = [];
    ms.on('reconnect', (r) => reconnects.push(r));
    const names = symbols.slice(0, 12).map((s) => `${s}@bookTicker`);
    await ms.subscribe(names[0]);
    const t0 = Date.now();
    for (const n of names.slice(1)) await ms.subscribe(n); // one message each, awaited one by one
    const took = Date.now() - t0;
    assert.ok(took >= 1_500, `11 messages at 5/s take over 2 windows, took ${took} ms`);
    assert.deepEqual(reconnects, []);
    assert.equal(ms.connections().length, 1);
    assert.equal(ms.connections()[0].live.length, 12);
    assert.equal((await wsStats()).byRoute.public, 1);
    await ms.close();
  });

  it('spreads streams over connections at maxStreamsPerConnection', async () => {
    const ms = stream({ maxStreamsPerConnection: 2 });
    await ms.subscribe(symbols.slice(0, 5).map((s) => `${s}@bookTicker`));
    assert.deepEqual(
      ms.connections().map((c) => c.streams.length),
      [2, 2, 1],
    );
    assert.equal((await wsStats()).byRoute.public, 3);
    await ms.close();
  });

  it('after drop-ws: reconnects, resubscribes everything, reports the gap, and data flows again', async () => {
    const ms = stream();
    await ms.subscribe(['btcusdt@bookTicker', 'btcusdt@kline_1m']);
    // These two go through SUBSCRIBE on the open connections, not through the URL.
    await ms.subscribe(['ethusdt@bookTicker', 'ethusdt@aggTrade']);
    const all = ['btcusdt@bookTicker', 'ethusdt@bookTicker', 'btcusdt@kline_1m', 'ethusdt@aggTrade'];
    await messagesFrom(ms, all);

    const gaps: MarketGap[] = [];
    const reconnects: MarketReconnect[] = [];
    ms.on('gap', (g) => gaps.push(g));
    ms.on('reconnect', (r) => reconnects.push(r));
    const bothBack = until(() => gaps.length >= 2, 5_000, 'two gaps');
    const t0 = Date.now();
    const dropped = await simControl(sim.restUrl, 'POST', '/sim/faults', { kind: 'drop-ws' });
    assert.equal(dropped.dropped, 2);
    await bothBack;
    assert.deepEqual(gaps.map((g) => g.route).sort(), ['market', 'public']);
    for (const g of gaps) {
      assert.ok(g.from <= t0 + 5 && g.to >= t0, `gap ${g.from}..${g.to} spans the drop at ${t0}`);
      assert.match(g.reason, /closed 1006/);
    }
    assert.deepEqual(gaps.find((g) => g.route === 'public')?.streams.sort(), [
      'btcusdt@bookTicker',
      'ethusdt@bookTicker',
    ]);
    assert.deepEqual(gaps.find((g) => g.route === 'market')?.streams.sort(), [
      'btcusdt@kline_1m',
      'ethusdt@aggTrade',
    ]);
    assert.equal(reconnects.length, 2);
    for (const c of ms.connections()) assert.deepEqual(c.live.sort(), c.streams.sort(), 'resubscribed');
    await messagesFrom(ms, all);
    assert.deepEqual((await wsStats()).byRoute, { public: 1, market: 1, private: 0, legacy: 0 });
    await ms.close();
  });

  it('replaces a stalled connection (no data for stallMs) and recovers when data resumes', async () => {
    const ms = stream({ stallMs: 1_000 });
    await ms.subscribe('solusdt@bookTicker');
    await messagesFrom(ms, ['solusdt@bookTicker']);
    const stalled = waitFor<[MarketReconnect]>(ms, 'reconnect', (r) => r.reason.startsWith('stall'), 5_000);
    const gap = waitFor<[MarketGap]>(ms, 'gap', (g) => g.reason.startsWith('stall'), 5_000);
    await simControl(sim.restUrl, 'POST', '/sim/faults', { kind: 'stale', symbol: 'SOLUSDT', ms: 2_500 });
    const [r] = await stalled;
    assert.equal(r.route, 'public');
    assert.deepEqual((await gap)[0].streams, ['solusdt@bookTicker']);
    await messagesFrom(ms, ['solusdt@bookTicker'], 8_000);
    await ms.close();
  });

  it('rotates before the lifetime cap without a gap or duplicates', async () => {
    const ms = stream({ maxLifetimeMs: 600, overlapMs: 300 });
    const gaps: MarketGap[] = [];
    ms.on('gap', (g) => gaps.push(g));
    const seen: string[] = [];
    ms.on('message', (s, d) => {
      const b = d as { u: number; E: number };
      if (s === 'btcusdt@bookTicker') seen.push(`${b.u}/${b.E}`);
    });
    const rotated = waitFor<[MarketReconnect]>(ms, 'reconnect', (r) => r.reason === 'lifetime', 5_000);
    await ms.subscribe('btcusdt@bookTicker');
    const [r] = await rotated;
    assert.equal(r.downMs, 0);
    await messagesFrom(ms, ['btcusdt@bookTicker']);
    await ms.close();
    assert.deepEqual(gaps, []);
    assert.equal(new Set(seen).size, seen.length, 'no message delivered twice');
  });
});

describe('MarketStream liveness', () => {
  it('terminates and replaces a connection whose peer stops answering pings', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
    const urls: string[] = [];
    wss.on('connection', (_ws, req) => urls.push(req.url ?? ''));
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const { port } = wss.address() as AddressInfo;
    const ms = new MarketStream({
      wsBase: `ws://127.0.0.1:${port}`,
      pingIntervalMs: 100,
      pongTimeoutMs: 200,
      backoff: { minMs: 20, maxMs: 100, jitter: 0 },
      log: silent,
    });
    try {
      const dead = waitFor<[MarketReconnect]>(
        ms,
        'reconnect',
        (r) => r.reason.startsWith('pong timeout'),
        3_000,
      );
      await ms.subscribe('btcusdt@markPrice');
      await dead;
      assert.ok(urls.length >= 2);
      assert.deepEqual(urls.slice(0, 2), [
        '/market/stream?streams=btcusdt@markPrice',
        '/market/stream?streams=btcusdt@markPrice',
      ]);
    } finally {
      await ms.close();
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    }
  });
});
