import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bookDataJson, fastBookRecord, fastKlineRecord, fastPubFrame } from './fast.ts';
import { PubFrame } from './frames.ts';
import { keyMismatch, topicSpec } from './topics.ts';

// A small seeded generator, so a failure is reproducible.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES: unknown[] = [
  '',
  ' 1',
  '1 ',
  '-',
  '1.',
  '.5',
  '1e',
  '0x10',
  'NaN',
  '1,5',
  '１２',
  'BTC"USDT',
  'BTC\\USDT',
  'BTC\nUSDT',
  'A\u0000B',
  '\ud800',
  'x'.repeat(41),
  '币安人生USDT',
  '2.8E-4',
  '-0.5',
  0,
  -1,
  1.5,
  2 ** 53,
  Number.NaN,
  null,
  true,
  [],
  {},
  [1],
  { a: 1 },
];

function mutate(r: () => number, base: Record<string, unknown>): unknown {
  const rec = structuredClone(base) as Record<string, unknown>;
  const data = rec.data as Record<string, unknown>;
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const where = r();
    if (where < 0.25) rec[pick(['key', 'ts', 'data', 'extra'])] = pick(ODD_VALUES);
    else if (where < 0.85)
      data[pick(['symbol', 'bidPrice', 'bidQty', 'askPrice', 'askQty', 'time', 'lastUpdateId'])] =
        pick(ODD_VALUES);
    else if (where < 0.95) delete data[pick(['symbol', 'bidPrice', 'bidQty', 'askPrice', 'askQty', 'time'])];
    else return pick(ODD_VALUES);
  }
  return rec;
}

const BASE = {
  key: 'BTCUSDT',
  ts: 1720736417660,
  data: {
    symbol: 'BTCUSDT',
    bidPrice: '65000.10',
    bidQty: '1.234',
    askPrice: '65000.20',
    askQty: '0.5',
    time: 1720736417660,
  },
};

describe('fast paths', () => {
  it('the book fast check never accepts a record the zod schema refuses (20,000 mutations)', () => {
    const book = topicSpec('book')!;
    const r = rng(7);
    let fastYes = 0;
    let zodYes = 0;
    for (let i = 0; i < 20_000; i++) {
      const rec = mutate(r, BASE);
      const z = book.record.safeParse(rec);
      const f = fastBookRecord(rec);
      if (f) {
        fastYes++;
        assert.ok(z.success, `fast accepted what zod refuses: ${JSON.stringify(rec)}`);
        assert.equal(keyMismatch(book, z.data.key, z.data.data), null, 'and the key is its symbol');
        // Accepted as is: zod's output is the same record (extra record fields aside).
        const { key, ts, data } = rec as typeof BASE;
        assert.deepEqual(z.data, { key, ts, data });
      }
      if (z.success) zodYes++;
    }
    assert.ok(fastYes > 1000, `the fast path is exercised (${fastYes})`);
    assert.ok(fastYes <= zodYes);
  });

  it('__proto__ keys and non-plain data take the zod path', () => {
    const evil = JSON.parse(
      `{"key":"BTCUSDT","ts":1,"data":${JSON.stringify(BASE.data).replace('{', '{"__proto__":{"x":1},')}}`,
    );
    assert.equal(fastBookRecord(evil), false);
    assert.equal(
      fastBookRecord({ ...BASE, data: Object.assign(Object.create({ inherited: 1 }), BASE.data) }),
      false,
    );
  });

  it('serializes book data exactly as JSON.stringify does (fields may be reordered)', () => {
    const r = rng(11);
    for (let i = 0; i < 5000; i++) {
      const rec = mutate(r, BASE);
      if (!fastBookRecord(rec)) continue;
      const data = (rec as typeof BASE).data;
      assert.deepEqual(JSON.parse(bookDataJson(data)), JSON.parse(JSON.stringify(data)));
    }
    const withExtra = { ...BASE.data, lastUpdateId: 1027024, note: 'a "quoted" \\ value' };
    assert.deepEqual(JSON.parse(bookDataJson(withExtra)), withExtra);
    const nonLatin = { ...BASE.data, symbol: '币安人生USDT' };
    assert.deepEqual(JSON.parse(bookDataJson(nonLatin)), nonLatin);
  });

  it('the kline fast check never accepts a record the zod schema refuses (20,000 mutations)', () => {
    const kline = topicSpec('kline.1m')!;
    const bar = (t: number) => [
      t,
      '65000.1',
      '65010.0',
      '64990.5',
      '65005.2',
      '12.345',
      t + 59_999,
      '802345.12',
      321,
      '6.1',
      '401234.5',
      '0',
    ];
    const base = {
      key: 'BTCUSDT',
      ts: 1720736417660,
      data: { bars: [bar(1720736340000), bar(1720736400000)] },
    };
    const r = rng(13);
    // Clones: a picked array is mutated later, and ODD_VALUES is shared with other tests.
    const pick = <T>(xs: T[]): T => structuredClone(xs[Math.floor(r() * xs.length)]);
    const values: unknown[] = [
      ...ODD_VALUES,
      1720736400000,
      1720736340000,
      '1',
      'x'.repeat(65),
      bar(1),
      bar(2e12),
    ];
    let fastYes = 0;
    for (let i = 0; i < 20_000; i++) {
      const rec = structuredClone(base) as Record<string, any>;
      const n = 1 + Math.floor(r() * 3);
      for (let j = 0; j < n; j++) {
        const where = r();
        if (where < 0.15) rec[pick(['key', 'ts', 'data', 'extra'])] = pick(values);
        else if (where < 0.25 && typeof rec.data === 'object' && rec.data) rec.data.bars = pick(values);
        else if (where < 0.35 && Array.isArray(rec.data?.bars)) {
          if (r() < 0.5) rec.data.bars.push(pick(values));
          else rec.data.bars.reverse();
        } else if (Array.isArray(rec.data?.bars)) {
          const bars = rec.data.bars as unknown[];
          const b = bars[Math.floor(r() * bars.length)];
          if (Array.isArray(b)) {
            const what = r();
            if (what < 0.1) b.push('extra');
            else if (what < 0.2) b.pop();
            else b[Math.floor(r() * 12)] = pick(values);
          }
        }
      }
      const z = kline.record.safeParse(rec);
      if (fastKlineRecord(rec)) {
        fastYes++;
        assert.ok(z.success, `fast accepted what zod refuses: ${JSON.stringify(rec)}`);
        assert.deepEqual(z.data, { key: rec.key, ts: rec.ts, data: rec.data });
      }
    }
    assert.ok(fastYes > 500, `the fast path is exercised (${fastYes})`);
    assert.ok(fastKlineRecord(base));
  });

  it('the pub envelope fast check never accepts a frame the zod schema refuses', () => {
    const r = rng(3);
    const base = { op: 'pub', topic: 'book', src: 'reader-1', records: [BASE], id: 1, ack: true };
    const fields = ['op', 'topic', 'src', 'records', 'id', 'ack'];
    const values: unknown[] = [...ODD_VALUES, 'pub', 'book', 'r', [BASE], 'x'.repeat(65), 2 ** 60, false];
    let fastYes = 0;
    for (let i = 0; i < 20_000; i++) {
      const f: Record<string, unknown> = { ...base };
      const n = 1 + Math.floor(r() * 3);
      for (let j = 0; j < n; j++) {
        const k = fields[Math.floor(r() * fields.length)];
        if (r() < 0.2) delete f[k];
        else f[k] = values[Math.floor(r() * values.length)];
      }
      if (fastPubFrame(f)) {
        fastYes++;
        assert.ok(PubFrame.safeParse(f).success, `fast accepted ${JSON.stringify(f)}`);
      }
    }
    assert.ok(fastYes > 100);
  });
});
