import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KlineBarRow } from '../../core/protocol/topics.ts';
import { KlineBook } from '../book.ts';
import type { Intent, MarketView } from '../strategy.ts';
import { createStrategy } from './demo.ts';

const M = 60_000;
const T0 = 1_767_225_600_000;
const bar = (i: number, c: number): KlineBarRow => [
  T0 + i * M,
  String(c),
  String(c),
  String(c),
  String(c),
  '1',
  T0 + i * M + M - 1,
  '0',
  1,
  '0',
  '0',
  '0',
];

function view(book: KlineBook, amt: number, active = 0): MarketView {
  return {
    book,
    position: () => ({ amt, entryPrice: 100, unrealizedPnl: 0, ts: 0 }),
    balance: () => undefined,
    activeOrders: () => active,
    exchangeOpenOrders: () => 0,
    banned: () => false,
    now: () => T0 + 10 * M,
  };
}

test('demo: opens above +openPct with no position, closes below closePct with one', () => {
  const s = createStrategy({ openPct: 1, closePct: -0.5, quoteSize: 50 });
  const book = new KlineBook();
  book.window('A', [bar(0, 100), bar(1, 100)], T0 + 2 * M);
  book.delta('A', [bar(1, 100), bar(2, 101.5)], T0 + 2 * M + 1);
  const out: Intent[] = [];
  assert.equal(
    s.evaluate('A', view(book, 0), (i) => out.push(i)),
    1,
  );
  assert.equal(out.length, 1);
  assert.deepEqual([out[0].action, out[0].side, out[0].size], ['open', 'BUY', { quote: '50' }]);
  assert.equal(out[0].key, `open:${T0 + 2 * M}`);
  // With an order in flight: nothing.
  s.evaluate('A', view(book, 0, 1), (i) => out.push(i));
  assert.equal(out.length, 1);
  // +0.9 %: nothing.
  book.delta('A', [bar(1, 100), bar(2, 100.9)], T0 + 2 * M + 2);
  s.evaluate('A', view(book, 0), (i) => out.push(i));
  assert.equal(out.length, 1);
  // -0.8 % with a long: close it, reduce-only for the position's size.
  book.delta('A', [bar(1, 100), bar(2, 99.2)], T0 + 2 * M + 3);
  s.evaluate('A', view(book, 0.5), (i) => out.push(i));
  assert.equal(out.length, 2);
  assert.deepEqual([out[1].action, out[1].side, out[1].size], ['close', 'SELL', { base: '0.5' }]);
  // -0.8 % with no position: nothing.
  s.evaluate('A', view(book, 0), (i) => out.push(i));
  assert.equal(out.length, 2);
});
