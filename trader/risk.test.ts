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

test('orders under way count: opening orders are open positions and add to the symbol notional; every account position counts', () => {
  const risk = new PreTradeRisk({ maxOpenPositions: 2, maxSymbolNotional: 600, maxOrderNotional: 500 });
  const { view } = setup();
  // One frame: A and B got opening orders (not filled yet); a third symbol must wait.
  const pending: Record<string, { count: number; qty: number }> = {
    A: { count: 1, qty: 4 },
    B: { count: 1, qty: 1 },
  };
  const busy: MarketView = {
    ...view,
    openingOrders: (s) => pending[s] ?? { count: 0, qty: 0 },
    openSymbols: () => Object.keys(pending),
  };
  assert.equal((risk.check(open('C'), 100, busy) as { cause: string }).cause, 'max-positions');
  // A: 4 × 100 under way + 300 > 600.
  assert.equal((risk.check(open('A', '300'), 100, busy) as { cause: string }).cause, 'symbol-notional');
  assert.equal(risk.check(open('B', '300'), 100, busy).ok, true);
  // Positions on symbols outside the book count too.
  const outside: MarketView = {
    ...view,
    position: (s) => ({ amt: s === 'X' || s === 'Y' ? 1 : 0, entryPrice: 0, unrealizedPnl: 0, ts: 0 }),
    openSymbols: () => ['X', 'Y'],
  };
  assert.equal((risk.check(open('A'), 100, outside) as { cause: string }).cause, 'max-positions');
});

test('caps on the order as rounded, at the book price; a refPrice far from the book is refused', () => {
  const risk = new PreTradeRisk({ maxOrderNotional: 500, maxSymbolNotional: 650 });
  const { view } = setup({ A: 1 });
  // quote 100 passes the request check, but rounded up to 1 contract at 600 it is 600 > 500.
  assert.equal(risk.check(open('B', '100'), 600, view).ok, true);
  const r = risk.checkPrepared(open('B', '100'), 1, 600, view);
  assert.equal((r as { cause: string }).cause, 'order-notional');
  // Symbol: position 1 × 100 + 0.7 × 100 under way + order 5 × 100 > 650.
  const pend: MarketView = { ...view, openingOrders: () => ({ count: 1, qty: 0.7 }) };
  assert.equal((risk.checkPrepared(open('A'), 5, 100, pend) as { cause: string }).cause, 'symbol-notional');
  assert.equal(risk.checkPrepared(close('A'), 50, 100, view).ok, true, 'closes are not capped');
  // The book mid is 100: a refPrice of 106 (> 5 % away) is refused, 104 passes.
  assert.equal(
    (risk.check({ ...open('B', '50'), refPrice: 106 }, 106, view) as { cause: string }).cause,
    'bad-price',
  );
  assert.equal(risk.check({ ...open('B', '50'), refPrice: 104 }, 104, view).ok, true);
  assert.equal(risk.check({ ...close('B'), refPrice: 130 }, 130, view).ok, true);
});

test('a taker follow-up: opening ones are refused under a ban or ALL, closes pass; each sent counts toward the rate', () => {
  let clock = 0;
  const risk = new PreTradeRisk({ maxOrdersPerSecond: 2 }, undefined, () => clock);
  const bans = new Set<string>();
  const view = { banned: (s: string) => bans.has(s) };
  assert.equal(risk.followUp({ symbol: 'A', reduceOnly: false }, view), undefined);
  bans.add('ALL');
  assert.match(risk.followUp({ symbol: 'A', reduceOnly: false }, view) ?? '', /ALL/);
  assert.equal(risk.followUp({ symbol: 'A', reduceOnly: true }, view), undefined);
  bans.clear();
  bans.add('B');
  assert.match(risk.followUp({ symbol: 'B', reduceOnly: false }, view) ?? '', /banned/);
  // Two follow-ups were sent: the rate cap (2/s) is reached for the next intent.
  const { view: v } = setup();
  assert.equal((risk.check(open('A', '50'), 100, v) as { cause: string }).cause, 'order-rate');
  clock += 1001;
  assert.equal(risk.check(open('A', '50'), 100, v).ok, true);
});
