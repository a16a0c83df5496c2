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
import { run as book, definition as bookDef } from './book/index.ts';
import { run as klines } from './klines/index.ts';
import { run as fast, definition as fastDef, volumeFilter } from './klines-fast/index.ts';
import { clockOf, currentSymbols, type Deps, nextSlot, ReaderStats } from './lib/common.ts';
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

  test('the kline window size and period set the klines weight; the topic follows the interval', () => {
    const at = (klineWindow: number, klineWindowEveryMs = 60_000) =>
      plan({
        replicas: { klines: 1 },
        symbols: 200,
        fastSymbols: 16,
        klineWindow,
        klineWindowEveryMs,
        klineInterval: '5m',
      });
    const small = at(90).readers[0];
    assert.equal(small.weightPerRead, 1);
    const budget = Math.floor(2400 * 0.96);
    for (const [window, perWindowRead] of [
      [120, 2],
      [499, 5],
      [1499, 10],
    ]) {
      const r = at(window).readers[0];
      assert.ok(r.weightPerRead > 1 && r.weightPerRead < perWindowRead, `${window}: ${r.weightPerRead}`);
      assert.ok(r.readsPerMin < small.readsPerMin, `${window}: fewer reads`);
      assert.ok(Math.abs(r.weightPerMin - budget) <= 1, `${window}: ${r.weightPerMin} weight/min`);
    }
    // Windows every read when a symbol comes round less often than the window period.
    assert.equal(at(499, 1000).readers[0].weightPerRead, 5);
    assert.equal(at(499, 0).readers[0].weightPerRead, 1);
    assert.deepEqual(
      at(90).freshness.map((f) => f.topic),
      ['kline.5m'],
    );
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

  test('FLEET_REPLICA must be below FLEET_REPLICAS (0-based)', () => {
    const base = { FLEET_AGGREGATOR_TOKEN: 't' };
    assert.equal(parseEnv({ ...base, FLEET_REPLICA: '3', FLEET_REPLICAS: '4' }).FLEET_REPLICA, 3);
    assert.throws(() => parseEnv({ ...base, FLEET_REPLICA: '4', FLEET_REPLICAS: '4' }), /FLEET_REPLICA/);
    assert.throws(() => parseEnv({ ...base, FLEET_REPLICA: '1' }), /FLEET_REPLICA/);
    assert.equal(parseEnv(base).FLEET_RUN_MARGIN_MS, 2000, 'a 60 s run uses about 58 s');
  });

  test('the readers universe drops symbols that left exchangeInfo', () => {
    const rec = (key: string, ts: number, status = 'TRADING') => ({ key, ts, data: { status } });
    assert.deepEqual(
      currentSymbols([
        rec('BTCUSDT', 2000),
        rec('GONEUSDT', 1000 - 60_000),
        rec('ETHUSDT', 2000),
        rec('HALTUSDT', 2000, 'BREAK'),
      ]),
      ['BTCUSDT', 'ETHUSDT'],
    );
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
    // ts = the newest exchange time of the ticker and premium index; symbols: exchangeInfo's serverTime.
    assert.ok(row.ts > 0 && row.ts <= v.clock.now() + 10, `volume ts ${row.ts}`);
    const sym = w.get('symbols', 'BTCUSDT')!;
    assert.ok(Math.abs(sym.ts - v.clock.now()) < 5000, `symbols ts ${sym.ts}`);
    // Surge: the mean per-minute quote volume of the window over the day's (24 h / 1440).
    assert.equal(surgeOf([1440, 4320], 1440 * 1440).toFixed(1), '2.0');
    assert.equal(surgeOf([], 1000), 1);

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
    const merged = w.get<{
      symbol: string;
      positionSide: string;
      positionAmt: string;
      entryPrice: string;
      updateTime: number;
    }>('position', 'BTCUSDT:BOTH')!;
    assert.equal(merged.data.symbol, 'BTCUSDT');
    assert.equal(merged.data.positionSide, 'BOTH');
    assert.equal(Number(merged.data.positionAmt), 0.01);
    assert.ok(Number(merged.data.entryPrice) > 0, `entryPrice ${merged.data.entryPrice}`);
    assert.equal(merged.ts, merged.data.updateTime);
    const usdt = w.get<{ asset: string; walletBalance: string; updateTime: number }>('balance', 'USDT')!;
    assert.equal(usdt.data.asset, 'USDT');
    assert.ok(Number(usdt.data.walletBalance) > 0);
    assert.equal(usdt.ts, usdt.data.updateTime);
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
    const algo = await api.newAlgoOrder({
      symbol: 'ETHUSDT',
      side: 'SELL',
      type: 'STOP_MARKET',
      triggerPrice: (px * 0.9).toFixed(2),
      quantity: '0.1',
      reduceOnly: false,
    });
    const w = await watcher(['orders.open']);
    const d = await ready(deps({ periodMs: 150 }, 'open-orders'));
    const t0 = d.clock.now();
    const running = openOrders(d, soon(d, 1500));
    type OO = {
      orders: Array<{ orderId: number; symbol: string }>;
      algo: Array<{ algoId: number; symbol: string }>;
    };
    await waitUntil(() => {
      const r = w.get<OO>('orders.open', 'ETHUSDT')?.data;
      return r?.orders.length === 1 && r.algo.length === 1;
    }, 'open order and algo order');
    const rec = w.get<OO>('orders.open', 'ETHUSDT')!;
    assert.equal(rec.data.orders[0].orderId, o.orderId);
    assert.equal(rec.data.algo[0].algoId, algo.algoId);
    assert.equal(rec.data.algo[0].symbol, 'ETHUSDT');
    assert.ok(rec.ts >= t0 && rec.ts <= d.clock.now() + 10, 'ts = exchange time of the read');
    await api.cancelOrder({ symbol: 'ETHUSDT', orderId: o.orderId });
    await api.cancelAlgoOrder({ algoId: algo.algoId });
    await waitUntil(() => {
      const r = w.get<OO>('orders.open', 'ETHUSDT')?.data;
      return r?.orders.length === 0 && r.algo.length === 0;
    }, 'emptied');
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
        FLEET_PERIOD_MS: '100',
      },
      { logger: silent },
    );
    const t0 = Date.now();
    const [res, second]: [Awaited<ReturnType<typeof inst.handler>>, any] = await Promise.all([
      inst.handler(
        Buffer.from(JSON.stringify({ triggerTime: new Date(t0).toISOString(), triggerName: 't' })),
      ),
      new Promise((r) => setTimeout(r, 50)).then(() => inst.handler(Buffer.from('{}'))),
    ]);
    assert.ok(Date.now() - t0 < 1000, 'ended before the next firing');
    assert.ok('calls' in res && res.calls >= 3, JSON.stringify(res));
    assert.equal(typeof second.skipped, 'string', 'never two runs of one replica at once');
    // Each invocation returns its own figures; the stats keep the totals.
    const again = await inst.handler(Buffer.from(JSON.stringify({ triggerTime: new Date().toISOString() })));
    assert.ok('calls' in res && 'calls' in again && again.calls >= 1, JSON.stringify(again));
    assert.equal(inst.stats.calls, res.calls + again.calls, 'per invocation, not a running total');
    await inst.close();
  });
});

describe('between invocations', () => {
  test('a close and a cancel between two invocations are published by the next (cold) one', async () => {
    const rest = createClient({ restUrl: sim.restUrl, ...account, logger: silent });
    open.push(rest);
    const api = new FuturesApi(rest);
    const w = await watcher(['position', 'orders.open']);
    await api.newOrder({ symbol: 'BNBUSDT', side: 'BUY', type: 'MARKET', quantity: '1' });
    const px = Number((await api.bookTicker('LTCUSDT')).bidPrice) * 0.8;
    const o = await api.newOrder({
      symbol: 'LTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      price: px.toFixed(2),
      quantity: '1',
    });
    // Invocation 1 of each reader sees them open.
    const first = await Promise.all([
      ready(deps({ periodMs: 100 }, 'positions-risk')),
      ready(deps({ periodMs: 100 }, 'positions-account')),
      ready(deps({ periodMs: 100 }, 'open-orders')),
    ]);
    await Promise.all([
      posRisk(first[0], soon(first[0], 300)),
      posAccount(first[1], soon(first[1], 300)),
      openOrders(first[2], soon(first[2], 300)),
    ]);
    type Pos = { positionAmt: string };
    await waitUntil(
      () =>
        Number(w.get<Pos>('position', 'BNBUSDT:BOTH')?.data.positionAmt ?? 0) > 0 &&
        w.get<{ orders: unknown[] }>('orders.open', 'LTCUSDT')?.data.orders.length === 1,
      'open position and order',
    );
    // Between the invocations: the position closes, the order is cancelled.
    await api.newOrder({ symbol: 'BNBUSDT', side: 'SELL', type: 'MARKET', quantity: '1', reduceOnly: true });
    await api.cancelOrder({ symbol: 'LTCUSDT', orderId: o.orderId });
    // Invocation 2 on fresh replicas (nothing remembered): the first read says flat and empty.
    const second = await Promise.all([
      ready(deps({ periodMs: 100 }, 'positions-risk')),
      ready(deps({ periodMs: 100 }, 'open-orders')),
    ]);
    const t1 = second[0].clock.now();
    await Promise.all([
      posRisk(second[0], soon(second[0], 300)),
      openOrders(second[1], soon(second[1], 300)),
    ]);
    await waitUntil(
      () =>
        w.get<Pos>('position', 'BNBUSDT:BOTH')?.data.positionAmt === '0' &&
        w.get<{ orders: unknown[] }>('orders.open', 'LTCUSDT')?.data.orders.length === 0,
      'flat and empty',
    );
    const flat = w.get<Pos & { updateTime: number }>('position', 'BNBUSDT:BOTH')!;
    assert.ok(flat.ts >= t1 - 5 && flat.ts === flat.data.updateTime, 'flat as of the read');
    // Every listed symbol without a position or orders is said flat / empty explicitly.
    assert.equal(w.get<Pos>('position', 'DOTUSDT:BOTH')?.data.positionAmt, '0');
    assert.deepEqual(w.get('orders.open', 'DOTUSDT')?.data, { orders: [], algo: [] });
  });

  test('volume surge: recent 1m bars over the 24 h pace, kept across invocations', async () => {
    const admin = await ready(deps({}, 'admin'));
    const w = await watcher(['volume']);
    const cfg = { symbolsEveryMs: 600_000, surgeWindowMs: 180_000 };
    const v0 = await ready(deps(cfg, 'volume'));
    await volume(v0, soon(v0, 200));
    await waitUntil(() => w.get('volume', 'LINKUSDT') !== undefined, 'volume');
    // The day's pace of LINKUSDT per minute.
    const perMin = Number(w.get<{ quoteVolume: string }>('volume', 'LINKUSDT')!.data.quoteVolume) / 1440;
    // Not within the last seconds of a minute: the bars below stay closed / forming as meant.
    await waitUntil(() => admin.clock.now() % 60_000 < 50_000, 'early in a minute', 15_000);
    const m = Math.floor(admin.clock.now() / 60_000) * 60_000;
    const bar = (open: number, q: number) => [
      open,
      '1',
      '1',
      '1',
      '1',
      '1',
      open + 59_999,
      q.toFixed(2),
      1,
      '0',
      '0',
      '0',
    ];
    const pub = (bars: unknown[][]) =>
      admin.agg.publish(
        'kline.1m',
        [{ key: 'LINKUSDT', ts: Math.floor(admin.clock.now()) + 1, data: { bars } }],
        {
          ack: true,
        },
      );
    const surge = () => Number(w.get<{ volumeSurge: string }>('volume', 'LINKUSDT')!.data.volumeSurge);
    // Invocation A: the two last closed minutes at twice the pace.
    await pub([bar(m - 120_000, 2 * perMin), bar(m - 60_000, 2 * perMin)]);
    const v = await ready(deps(cfg, 'volume'));
    await volume(v, soon(v, 300));
    await waitUntil(() => Math.abs(surge() - 2) < 0.1, `surge 2 (${surge()})`);
    // Invocation B sees only the last minute, at 4x (and the forming one): with what A saw, the
    // window's mean is 3x (4x if the history were lost between invocations).
    await pub([bar(m - 60_000, 4 * perMin), bar(m, 1)]);
    await volume(v, soon(v, 300));
    await waitUntil(() => Math.abs(surge() - 3) < 0.15, `surge 3 (${surge()})`);
  });

  test('FLEET_FAST_FILTER loads the klines-fast filter from a module', async () => {
    const inst = createInstance(
      fastDef,
      {
        FLEET_BINANCE_REST: sim.restUrl,
        FLEET_AGGREGATOR_URL: agg.url,
        FLEET_AGGREGATOR_TOKEN: TOKENS.collector,
        FLEET_LOCAL_ADDRESS: '127.0.0.93',
        FLEET_FAST_FILTER: new URL('./test-fixtures/fast-filter.ts', import.meta.url).pathname,
        FLEET_FAST_MAX: '2',
        FLEET_PERIOD_MS: '50',
        FLEET_RUN_SECONDS: '1',
      },
      { logger: silent },
    );
    const seen = new Set<string>();
    const res = await inst.handler(Buffer.from('{}'));
    const orig = inst.rest!.request.bind(inst.rest!);
    inst.rest!.request = ((m: string, p: string, params?: Record<string, unknown>, o?: unknown) => {
      if (p === '/fapi/v1/klines') seen.add(String(params?.symbol));
      return orig(m as 'GET', p, params as never, o as never);
    }) as typeof orig;
    await inst.handler(Buffer.from('{}'));
    await inst.close();
    assert.ok('calls' in res, JSON.stringify(res));
    assert.deepEqual([...seen].sort(), ['DOGEUSDT', 'DOTUSDT']);
    const { loadFilter } = await import('./klines-fast/index.ts');
    await assert.rejects(
      loadFilter(new URL('./plan.ts', import.meta.url).pathname, { top: 1, surge: 1, max: 1 }),
      /exports neither/,
    );
  });
});

describe('bounded invocations', () => {
  const env = (address: string, rest = sim.restUrl) => ({
    FLEET_BINANCE_REST: rest,
    FLEET_AGGREGATOR_URL: agg.url,
    FLEET_AGGREGATOR_TOKEN: TOKENS.collector,
    FLEET_LOCAL_ADDRESS: address,
    FLEET_TRIGGER_PERIOD_S: '2',
    FLEET_RUN_MARGIN_MS: '500',
  });
  const fire = (t: number) =>
    Buffer.from(JSON.stringify({ triggerTime: new Date(t).toISOString(), triggerName: 't' }));

  test('answers 5 s late: the handler still returns before the next firing (2 s)', async () => {
    const inst = createInstance(bookDef, env('127.0.0.94'), { logger: silent });
    const faults = async (body?: unknown) =>
      fetch(`${sim.restUrl}/sim/faults`, {
        method: body ? 'POST' : 'DELETE',
        body: body ? JSON.stringify(body) : undefined,
      });
    try {
      // A read in flight at the deadline (the clock is synced first, without delay).
      await faults({ kind: 'latency', ms: 5000, path: '/fapi/v1/ticker/bookTicker' });
      let t0 = Date.now();
      const r1 = await inst.handler(fire(t0));
      assert.ok(Date.now() - t0 < 2000, `returned after ${Date.now() - t0} ms`);
      assert.ok('calls' in r1 && r1.records === 0, JSON.stringify(r1));
      // Every answer late, the clock sync too.
      await faults();
      await faults({ kind: 'latency', ms: 5000 });
      t0 = Date.now();
      const r2 = await inst.handler(fire(t0));
      assert.ok(Date.now() - t0 < 2000, `returned after ${Date.now() - t0} ms`);
      assert.ok('skipped' in r2, JSON.stringify(r2));
    } finally {
      await faults();
      await inst.close();
    }
  });

  test('a burst of 429s and a 418 ban: counted, and the handler still ends in time', async () => {
    const small = await startSim({ port: 0, symbols: 12, accounts: [account], weightLimit: 30 });
    const address = '127.0.0.95';
    const inst = createInstance(
      bookDef,
      { ...env(address, small.restUrl), FLEET_PERIOD_MS: '50' },
      { logger: silent },
    );
    try {
      let t0 = Date.now();
      const r1 = await inst.handler(fire(t0));
      assert.ok(Date.now() - t0 < 2000, `returned after ${Date.now() - t0} ms`);
      assert.ok('errors' in r1 && r1.errors >= 1 && r1.records > 0, JSON.stringify(r1));
      const stats = async () =>
        ((await (await fetch(`${small.restUrl}/sim/stats`)).json()) as any).ips[address];
      assert.ok((await stats()).http429 >= 1, JSON.stringify(await stats()));
      // Keep sending from the address until the simulator bans it (418).
      const { call } = await import('../test/helpers/rest.ts');
      for (let i = 0; i < 30 && (await stats()).http418 === 0; i++)
        await call(small.restUrl, 'GET', '/fapi/v1/ticker/bookTicker', {}, { localAddress: address });
      assert.ok((await stats()).http418 >= 1, 'banned');
      t0 = Date.now();
      await inst.handler(fire(t0)).catch(() => undefined);
      assert.ok(Date.now() - t0 < 2000, `returned after ${Date.now() - t0} ms`);
    } finally {
      await inst.close();
      await small.close();
    }
  });
});
