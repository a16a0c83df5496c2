import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cursors } from './cursors.ts';
import { dataTooDeep, recordJson, SourceStats, Store } from './state.ts';

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

  it('position: a winner that omits fields keeps the held ones while positionAmt is unchanged', () => {
    const t = new Store(LIMITS).topic('position')!;
    const [risk, account, stream] = ['positionRisk', 'account', 'userStream'].map((n) => t.source(n)!);
    // positionRisk knows everything; account v3 has no entry/mark/breakEven/liquidation prices;
    // the user stream has entryPrice and breakEvenPrice but no markPrice.
    t.apply(
      risk,
      'BTCUSDT:BOTH',
      100,
      {
        ...pos('0.5', 100),
        entryPrice: '60000',
        markPrice: '61000',
        breakEvenPrice: '60030',
        liquidationPrice: '40000',
        unRealizedProfit: '500',
      },
      1,
    );
    t.apply(
      account,
      'BTCUSDT:BOTH',
      110,
      { ...pos('0.500', 110), unRealizedProfit: '510', notional: '30500' },
      2,
    );
    let d = t.records.get('BTCUSDT:BOTH')!.data as Record<string, string>;
    assert.deepEqual(
      [d.entryPrice, d.markPrice, d.breakEvenPrice, d.liquidationPrice],
      ['60000', '61000', '60030', '40000'],
      'carried over from the held record',
    );
    assert.deepEqual(
      [d.positionAmt, d.unRealizedProfit, d.notional, d.updateTime],
      ['0.500', '510', '30500', 110],
    );
    assert.equal(t.records.get('BTCUSDT:BOTH')!.src, 'account');
    t.apply(
      stream,
      'BTCUSDT:BOTH',
      120,
      { ...pos('0.5', 120), entryPrice: '60001', breakEvenPrice: '60031' },
      3,
    );
    d = t.records.get('BTCUSDT:BOTH')!.data as Record<string, string>;
    assert.deepEqual(
      [d.entryPrice, d.breakEvenPrice, d.markPrice, d.notional],
      ['60001', '60031', '61000', '30500'],
      'its own values win, the rest are kept',
    );
    assert.match(
      recordJson(t.records.get('BTCUSDT:BOTH')!),
      /"markPrice":"61000"/,
      'subscribers get the merged record',
    );
    // The amount changed: the held prices would be wrong; nothing is carried over.
    t.apply(account, 'BTCUSDT:BOTH', 130, pos('1.2', 130), 4);
    d = t.records.get('BTCUSDT:BOTH')!.data as Record<string, string>;
    assert.deepEqual(d, pos('1.2', 130));
    // A stale record changes nothing.
    assert.equal(t.apply(risk, 'BTCUSDT:BOTH', 90, { ...pos('1.2', 90), entryPrice: '1' }, 5), 'stale');
    assert.equal((t.records.get('BTCUSDT:BOTH')!.data as Record<string, string>).entryPrice, undefined);
  });

  it('balance: carries fields over while walletBalance is unchanged; other topics never', () => {
    const t = new Store(LIMITS).topic('balance')!;
    const [account, v3, stream] = ['account', 'balanceV3', 'userStream'].map((n) => t.source(n)!);
    const bal = (wallet: string, ts: number, extra: Record<string, string> = {}) => ({
      asset: 'USDT',
      walletBalance: wallet,
      updateTime: ts,
      ...extra,
    });
    t.apply(
      account,
      'USDT',
      100,
      bal('1000', 100, { marginBalance: '1010', unrealizedProfit: '10', availableBalance: '900' }),
      1,
    );
    // /fapi/v3/balance: no marginBalance, no unrealizedProfit.
    t.apply(v3, 'USDT', 110, bal('1000.0', 110, { availableBalance: '905' }), 2);
    // The user stream's balance: no availableBalance.
    t.apply(stream, 'USDT', 120, bal('1000', 120, { crossWalletBalance: '1000' }), 3);
    let d = t.records.get('USDT')!.data as Record<string, string>;
    assert.deepEqual(
      [d.marginBalance, d.unrealizedProfit, d.availableBalance, d.crossWalletBalance, d.walletBalance],
      ['1010', '10', '905', '1000', '1000'],
    );
    t.apply(stream, 'USDT', 130, bal('990', 130), 4);
    d = t.records.get('USDT')!.data as Record<string, string>;
    assert.deepEqual(d, bal('990', 130), 'walletBalance changed: no carry-over');
    // Other topics keep the plain rule: the newest record as it came.
    const v = new Store(LIMITS).topic('volume')!;
    const vs = v.source('v')!;
    v.apply(
      vs,
      'AUSDT',
      1,
      { symbol: 'AUSDT', quoteVolume: '1', volumeSurge: '1', fundingRate: '0', extra: 'x' },
      1,
    );
    v.apply(vs, 'AUSDT', 2, { symbol: 'AUSDT', quoteVolume: '1', volumeSurge: '1', fundingRate: '0' }, 2);
    assert.equal((v.records.get('AUSDT')!.data as Record<string, string>).extra, undefined);
  });

  it('evicts the idlest source past the TTL when the table is full; never a recent one', () => {
    const t = new Store({ maxKeysPerTopic: 100, maxSourcesPerTopic: 2, sourceTtlMs: 1000 }).topic('book')!;
    const a = t.source('a', 0)!;
    t.apply(a, 'X', 1, {}, 0);
    const b = t.source('b', 500)!;
    t.apply(b, 'X', 2, {}, 500);
    assert.equal(t.source('c', 900), null, 'full, nobody idle past the TTL');
    assert.ok(t.source('c', 1200), 'a idle for 1.2 s gives its place up');
    assert.deepEqual([...t.sources.keys()].sort(), ['b', 'c']);
  });

  it('measures nesting without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(dataTooDeep(deep, 32), true);
    assert.equal(dataTooDeep({ a: { b: [1, { c: 'x' }] } }, 4), false);
    assert.equal(dataTooDeep({ a: { b: [1, { c: {} }] } }, 4), true);
    assert.equal(dataTooDeep('x', 0), false);
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
