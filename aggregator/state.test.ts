import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cursors } from './cursors.ts';
import { recordJson, SourceStats, Store } from './state.ts';

const LIMITS = { maxKeysPerTopic: 100, maxSourcesPerTopic: 10 };

function pos(amt: string, ts: number) {
  return { symbol: 'BTCUSDT', positionSide: 'BOTH', positionAmt: amt, updateTime: ts };
}

describe('merge rule', () => {
  it('keeps the greater exchange ts when records arrive out of order', () => {
    const t = new Store(LIMITS).topic('book')!;
    const s = t.source('r1')!;
    assert.equal(t.apply(s, 'BTCUSDT', 200, { v: 'new' }, 1), 'accepted');
    assert.equal(t.apply(s, 'BTCUSDT', 100, { v: 'old' }, 2), 'stale');
    assert.deepEqual(t.records.get('BTCUSDT')?.data, { v: 'new' });
    assert.equal(t.pending.length, 1, 'a stale record is not sent');
    assert.equal(s.stale, 1);
    assert.equal(s.accepted, 1);
    assert.equal(s.records, 2);
  });

  it('lets an equal ts replace (a forming bar updates)', () => {
    const t = new Store(LIMITS).topic('kline.1m')!;
    const s = t.source('r1')!;
    t.apply(s, 'BTCUSDT', 100, { close: '1' }, 1);
    assert.equal(t.apply(s, 'BTCUSDT', 100, { close: '2' }, 2), 'accepted');
    assert.deepEqual(t.records.get('BTCUSDT')?.data, { close: '2' });
    assert.equal(t.pending.length, 2, 'both versions go out, in order');
  });

  it('three position sources racing: the newest update time wins whoever sends last', () => {
    // Each source publishes its view at its own times, interleaved in every order.
    const r = mulberry(42);
    for (let trial = 0; trial < 200; trial++) {
      const t = new Store(LIMITS).topic('position')!;
      const sources = ['userStream', 'account', 'positionRisk'].map((n) => t.source(n)!);
      const sent: Array<{ src: number; ts: number; amt: string }> = [];
      for (let i = 0; i < 30; i++) {
        const src = Math.floor(r() * 3);
        const ts = 1000 + Math.floor(r() * 20); // collisions on purpose
        const amt = `${Math.floor(r() * 100)}`;
        sent.push({ src, ts, amt });
        t.apply(sources[src], 'BTCUSDT:BOTH', ts, pos(amt, ts), i);
      }
      // Expected: the last one (in arrival order) among those with the maximum ts.
      const maxTs = Math.max(...sent.map((x) => x.ts));
      const want = sent.filter((x) => x.ts === maxTs).at(-1)!;
      const got = t.records.get('BTCUSDT:BOTH')!;
      assert.equal(got.ts, maxTs);
      assert.equal((got.data as { positionAmt: string }).positionAmt, want.amt);
      assert.equal(got.src, ['userStream', 'account', 'positionRisk'][want.src]);
      // Every source's own freshness is known, winner or not.
      for (let i = 0; i < 3; i++) {
        const mine = sent.filter((x) => x.src === i);
        if (mine.length === 0) continue;
        assert.equal(sources[i].lastTs, Math.max(...mine.map((x) => x.ts)));
        assert.equal(sources[i].records, mine.length);
        assert.equal(
          t.keySources('BTCUSDT:BOTH').get(sources[i].src)?.ts,
          Math.max(...mine.map((x) => x.ts)),
        );
      }
      // What went out, in order, never goes back in time.
      const out = t.pending.map((p) => p.ts);
      for (let i = 1; i < out.length; i++) assert.ok(out[i] >= out[i - 1]);
    }
  });

  it('keeps keys independent', () => {
    const t = new Store(LIMITS).topic('book')!;
    const s = t.source('r')!;
    t.apply(s, 'BTCUSDT', 200, 'a', 1);
    assert.equal(t.apply(s, 'ETHUSDT', 100, 'b', 2), 'accepted');
    assert.equal(t.maxTs, 200);
    assert.equal(t.records.size, 2);
  });

  it('bounds keys and sources per topic', () => {
    const t = new Store({ maxKeysPerTopic: 2, maxSourcesPerTopic: 2 }).topic('book')!;
    const s = t.source('a')!;
    assert.equal(t.apply(s, 'K1', 1, 1, 1), 'accepted');
    assert.equal(t.apply(s, 'K2', 1, 1, 1), 'accepted');
    assert.equal(t.apply(s, 'K3', 1, 1, 1), 'limit');
    assert.equal(t.apply(s, 'K1', 2, 1, 1), 'accepted', 'existing keys still update');
    assert.ok(t.source('b'));
    assert.equal(t.source('c'), null);
    assert.ok(t.source('a'), 'known sources still resolve');
  });

  it('knows only protocol topics', () => {
    const store = new Store(LIMITS);
    assert.ok(store.topic('kline.5m.window'));
    assert.equal(store.topic('nope'), undefined);
    assert.equal(store.topic('constructor'), undefined);
  });

  it('serializes a record once, as {key, ts, data}', () => {
    const t = new Store(LIMITS).topic('book')!;
    t.apply(t.source('r')!, 'X"Y', 5, { a: '"' }, 1);
    const rec = t.records.get('X"Y')!;
    assert.deepEqual(JSON.parse(recordJson(rec)), { key: 'X"Y', ts: 5, data: { a: '"' } });
    assert.equal(recordJson(rec), rec.json);
  });

  it('computes a source rate over the last ten complete seconds', () => {
    const s = new SourceStats('r');
    for (let sec = 0; sec < 12; sec++) s.count(5, 1_000_000 + sec * 1000);
    assert.equal(s.rate(1_000_000 + 12 * 1000), 5);
    assert.equal(s.rate(1_000_000 + 40 * 1000), 0, 'old buckets expire');
  });
});

describe('cursors', () => {
  it('hands out every index once per lap, then wraps', () => {
    const c = new Cursors(10);
    const seen = Array.from({ length: 7 }, () => c.take('k', 7)!.value);
    assert.deepEqual(seen.sort(), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(c.take('k', 7), { value: 0, lap: 1 });
  });

  it('stays in range and restarts when the universe shrinks; continues when it grows', () => {
    const c = new Cursors(10);
    for (let i = 0; i < 150; i++) c.take('u', 200);
    assert.deepEqual(c.take('u', 100), { value: 0, lap: 1 }, 'shrunk below the position: a new lap');
    assert.equal(c.take('u', 100)!.value, 1);
    assert.equal(c.take('u', 300)!.value, 2, 'grown: carries on');
    const r = mulberry(9);
    for (let i = 0; i < 10_000; i++) {
      const size = 1 + Math.floor(r() * 50);
      const { value } = c.take('u', size)!;
      assert.ok(value >= 0 && value < size);
    }
  });

  it('keeps names apart and bounds their number', () => {
    const c = new Cursors(2);
    assert.equal(c.take('a', 5)!.value, 0);
    assert.equal(c.take('b', 5)!.value, 0);
    assert.equal(c.take('a', 5)!.value, 1);
    assert.equal(c.take('c', 5), null);
    assert.throws(() => c.take('a', 0), RangeError);
  });
});

function mulberry(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
