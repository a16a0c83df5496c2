import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KlineBarRow } from '../core/protocol/topics.ts';
import { KlineBook } from './book.ts';
import { PreTradeRisk } from './risk.ts';
import type { Intent, MarketView } from './strategy.ts';

const M = 60_000;
const T = 1_767_225_600_000;
const bar = (t: number): KlineBarRow => [
  t,
  '100',
  '100',
  '100',
  '100',
  '1',
  t + M - 1,
  '0',
  1,
  '0',
  '0',
  '0',
];

function setup(positions: Record<string, number> = {}, banned: string[] = []) {
  const book = new KlineBook();
  for (const s of ['A', 'B', 'C']) {
    book.delta(s, [bar(T - M), bar(T)], T + 1000);
    book.tick(s, 99.9, 100.1, T + 1000);
  }
  let now = T + 2000;
  const view: MarketView = {
    book,
    position: (s) => ({ amt: positions[s] ?? 0, entryPrice: 100, unrealizedPnl: 0, ts: 0 }),
    balance: () => undefined,
    activeOrders: () => 0,
    exchangeOpenOrders: () => 0,
    banned: (s) => banned.includes(s),
    now: () => now,
  };
  return { view, setNow: (t: number) => (now = t) };
}

const open = (symbol: string, quote = '100'): Intent => ({
  symbol,
  action: 'open',
  side: 'BUY',
  size: { quote },
  style: { kind: 'taker' },
  key: 'k',
});
const close = (symbol: string): Intent => ({
  ...open(symbol),
  action: 'close',
  side: 'SELL',
  size: { base: '1' },
});

test('caps: notional per order and per symbol, open positions, order rate; closes pass bans and staleness', () => {
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as never;
  let clock = 0;
  const risk = new PreTradeRisk(
    {
      maxOrderNotional: 500,
      maxSymbolNotional: 600,
      maxOpenPositions: 2,
      maxOrdersPerSecond: 2,
      maxOrdersPerMinute: 100,
    },
    log,
    () => clock,
  );
  const { view, setNow } = setup({ A: 3, B: 1 }, ['C', 'ALL-not']);
  assert.deepEqual(risk.check(open('A', '501'), 100, view), {
    ok: false,
    cause: 'order-notional',
    detail: 'A: 501.00 > 500',
  });
  assert.equal((risk.check(open('A', '400'), 100, view) as { cause: string }).cause, 'symbol-notional');
  assert.equal((risk.check(open('C'), 100, view) as { cause: string }).cause, 'banned');
  // C is banned; a third symbol would exceed two open positions: A and B hold positions.
  const { view: v2 } = setup({ A: 1, B: 1 });
  assert.equal((risk.check(open('C'), 100, v2) as { cause: string }).cause, 'max-positions');
  // A close of a banned symbol with stale data passes.
  setNow(T + 10 * M);
  assert.equal(risk.check(close('C'), 100, view).ok, true);
  assert.equal((risk.check(open('B', '50'), 100, view) as { cause: string }).cause, 'stale-bars');
  // Order rate: 2 per second.
  const { view: v3 } = setup();
  assert.equal(risk.check(open('A', '50'), 100, v3).ok, true);
  risk.sent();
  risk.sent();
  assert.equal((risk.check(open('A', '50'), 100, v3) as { cause: string }).cause, 'order-rate');
  clock += 1001;
  assert.equal(risk.check(open('A', '50'), 100, v3).ok, true);
  // Counted every time, logged once per cause.
  risk.check(open('A', '501'), 100, v3);
  assert.equal(risk.refusals.get('order-notional'), 2);
  assert.equal(warnings.length, new Set(risk.refusals.keys()).size);
});

test('stale book and ALL', () => {
  const risk = new PreTradeRisk({ maxBookAgeMs: 1000, maxBarsAgeMs: 90_000 });
  const { view, setNow } = setup();
  setNow(T + 1000 + 1500);
  assert.equal((risk.check(open('A', '50'), 100, view) as { cause: string }).cause, 'stale-book');
  const { view: all } = setup({}, ['ALL']);
  assert.equal((risk.check(open('A', '50'), 100, all) as { cause: string }).cause, 'banned-all');
  assert.equal(risk.check(close('A'), 100, all).ok, true);
});
