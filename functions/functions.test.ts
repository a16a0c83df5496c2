// Every reader against the in-process simulator and aggregator: records, keys and timestamps,
// slotting, cursor sharing, filter changes, three position sources merged to the newest, and
// surviving an aggregator restart and an exchange fault burst. Runs are short (about a second)
// and waits poll with deadlines.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningAggregator } from '../aggregator/index.ts';
import { startTestAggregator, TOKENS, waitUntil } from '../aggregator/test-support.ts';
import { FuturesApi } from '../core/binance/endpoints.ts';
import { createClient } from '../core/binance/rest.ts';
import { createLogger } from '../core/log.ts';
import { AggregatorClient } from '../core/protocol/client.ts';
import { type RunningSim, startSim } from '../sim/index.ts';
import { run as book } from './book/index.ts';
import { run as klines } from './klines/index.ts';
import { run as fast, volumeFilter } from './klines-fast/index.ts';
import { clockOf, type Deps, nextSlot, ReaderStats } from './lib/common.ts';
import { createInstance, parseEnv } from './lib/handler.ts';
import { run as openOrders } from './open-orders/index.ts';
import { plan, slotOffset } from './plan.ts';
import { run as posAccount } from './positions-account/index.ts';
import { run as posRisk } from './positions-risk/index.ts';
import { fromAccountUpdate, run as posStream } from './positions-stream/index.ts';
import { surgeOf, run as volume, definition as volumeDef } from './volume/index.ts';

const silent = createLogger('test', 'silent');
const account = { apiKey: 'r'.repeat(64), apiSecret: 's'.repeat(64) };
let sim: RunningSim;
let agg: RunningAggregator;
let octet = 20;
const open: Array<{ close(): Promise<void> }> = [];

function deps<C>(config: Partial<Deps<C>['config']> & C, fn = 'test'): Deps<C> {
  const rest = createClient({
    restUrl: sim.restUrl,
    ...account,
    localAddress: `127.0.0.${octet++}`,
    logger: silent,
  });
  const a = new AggregatorClient({
    url: agg.url,
    token: TOKENS.admin,
    source: `${fn}@${octet}`,
    now: () => rest.now(),
    reconnect: { baseMs: 20, maxMs: 200 },
    requestTimeoutMs: 2000,
  });
  a.on('error', () => undefined);
  open.push(rest, a);
  return {
    rest,
    agg: a,
    clock: clockOf(rest),
    log: silent,
    stats: new ReaderStats(),
    config: {
      fn,
      source: `${fn}@${octet}`,
      replica: 0,
      replicas: 1,
      periodMs: 50,
      slotOffsetMs: 0,
      wsBase: sim.wsUrl,
      ...config,
    } as Deps<C>['config'],
  };
}

async function ready<C>(d: Deps<C>): Promise<Deps<C>> {
  await d.rest.syncClock();
  await d.agg.connect();
  return d;
}

async function watcher(topics: string[]): Promise<AggregatorClient> {
  const w = new AggregatorClient({ url: agg.url, token: TOKENS.trader });
  open.push(w);
  await w.connect();
  await w.subscribe(topics);
  return w;
}

const soon = (d: Deps<unknown>, ms: number) => d.clock.now() + ms;
const KL = { interval: '1m' as const, window: 20, windowEveryMs: 60_000 };

before(async () => {
  sim = await startSim({ port: 0, symbols: 12, accounts: [account] });
  agg = await startTestAggregator();
});
after(async () => {
  for (const c of open.reverse()) await c.close().catch(() => undefined);
  await agg.close();
  await sim.close();
});

describe('planner', () => {
  test('book replicas are slotted at i/n of the period; freshness divides by n', () => {
    const p = plan({ replicas: { book: 10, klines: 2 }, symbols: 200, fastSymbols: 10 });
    const b = p.readers.find((r) => r.fn === 'book')!;
    assert.equal(b.weightPerRead, 5);
    assert.ok(b.weightPerMin <= 2400 * 0.96 + 1 && b.weightPerMin >= 2400 * 0.9);
    assert.equal(b.slotOffsetsMs.length, 10);
    assert.ok(Math.abs(b.slotOffsetsMs[5] - b.periodMs / 2) < 0.1);
    const f = p.freshness.find((x) => x.topic === 'book')!;
    assert.ok(Math.abs(f.plannedMs - b.periodMs / 10) < 0.1);
    assert.equal(nextSlot(1000, 100, 30), 1030);
    assert.equal(nextSlot(1031, 100, 30), 1130);
    assert.equal(slotOffset(100, 3, 4), 75);
  });
});

describe('configuration', () => {
  test('the exchange defaults to the local simulator (production only when named)', () => {
    const e = parseEnv({ FLEET_AGGREGATOR_TOKEN: 't' });
    assert.equal(e.FLEET_BINANCE_REST, 'http://127.0.0.1:8600');
    assert.equal(e.FLEET_BINANCE_WS, 'ws://127.0.0.1:8600');
    const p = parseEnv({ FLEET_AGGREGATOR_TOKEN: 't', FLEET_EXCHANGE: 'production' });
    assert.equal(p.FLEET_BINANCE_REST, 'https://fapi.binance.com');
    assert.equal(p.FLEET_BINANCE_WS, 'wss://fstream.binance.com');
    assert.throws(() => parseEnv({ FLEET_AGGREGATOR_TOKEN: 't', FLEET_EXCHANGE: 'live' }), /FLEET_EXCHANGE/);
    assert.throws(() => parseEnv({}), /FLEET_AGGREGATOR_TOKEN/);
  });
});

describe('readers', () => {
  test('book: every symbol, key = symbol, ts = time, on its own slots', async () => {
    const d = await ready(deps({ periodMs: 200, slotOffsetMs: 50, replica: 1, replicas: 4 }, 'book'));
    const w = await watcher(['book']);
    const starts: number[] = [];
    const orig = d.rest.request.bind(d.rest);
    d.rest.request = ((...a: Parameters<typeof orig>) => {
      starts.push(d.clock.now());
      return orig(...a);
    }) as typeof d.rest.request;
    const r = await book(d, soon(d, 700));
    assert.ok(r.calls >= 2, `calls ${r.calls}`);
    await waitUntil(() => w.records('book').size === 12, 'book records');
    for (const [k, rec] of w.records<{ symbol: string; time: number }>('book')) {
      assert.equal(k, rec.data.symbol);
      assert.equal(rec.ts, rec.data.time);
    }
    // On its slot: within 40 ms after it, or a few ms before it (timers and the fractional
    // clock offset round; a read 1 ms early still falls in its own time slice).
    for (const t of starts) {
      const phase = (((t - 50) % 200) + 200) % 200;
      assert.ok(phase < 40 || phase > 195, `read at phase ${phase}`);
    }
  });

  test('klines: two replicas share the cursor; latest two bars, window, ts = read time', async () => {
    const a = await ready(deps(KL, 'klines'));
    const b = await ready(deps(KL, 'klines'));
    const w = await watcher(['kline.1m', 'kline.1m.window']);
    const reads = new Map<string, number>();
    for (const d of [a, b]) {
      const orig = d.rest.request.bind(d.rest);
      d.rest.request = ((m: string, p: string, params?: Record<string, unknown>, o?: unknown) => {
        if (p === '/fapi/v1/klines')
          reads.set(String(params?.symbol), (reads.get(String(params?.symbol)) ?? 0) + 1);
        return orig(m as 'GET', p, params as never, o as never);
      }) as typeof d.rest.request;
    }
    const t0 = a.clock.now();
    await Promise.all([klines(a, soon(a, 1000)), klines(b, soon(b, 1000))]);
    const counts = [...reads.values()];
    assert.equal(reads.size, 12, 'every symbol read');
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `round-robin: ${counts}`);
    await waitUntil(
      () => w.records('kline.1m').size === 12 && w.records('kline.1m.window').size === 12,
      'klines',
    );
    for (const [k, rec] of w.records<{ bars: unknown[][] }>('kline.1m')) {
      assert.equal(rec.data.bars.length, 2, k);
      assert.ok(rec.ts >= t0 && rec.ts <= a.clock.now() + 10);
      assert.ok((rec.data.bars[1][0] as number) > (rec.data.bars[0][0] as number));
    }
    assert.equal(w.get<{ bars: unknown[] }>('kline.1m.window', 'BTCUSDT')!.data.bars.length, 20);
  });

  test('volume publishes volume and symbols; klines-fast follows the filter as it changes', async () => {
    const v = await ready(deps({ symbolsEveryMs: 60_000, surgeWindowMs: 60_000 }, 'volume'));
    const w = await watcher(['volume', 'symbols', 'kline.1m']);
    const vr = await volume(v, soon(v, 300));
    assert.ok(vr.calls >= 2);
    await waitUntil(
      () => w.records('volume').size === 12 && w.records('symbols').size === 12,
      'volume and symbols',
    );
    const row = w.get<{ quoteVolume: string; fundingRate: string; volumeSurge: string }>(
      'volume',
      'ETHUSDT',
    )!;
    assert.match(row.data.quoteVolume, /^\d/);
    assert.equal(w.get<{ status: string }>('symbols', 'BTCUSDT')!.data.status, 'TRADING');
    assert.equal(
      surgeOf(
        [
          [0, 86_400],
          [60_000, 86_400 + 600],
        ],
        60_000,
      ).toFixed(1),
      '9.9',
    );

    // The filter: publish volume records that make XRPUSDT the only pick, then SOLUSDT.
    const admin = await ready(deps({}, 'admin'));
    const pick = async (symbol: string) => {
      const now = Math.floor(admin.clock.now()) + 1000;
      await admin.agg.publish(
        'volume',
        [...w.records<{ symbol: string; fundingRate: string }>('volume').values()].map((r) => ({
          key: r.key,
          ts: now,
          data: { ...r.data, quoteVolume: r.key === symbol ? '1000000000' : '1', volumeSurge: '1' },
        })),
        { ack: true },
      );
    };
    const f = await ready(deps({ ...KL, top: 1, surge: 5, max: 4 }, 'klines-fast'));
    const seen = new Set<string>();
    const orig = f.rest.request.bind(f.rest);
    f.rest.request = ((m: string, p: string, params?: Record<string, unknown>, o?: unknown) => {
      if (p === '/fapi/v1/klines') seen.add(String(params?.symbol));
      return orig(m as 'GET', p, params as never, o as never);
    }) as typeof f.rest.request;
    await pick('XRPUSDT');
    await fast(f, soon(f, 400));
    assert.deepEqual([...seen], ['XRPUSDT']);
    seen.clear();
    await pick('SOLUSDT');
    await fast(f, soon(f, 400));
    assert.deepEqual([...seen], ['SOLUSDT']);
    const sel = volumeFilter({ top: 1, surge: 2, max: 3 });
    const m = new Map(
      [
        ['A', '10', '1'],
        ['B', '5', '3'],
        ['C', '1', '1'],
      ].map(([s, q, g]) => [
        s,
        {
          key: s,
          src: 'x',
          ts: 1,
          receivedAt: 1,
          data: { symbol: s, quoteVolume: q, volumeSurge: g, fundingRate: '0' },
        },
      ]),
    );
    assert.deepEqual(sel(m), ['A', 'B']);
  });

  test('a position change is seen by all three sources and merged to the newest', async () => {
    const api = new FuturesApi(createClient({ restUrl: sim.restUrl, ...account, logger: silent }));
    const w = await watcher(['position', 'balance']);
    const s = await ready(deps({}, 'positions-stream'));
    const ac = new AbortController();
    s.signal = ac.signal;
    const streamRun = posStream(s, soon(s, 20_000));
    await waitUntil(() => w.records('balance').size > 0, 'stream snapshot balance', 5000);
    await api.newOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.01' });
    await waitUntil(
      () => Number(w.get<{ positionAmt: string }>('position', 'BTCUSDT:BOTH')?.data.positionAmt ?? 0) > 0,
      'stream position',
    );
    const fromStream = w.get('position', 'BTCUSDT:BOTH')!.ts;
    const a = await ready(deps({ periodMs: 100 }, 'positions-account'));
    const r = await ready(deps({ periodMs: 100 }, 'positions-risk'));
    await Promise.all([posAccount(a, soon(a, 400)), posRisk(r, soon(r, 400))]);
    assert.ok(a.stats.records > 0 && r.stats.records > 0, 'both REST sources published');
    const info = await w.inspect('position', 'BTCUSDT:BOTH');
    assert.ok(
      JSON.stringify(info).includes('positions-account') && JSON.stringify(info).includes('positions-risk'),
    );
    assert.ok(JSON.stringify(info).includes('positions-stream'));
    assert.equal(w.get('position', 'BTCUSDT:BOTH')!.ts, fromStream, 'same updateTime: the newest stays');
    // Close it: the stream reports flat with a newer T, and that wins.
    await api.newOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'MARKET',
      quantity: '0.01',
      reduceOnly: true,
    });
    await waitUntil(
      () => w.get<{ positionAmt: string }>('position', 'BTCUSDT:BOTH')?.data.positionAmt === '0',
      'flat',
    );
    assert.ok(w.get('position', 'BTCUSDT:BOTH')!.ts > fromStream);
    assert.ok(
      fromAccountUpdate({
        e: 'ACCOUNT_UPDATE',
        E: 2,
        T: 1,
        a: { P: [{ s: 'X', pa: '1', ep: '2', up: '0', ps: 'LONG' }] },
      }).positions[0].updateTime === 1,
    );
    ac.abort();
    await streamRun;
    await (api as unknown as { rest: { close(): Promise<void> } }).rest?.close?.();
  });

  test('open-orders publishes orders and algo per symbol, and an emptied symbol', async () => {
    const rest = createClient({ restUrl: sim.restUrl, ...account, logger: silent });
    open.push(rest);
    const api = new FuturesApi(rest);
    const px = Number((await api.bookTicker('ETHUSDT')).bidPrice) * 0.8;
    const o = await api.newOrder({
      symbol: 'ETHUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      price: px.toFixed(2),
      quantity: '0.1',
    });
    const w = await watcher(['orders.open']);
    const d = await ready(deps({ periodMs: 150 }, 'open-orders'));
    const running = openOrders(d, soon(d, 1200));
    await waitUntil(
      () => (w.get<{ orders: unknown[] }>('orders.open', 'ETHUSDT')?.data.orders.length ?? 0) === 1,
      'open order',
    );
    await api.cancelOrder({ symbol: 'ETHUSDT', orderId: o.orderId });
    await waitUntil(
      () => w.get<{ orders: unknown[] }>('orders.open', 'ETHUSDT')?.data.orders.length === 0,
      'emptied',
    );
    await running;
  });

  test('a reader survives an aggregator restart and an exchange fault burst', async () => {
    const d = await ready(deps({ periodMs: 40 }, 'book'));
    const port = agg.port;
    const ac = new AbortController();
    d.signal = ac.signal;
    const running = book(d, soon(d, 60_000));
    await waitUntil(() => d.stats.records > 0, 'first publications');
    // Fault burst: 5 answers of 503.
    await fetch(`${sim.restUrl}/sim/faults`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'error', status: 503, path: '/fapi/v1/ticker/bookTicker', count: 5 }),
    });
    await waitUntil(() => d.stats.errors >= 5, 'errors counted');
    const after = d.stats.records;
    await waitUntil(() => d.stats.records > after, 'reading again after the burst');
    // Aggregator restart on the same port.
    await agg.close();
    agg = await startTestAggregator({ port });
    await waitUntil(() => d.agg.connected, 'reconnected', 5000);
    const w = await watcher(['book']);
    await waitUntil(() => w.records('book').size === 12, 'published to the new aggregator');
    ac.abort();
    const r = await running;
    assert.ok(r.errors >= 5 && r.records > 0);
  });

  test('the FC handler reads its configuration from the environment and ends before the next firing', async () => {
    const inst = createInstance(
      volumeDef,
      {
        FLEET_BINANCE_REST: sim.restUrl,
        FLEET_AGGREGATOR_URL: agg.url,
        FLEET_AGGREGATOR_TOKEN: TOKENS.collector,
        FLEET_LOCAL_ADDRESS: '127.0.0.90',
        FLEET_TRIGGER_PERIOD_S: '1',
        FLEET_RUN_MARGIN_MS: '300',
      },
      { logger: silent },
    );
    const t0 = Date.now();
    const [res, second] = await Promise.all([
      inst.handler(
        Buffer.from(JSON.stringify({ triggerTime: new Date(t0).toISOString(), triggerName: 't' })),
      ),
      new Promise((r) => setTimeout(r, 50)).then(() => inst.handler(Buffer.from('{}'))),
    ]);
    assert.ok(Date.now() - t0 < 1000, 'ended before the next firing');
    assert.ok('calls' in res && res.calls >= 1, JSON.stringify(res));
    assert.ok('skipped' in second, 'never two runs of one replica at once');
    await inst.close();
  });
});
