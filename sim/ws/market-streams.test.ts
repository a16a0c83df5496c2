// Market stream payloads (reference §12.3), their update rules, and their cost when unused.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KlineRow } from '../contracts.ts';
import { type Msg, type Sim, startSim } from './test-support.ts';

const ev = (type: string) => (m: Msg) => m?.e === type;

async function withSim(fn: (sim: Sim) => Promise<void>): Promise<void> {
  const sim = await startSim();
  try {
    await fn(sim);
  } finally {
    await sim.stop();
  }
}

describe('tick-driven streams', () => {
  it('<symbol>@bookTicker: Binance shape, E exchange time, u the book update id', () =>
    withSim(async (sim) => {
      const c = await sim.connect('/public/ws/btcusdt@bookTicker');
      sim.clock.advance(5000);
      const { time } = sim.market.tick('BTCUSDT');
      const m = await c.next();
      assert.deepEqual(Object.keys(m), ['e', 'u', 'E', 'T', 's', 'b', 'B', 'a', 'A']);
      assert.deepEqual(m, {
        e: 'bookTicker',
        u: sim.market.depth('BTCUSDT', 5).lastUpdateId,
        E: sim.clock.now(),
        T: time,
        s: 'BTCUSDT',
        b: '99',
        B: '1.000',
        a: '101',
        A: '1.500',
      });
    }));

  it('!bookTicker carries every symbol', () =>
    withSim(async (sim) => {
      const c = await sim.connect('/public/stream?streams=!bookTicker');
      sim.market.tick('ETHUSDT');
      sim.market.tick('BTCUSDT');
      const a = await c.next();
      const b = await c.next();
      assert.equal(a.stream, '!bookTicker');
      assert.deepEqual([a.data.s, b.data.s], ['ETHUSDT', 'BTCUSDT']);
      assert.equal(a.data.b, '199');
    }));

  it('<symbol>@aggTrade: one event per trade, with nq', () =>
    withSim(async (sim) => {
      const c = await sim.connect('/market/ws/btcusdt@aggTrade');
      const { trades } = sim.market.tick('BTCUSDT', { trades: 2, price: '100.5' });
      const a = await c.next();
      const b = await c.next();
      assert.deepEqual(Object.keys(a), ['e', 'E', 's', 'a', 'p', 'q', 'nq', 'f', 'l', 'T', 'm']);
      assert.deepEqual(a, {
        e: 'aggTrade',
        E: sim.clock.now(),
        s: 'BTCUSDT',
        a: trades[0].id,
        p: '100.5',
        q: '0.010',
        nq: '0.010',
        f: trades[0].id,
        l: trades[0].id,
        T: trades[0].time,
        m: true,
      });
      assert.equal(b.a, trades[1].id);
      assert.equal(b.m, false);
    }));

  it('does no work per tick for streams nobody subscribed', () =>
    withSim(async (sim) => {
      for (let i = 0; i < 100; i++) sim.market.tick('BTCUSDT', { trades: 1 });
      assert.equal(sim.market.calls.depth, 0);
      const c = await sim.connect('/market/ws/btcusdt@aggTrade');
      for (let i = 0; i < 100; i++) sim.market.tick('ETHUSDT', { trades: 1 });
      sim.market.tick('BTCUSDT', { trades: 1 });
      await c.next(ev('aggTrade'));
      assert.equal(sim.market.calls.depth, 0, 'no book lookups without a bookTicker subscriber');
    }));
});

describe('periodic streams', () => {
  it('<symbol>@markPrice@1s and @markPrice', () =>
    withSim(async (sim) => {
      const c = await sim.connect('/market/ws/btcusdt@markPrice@1s/ethusdt@markPrice');
      const m = await c.next((x) => x.s === 'BTCUSDT');
      assert.deepEqual(Object.keys(m), ['e', 'E', 's', 'p', 'ap', 'i', 'P', 'r', 'T']);
      assert.deepEqual(m, {
        e: 'markPriceUpdate',
        E: sim.clock.now(),
        s: 'BTCUSDT',
        p: '100.5',
        ap: '100.5',
        i: '100',
        P: '100',
        r: '0.00010000',
        T: sim.clock.now() + 3_600_000,
      });
      sim.market.setMark('ETHUSDT', '201.25');
      assert.equal((await c.next((x) => x.s === 'ETHUSDT')).p, '201.25');
    }));

  it('!markPrice@arr@1s is an array of every symbol', () =>
    withSim(async (sim) => {
      const c = await sim.connect('/market/stream?streams=!markPrice@arr@1s/!markPrice@arr');
      const a = await c.next((x) => x.stream === '!markPrice@arr@1s');
      assert.ok(Array.isArray(a.data));
      assert.deepEqual(
        a.data.map((x: Msg) => [x.e, x.s]),
        [
          ['markPriceUpdate', 'BTCUSDT'],
          ['markPriceUpdate', 'ETHUSDT'],
        ],
      );
      await c.next((x) => x.stream === '!markPrice@arr');
    }));

  it('<symbol>@ticker and <symbol>@miniTicker', () =>
    withSim(async (sim) => {
      const c = await sim.connect('/market/ws/btcusdt@ticker/btcusdt@miniTicker');
      const t = await c.next(ev('24hrTicker'));
      assert.deepEqual(t, {
        e: '24hrTicker',
        E: sim.clock.now(),
        s: 'BTCUSDT',
        p: '1.0',
        P: '1.000',
        w: '100',
        c: '100',
        Q: '0.010',
        o: '99',
        h: '105',
        l: '95',
        v: '10.000',
        q: '1000',
        O: 0,
        C: 86_399_999,
        F: 1,
        L: 10,
        n: 10,
      });
      const m = await c.next(ev('24hrMiniTicker'));
      assert.deepEqual(m, {
        e: '24hrMiniTicker',
        E: sim.clock.now(),
        s: 'BTCUSDT',
        c: '100',
        o: '99',
        h: '105',
        l: '95',
        v: '10.000',
        q: '1000',
      });
    }));

  it('!ticker@arr and !miniTicker@arr: everything first, then only changed tickers', () =>
    withSim(async (sim) => {
      const c = await sim.connect('/market/stream?streams=!ticker@arr/!miniTicker@arr');
      const first = await c.next((x) => x.stream === '!ticker@arr');
      assert.deepEqual(
        first.data.map((x: Msg) => x.s),
        ['BTCUSDT', 'ETHUSDT'],
      );
      const mini = await c.next((x) => x.stream === '!miniTicker@arr');
      assert.equal(mini.data[0].e, '24hrMiniTicker');
      sim.market.setTicker('ETHUSDT', { lastPrice: '222', volume: '11.000' });
      const changed = await c.next((x) => x.stream === '!ticker@arr');
      assert.deepEqual(
        changed.data.map((x: Msg) => [x.s, x.c]),
        [['ETHUSDT', '222']],
      );
    }));

  it('<symbol>@depth<N>[@speed]: top N levels with lastUpdateId as u', () =>
    withSim(async (sim) => {
      const bids = Array.from({ length: 8 }, (_, i): [string, string] => [`${90 - i}`, '1.000']);
      sim.market.setBook('BTCUSDT', { bids });
      const c = await sim.connect('/public/ws/btcusdt@depth5');
      const d = await sim.connect('/public/stream?streams=btcusdt@depth10@100ms');
      const m = await c.next();
      assert.deepEqual(Object.keys(m), ['e', 'E', 'T', 's', 'U', 'u', 'pu', 'b', 'a']);
      const rest = sim.market.depth('BTCUSDT', 5);
      assert.equal(m.e, 'depthUpdate');
      assert.equal(m.s, 'BTCUSDT');
      assert.equal(m.E, sim.clock.now());
      assert.equal(m.u, rest.lastUpdateId);
      assert.equal(m.b.length, 5);
      assert.deepEqual(m.b, rest.bids);
      assert.deepEqual(m.a, rest.asks);
      const ten = await d.next();
      assert.equal(ten.stream, 'btcusdt@depth10@100ms');
      assert.equal(ten.data.b.length, 8);
      assert.equal(ten.data.u, rest.lastUpdateId);
      const id = sim.market.setBook('BTCUSDT', { asks: [['91', '4.000']] });
      const n = await c.next();
      assert.deepEqual([n.U, n.u, n.pu], [id, id, id - 1]);
      assert.deepEqual(n.a, [['91', '4.000']]);
    }));

  it('<symbol>@depth diff: U/u/pu continuity from the REST lastUpdateId, qty "0" removes', () =>
    withSim(async (sim) => {
      const c = await sim.connect('/public/ws/btcusdt@depth@100ms');
      const L = sim.market.depth('BTCUSDT', 1000).lastUpdateId;
      const id1 = sim.market.setBook('BTCUSDT', {
        bids: [
          ['99', '1.500'],
          ['98', '2.000'],
        ],
      });
      const e1 = await c.next(ev('depthUpdate'));
      assert.deepEqual(Object.keys(e1), ['e', 'E', 'T', 's', 'U', 'u', 'pu', 'b', 'a']);
      assert.equal(e1.u, id1);
      assert.ok(e1.U <= L && L <= e1.u, `U ${e1.U} <= ${L} <= u ${e1.u}`);
      assert.deepEqual(e1.b, [
        ['99', '1.500'],
        ['97', '0'],
      ]);
      assert.deepEqual(e1.a, []);

      // A second subscriber joins the running stream; its first event starts at its REST id.
      const late = await sim.connect('/public/stream?streams=btcusdt@depth@100ms');
      const L2 = sim.market.depth('BTCUSDT', 1000).lastUpdateId;
      const id2 = sim.market.setBook('BTCUSDT', { asks: [['101', '9.000']] });
      const e2 = await c.next(ev('depthUpdate'));
      assert.deepEqual([e2.U, e2.u, e2.pu], [e1.u + 1, id2, e1.u]);
      assert.deepEqual(e2.a, [
        ['101', '9.000'],
        ['102', '0'],
        ['103', '0'],
      ]);
      const l2 = await late.next();
      assert.equal(l2.stream, 'btcusdt@depth@100ms');
      assert.ok(l2.data.U <= L2 && L2 <= l2.data.u);
      assert.deepEqual(l2.data.a, e2.a);

      const id3 = sim.market.setBook('BTCUSDT', { bids: [['99', '1.500']] });
      const e3 = await c.next(ev('depthUpdate'));
      const l3 = await late.next();
      assert.deepEqual([e3.U, e3.u, e3.pu], [id2 + 1, id3, id2]);
      assert.deepEqual([l3.data.U, l3.data.u, l3.data.pu], [id2 + 1, id3, id2]);
      assert.deepEqual(e3.b, [['98', '0']]);
    }));

  it('<symbol>@kline_<interval>: pushes while the bar changes, x=true once when it closes', () =>
    withSim(async (sim) => {
      const t0 = sim.clock.now();
      const { trades } = sim.market.tick('BTCUSDT', { trades: 2 });
      const bar = (t: number, close: string, n: number): KlineRow => [
        t,
        '100',
        '101',
        '99',
        close,
        '1.000',
        t + 59_999,
        '100.5',
        n,
        '0.500',
        '50.25',
        '0',
      ];
      sim.market.setKlines('BTCUSDT', '1m', [bar(t0 - 60_000, '99.5', 0), bar(t0, '100.5', 2)]);
      const c = await sim.connect('/market/ws/btcusdt@kline_1m');
      const m = await c.next();
      assert.deepEqual(m, {
        e: 'kline',
        E: sim.clock.now(),
        s: 'BTCUSDT',
        k: {
          t: t0,
          T: t0 + 59_999,
          s: 'BTCUSDT',
          i: '1m',
          f: trades[0].id,
          L: trades[1].id,
          o: '100',
          c: '100.5',
          h: '101',
          l: '99',
          v: '1.000',
          n: 2,
          x: false,
          q: '100.5',
          V: '0.500',
          Q: '50.25',
          B: '0',
        },
      });
      sim.market.setKlines('BTCUSDT', '1m', [bar(t0 - 60_000, '99.5', 0), bar(t0, '100.7', 2)]);
      assert.equal((await c.next()).k.c, '100.7');

      sim.clock.advance(60_000);
      const t1 = t0 + 60_000;
      sim.market.setKlines('BTCUSDT', '1m', [bar(t0, '100.9', 2), bar(t1, '101', 0)]);
      const closed = await c.next();
      assert.deepEqual([closed.k.t, closed.k.x, closed.k.c, closed.E], [t0, true, '100.9', t1]);
      const forming = await c.next();
      assert.deepEqual(
        [forming.k.t, forming.k.x, forming.k.n, forming.k.f, forming.k.L],
        [t1, false, 0, -1, -1],
      );

      sim.market.setKlines('BTCUSDT', '1m', [bar(t0, '100.9', 2), bar(t1, '101.2', 0)]);
      const r = await c.take((x) => x.k.c === '101.2');
      assert.deepEqual(r.before, [], 'the closed bar is sent once, no repeats');
      assert.equal(r.msg.k.t, t1);
    }));

  it('a bar that ends with no new bar yet is closed by time', () =>
    withSim(async (sim) => {
      const t0 = sim.clock.now();
      const row: KlineRow = [t0, '1', '1', '1', '1', '0', t0 + 59_999, '0', 0, '0', '0', '0'];
      sim.market.setKlines('ETHUSDT', '1m', [row]);
      const c = await sim.connect('/market/ws/ethusdt@kline_1m');
      assert.equal((await c.next()).k.x, false);
      sim.clock.advance(60_000);
      const closed = await c.next();
      assert.deepEqual([closed.k.t, closed.k.x], [t0, true]);
    }));

  it('periodic work stops when the last subscriber leaves', () =>
    withSim(async (sim) => {
      const c = await sim.connect('/market/ws/btcusdt@markPrice@1s');
      await c.next(ev('markPriceUpdate'));
      await c.request({ method: 'UNSUBSCRIBE', params: ['btcusdt@markPrice@1s'], id: 1 });
      const calls = sim.market.calls.premiumIndex;
      await c.request({ method: 'SUBSCRIBE', params: ['btcusdt@ticker'], id: 2 });
      // Two ticker periods (2 s each) span several 1 s mark-price periods.
      await c.next(ev('24hrTicker'));
      await c.next(ev('24hrTicker'));
      assert.equal(sim.market.calls.premiumIndex, calls);
    }));
});
