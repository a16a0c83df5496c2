import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KlineBarRow } from '../core/protocol/topics.ts';
import { KlineBook } from './book.ts';

const M = 60_000;
const T0 = 1_767_225_600_000; // a minute boundary

function bar(i: number, close: number, high = close, low = close): KlineBarRow {
  const t = T0 + i * M;
  return [t, String(close), String(high), String(low), String(close), '10', t + M - 1, '0', 1, '0', '0', '0'];
}

function window(n: number, start = 0): KlineBarRow[] {
  return Array.from({ length: n }, (_, i) => bar(start + i, 100 + start + i));
}

test('window fills the book; deltas keep it current; change is close-to-close', () => {
  const book = new KlineBook({ capacity: 45 });
  book.window('BTCUSDT', window(44), T0 + 44 * M);
  const b = book.get('BTCUSDT')!;
  assert.equal(b.depth(), 44);
  assert.equal(b.newest, T0 + 43 * M);
  book.delta('BTCUSDT', [bar(43, 143), bar(44, 145)], T0 + 44 * M + 5000);
  assert.equal(b.newest, T0 + 44 * M);
  assert.equal(b.depth(), 45);
  assert.equal(b.closeAt(0), 145);
  assert.equal(b.closeAt(1), 143);
  assert.ok(Math.abs(b.changePct(1) - ((145 - 143) / 143) * 100) < 1e-12);
  // The ring keeps 45 bars: one more minute drops the oldest.
  book.delta('BTCUSDT', [bar(44, 145), bar(45, 146)], T0 + 45 * M + 1);
  assert.equal(b.depth(), 45);
  assert.ok(Number.isNaN(b.closeAt(45)));
});

test('out-of-order deltas: an older record never overwrites a newer one; a late bar lands in its slot', () => {
  const gaps: number[][] = [];
  const book = new KlineBook({ capacity: 10, onGap: (_s, f, t) => gaps.push([f, t]) });
  book.window('X', window(5), T0 + 5 * M);
  const b = book.get('X')!;
  book.delta('X', [bar(4, 104), bar(5, 110)], T0 + 5 * M + 3000);
  // An older read of the forming bar arrives late.
  book.delta('X', [bar(4, 104), bar(5, 107)], T0 + 5 * M + 1000);
  assert.equal(b.closeAt(0), 110);
  assert.equal(book.stats.ignored, 2);
  // A delta for a bar older than the book's window is ignored.
  book.delta('X', [bar(-20, 1)], T0 + 5 * M + 4000);
  assert.equal(b.closeAt(0), 110);
  assert.deepEqual(gaps, []);
});

test('gaps: a delta skipping bars is reported and a re-fill closes it', () => {
  const gaps: Array<[string, number, number]> = [];
  const book = new KlineBook({ capacity: 20, onGap: (s, f, t) => gaps.push([s, f, t]) });
  book.window('X', window(10), T0 + 10 * M);
  const b = book.get('X')!;
  // Bars 10..12 were missed; the next delta brings 13 and 14.
  book.delta('X', [bar(13, 113), bar(14, 114)], T0 + 14 * M + 1);
  assert.deepEqual(gaps, [['X', T0 + 10 * M, T0 + 12 * M]]);
  assert.equal(b.gaps, 1);
  assert.deepEqual(b.missing(8), [T0 + 10 * M, T0 + 11 * M, T0 + 12 * M]);
  // While a bar is missing, conditions over it read NaN (nothing can trigger on it).
  book.delta('X', [bar(14, 114), bar(15, 115)], T0 + 15 * M + 1);
  assert.ok(Number.isNaN(b.closeAt(4)));
  // Re-fill (window mirror or REST) closes the gap.
  book.window('X', window(15), T0 + 15 * M + 2);
  assert.deepEqual(b.missing(), []);
  assert.equal(b.closeAt(0), 115);
  assert.equal(b.depth(), 16);
});

test('book ticks correct the forming bar and open the next one', () => {
  const gaps: number[][] = [];
  const book = new KlineBook({ capacity: 10, onGap: (_s, f, t) => gaps.push([f, t]) });
  book.window('X', window(5), T0 + 5 * M);
  book.delta('X', [bar(4, 104), bar(5, 105, 106, 104)], T0 + 5 * M + 1000);
  const b = book.get('X')!;
  // A tick after the kline read: close = mid, high widened.
  book.tick('X', 107.9, 108.1, T0 + 5 * M + 2000);
  assert.equal(b.closeAt(0), 108);
  assert.equal(b.high[b.at(0)], 108);
  assert.equal(b.low[b.at(0)], 104);
  assert.equal(b.bid, 107.9);
  assert.equal(b.bookTs, T0 + 5 * M + 2000);
  // An older tick does not undo it.
  book.tick('X', 99, 99.2, T0 + 5 * M + 1500);
  assert.equal(b.closeAt(0), 108);
  // A kline read older than the tick keeps the tick's close and widens the range.
  book.delta('X', [bar(4, 104), bar(5, 105, 109, 103)], T0 + 5 * M + 1800);
  assert.equal(b.closeAt(0), 108);
  assert.equal(b.high[b.at(0)], 109);
  assert.equal(b.low[b.at(0)], 103);
  // A newer kline read is authoritative again.
  book.delta('X', [bar(4, 104), bar(5, 106, 109, 103)], T0 + 5 * M + 2500);
  assert.equal(b.closeAt(0), 106);
  // A tick in the next minute opens that bar provisionally (no gap).
  book.tick('X', 110, 110.2, T0 + 6 * M + 10);
  assert.equal(b.newest, T0 + 6 * M);
  assert.equal(b.closeAt(0), 110.1);
  assert.equal(b.closeAt(1), 106);
  assert.deepEqual(gaps, []);
  // The kline delta for that minute replaces the provisional bar.
  book.delta('X', [bar(5, 106), bar(6, 111)], T0 + 6 * M + 500);
  assert.equal(b.closeAt(0), 111);
});

test('holes in the first window of a symbol are reported as gaps', () => {
  const gaps: number[][] = [];
  const book = new KlineBook({ capacity: 10, onGap: (_s, f, t) => gaps.push([f, t]) });
  const rows = window(8).filter((k) => k[0] !== T0 + 3 * M && k[0] !== T0 + 4 * M);
  book.window('X', rows, T0 + 8 * M);
  assert.deepEqual(gaps, [[T0 + 3 * M, T0 + 4 * M]]);
  // A complete first window reports nothing.
  book.window('Y', window(8), T0 + 8 * M);
  assert.equal(gaps.length, 1);
});
