import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Decimal } from '../../core/decimal.ts';
import { ExchangeClock } from '../clock.ts';
import { KLINE_INTERVALS, type KlineRow, type MarketTick } from '../contracts.ts';
import { barOpen, nextOpen } from './intervals.ts';
import { createMarket, type MarketOptions } from './market.ts';

// Monday 2026-06-01 10:00:20 UTC: the 1500-minute history then spans a month and a week boundary.
const START = Date.UTC(2026, 5, 1, 10, 0, 20);
const DEC = /^-?\d+(\.\d+)?$/;

function mk(opts: Partial<MarketOptions> = {}, start = START) {
  const clock = new ExchangeClock({ virtual: true, start });
  const m = createMarket({ clock, symbols: 12, seed: 5, ...opts });
  return { clock, m };
}

function go(clock: ExchangeClock, m: { advanceTo(t: number): void }, ms: number): void {
  clock.advance(ms);
  m.advanceTo(clock.now());
}

function snapshot(m: ReturnType<typeof mk>['m']): unknown {
  return m.specs().map((s) => ({
    k1: m.klines(s.symbol, '1m', { limit: 1500 }),
    k1h: m.klines(s.symbol, '1h', { limit: 100 }),
    trades: m.recentTrades(s.symbol, 1000),
    t24: m.ticker24h(s.symbol),
    depth: m.depth(s.symbol, 20),
    book: m.bookTicker(s.symbol),
    prem: m.premiumIndex(s.symbol),
    funding: m.fundingHistory(s.symbol, { limit: 100 }),
  }));
}

function mult(text: string, unit: string): boolean {
  return Decimal.parse(text).isMultipleOf(unit);
}

test('same seed and same control calls give the same market, however often advanceTo runs', () => {
  const a = mk();
  const b = mk();
  assert.deepEqual(snapshot(a.m), snapshot(b.m));
  // a: real-time-like 250 ms calls; b: one call per 50 s, and one long jump (coarse ticks).
  b.m.onTick(() => {});
  for (let i = 0; i < 400; i++) go(a.clock, a.m, 250);
  go(b.clock, b.m, 50_000);
  go(b.clock, b.m, 50_000);
  a.m.setPrice('ETHUSDT', '3700');
  b.m.setPrice('ETHUSDT', '3700');
  a.m.freeze('SOLUSDT', 10_000);
  b.m.freeze('SOLUSDT', 10_000);
  a.m.setPath('XRPUSDT', '2.5', 120_000, true);
  b.m.setPath('XRPUSDT', '2.5', 120_000, true);
  for (let i = 0; i < 60 * 20; i++) go(a.clock, a.m, 1000);
  go(b.clock, b.m, 20 * 60_000);
  assert.deepEqual(snapshot(a.m), snapshot(b.m));

  const c = mk({ seed: 6 });
  assert.notDeepEqual(
    c.m.klines('BTCUSDT', '1m', { limit: 10 }),
    mk().m.klines('BTCUSDT', '1m', { limit: 10 }),
  );
});

test('every price is on the tick grid, every quantity on the step grid, no float text', () => {
  const { clock, m } = mk({ symbols: 60 });
  go(clock, m, 90_000);
  for (const s of m.specs()) {
    const tick = s.tickSize;
    const step = s.stepSize;
    const price = (p: string, what: string) => {
      assert.match(p, DEC, `${s.symbol} ${what} ${p}`);
      assert.ok(mult(p, tick), `${s.symbol} ${what} ${p} not a multiple of ${tick}`);
      assert.ok(
        Decimal.parse(p).gte(s.minPrice) && Decimal.parse(p).lte(s.maxPrice),
        `${s.symbol} ${what} in band`,
      );
      assert.ok((p.split('.')[1] ?? '').length <= Math.max(8, s.pricePrecision), `${s.symbol} ${what} ${p}`);
    };
    const qty = (q: string, what: string) => {
      assert.match(q, DEC, `${s.symbol} ${what} ${q}`);
      assert.ok(mult(q, step), `${s.symbol} ${what} ${q} not a multiple of ${step}`);
    };
    for (const k of [
      ...m.klines(s.symbol, '1m', { limit: 100 }),
      ...m.klines(s.symbol, '1h', { limit: 30 }),
    ]) {
      for (const j of [1, 2, 3, 4]) price(k[j] as string, `kline[${j}]`);
      qty(k[5], 'kline volume');
      qty(k[9], 'kline taker volume');
      assert.match(k[7], DEC);
      assert.match(k[10], DEC);
      assert.ok(
        Decimal.parse(k[2]).gte(k[1]) && Decimal.parse(k[2]).gte(k[4]) && Decimal.parse(k[3]).lte(k[1]),
      );
      assert.ok(Decimal.parse(k[9]).lte(k[5]) && Decimal.parse(k[10]).lte(k[7]));
    }
    for (const t of m.recentTrades(s.symbol, 300)) {
      price(t.price, 'trade');
      qty(t.qty, 'trade qty');
      assert.ok(Decimal.parse(t.qty).gte(s.minQty));
      assert.ok(Decimal.parse(t.quoteQty).eq(Decimal.parse(t.price).mul(t.qty)), `${s.symbol} quoteQty`);
    }
    const b = m.bookTicker(s.symbol);
    price(b.bidPrice, 'bid');
    price(b.askPrice, 'ask');
    qty(b.bidQty, 'bidQty');
    qty(b.askQty, 'askQty');
    price(m.lastPrice(s.symbol), 'last');
    price(m.markPrice(s.symbol), 'mark');
    const p = m.premiumIndex(s.symbol);
    price(p.markPrice as string, 'premiumIndex mark');
    assert.match(p.indexPrice as string, /^\d+\.\d{8}$/);
    assert.match(p.lastFundingRate as string, /^-?0\.\d{8}$/);
    for (const f of m.fundingHistory(s.symbol, { limit: 10 })) price(f.markPrice as string, 'funding mark');
    const t24 = m.ticker24h(s.symbol);
    for (const k of ['lastPrice', 'openPrice', 'highPrice', 'lowPrice']) price(t24[k] as string, k);
    qty(t24.volume as string, 'volume');
    qty(t24.lastQty as string, 'lastQty');
  }
});

test('klines: alignment, close time, forming bar and the time rules for every interval', () => {
  const { clock, m } = mk();
  go(clock, m, 30_000);
  const now = clock.now();
  const histStart = Math.floor(START / 60_000) * 60_000 - 1500 * 60_000;
  const ones = [
    ...m.klines('BTCUSDT', '1m', { startTime: histStart, limit: 1500 }),
    ...m.klines('BTCUSDT', '1m', { startTime: histStart + 1500 * 60_000, limit: 1500 }),
  ];
  assert.equal(ones[0][0], histStart, 'generated history starts 1500 minutes before creation');
  // Older bars are synthesised: contiguous, each opening at the previous close.
  const older = m.klines('BTCUSDT', '1m', { endTime: histStart - 1, limit: 10 });
  assert.equal(older.length, 10);
  assert.equal(older[9][0], histStart - 60_000);
  for (let j = 1; j < older.length; j++) assert.equal(older[j][1], older[j - 1][4]);
  for (const iv of KLINE_INTERVALS) {
    const recent = m.klines('BTCUSDT', iv, { limit: 1500 });
    // from the first bar holding generated minutes
    const rows = m.klines('BTCUSDT', iv, { startTime: barOpen(iv, histStart), limit: 1500 });
    assert.ok(rows.length >= 1, iv);
    if (iv !== '1m') assert.deepEqual(recent.slice(-rows.length), rows);
    else assert.deepEqual(recent.slice(0, -1), rows.slice(1));
    for (let j = 0; j < rows.length; j++) {
      const [open, , , , , , close] = rows[j];
      assert.equal(barOpen(iv, open), open, `${iv} alignment`);
      assert.equal(close, nextOpen(iv, open) - 1, `${iv} close time`);
      if (j > 0) assert.equal(open, nextOpen(iv, rows[j - 1][0]), `${iv} contiguous`);
      assert.equal(rows[j][11], '0');
    }
    assert.equal(rows[0][0], barOpen(iv, histStart), `${iv} first bar`);
    const forming = recent[recent.length - 1];
    assert.ok(forming[0] <= now && now <= forming[6], `${iv} forming bar contains now`);
    assert.equal(forming[4], m.lastPrice('BTCUSDT'), `${iv} forming close = last price`);

    // limit counts from the newest bar.
    assert.deepEqual(m.klines('BTCUSDT', iv, { limit: 1 }), [forming]);
    if (rows.length >= 2) {
      assert.deepEqual(m.klines('BTCUSDT', iv, { limit: 2 }), recent.slice(-2));
      // startTime: bars opening at or after it; endTime: bars opening at or before it.
      assert.deepEqual(m.klines('BTCUSDT', iv, { startTime: rows[1][0] - 1, limit: 1 }), [rows[1]]);
      assert.deepEqual(m.klines('BTCUSDT', iv, { startTime: rows[0][0], limit: 1 }), [rows[0]]);
      assert.deepEqual(m.klines('BTCUSDT', iv, { endTime: rows[0][0] + 1, limit: 5 }).at(-1), rows[0]);
      assert.deepEqual(
        m.klines('BTCUSDT', iv, { startTime: rows[0][0], endTime: rows[1][0], limit: 100 }),
        rows.slice(0, 2),
      );
      assert.deepEqual(m.klines('BTCUSDT', iv, { startTime: rows[0][0], endTime: now, limit: 1 }), [rows[0]]);
    }
    assert.deepEqual(m.klines('BTCUSDT', iv, { startTime: now + 10 * 86_400_000 * 31, limit: 10 }), []);

    // Aggregation: each bar equals its 1m bars.
    for (const r of rows) {
      const sub = ones.filter((k) => k[0] >= r[0] && k[0] <= r[6]);
      assert.ok(sub.length > 0);
      assert.deepEqual(r, aggregate(r[0], r[6], sub), `${iv} bar ${new Date(r[0]).toISOString()}`);
    }
  }
  // The month and week boundaries of the fixture really are covered.
  assert.equal(m.klines('BTCUSDT', '1M', { startTime: barOpen('1M', histStart), limit: 10 }).length, 2);
  assert.equal(m.klines('BTCUSDT', '1w', { startTime: barOpen('1w', histStart), limit: 10 }).length, 2);
  assert.equal(m.klines('BTCUSDT', '1m', { limit: 1500 }).length, 1500);
  const five = m.klines('BTCUSDT', '5m', { limit: 3 });
  assert.equal(five.length, 3);
});

function aggregate(open: number, close: number, sub: KlineRow[]): KlineRow {
  const sum = (j: number) => sub.reduce((a, k) => a.add(k[j] as string), Decimal.ZERO);
  const fix = (d: Decimal, like: string) => d.toFixed((like.split('.')[1] ?? '').length);
  const max = sub.reduce((a, k) => Decimal.max(a, Decimal.parse(k[2])), Decimal.parse(sub[0][2]));
  const min = sub.reduce((a, k) => Decimal.min(a, Decimal.parse(k[3])), Decimal.parse(sub[0][3]));
  return [
    open,
    sub[0][1],
    fix(max, sub[0][2]),
    fix(min, sub[0][3]),
    sub[sub.length - 1][4],
    fix(sum(5), sub[0][5]),
    close,
    fix(sum(7), sub[0][7]),
    sub.reduce((a, k) => a + k[8], 0),
    fix(sum(9), sub[0][9]),
    fix(sum(10), sub[0][10]),
    '0',
  ];
}

test('24h ticker agrees with the 1m klines and the trade ids', () => {
  const { clock, m } = mk();
  go(clock, m, 5_000);
  const t = m.ticker24h('ETHUSDT');
  const bars = m.klines('ETHUSDT', '1m', { limit: 1440 });
  const vol = bars.reduce((a, k) => a.add(k[5]), Decimal.ZERO);
  const quote = bars.reduce((a, k) => a.add(k[7]), Decimal.ZERO);
  const count = bars.reduce((a, k) => a + k[8], 0);
  assert.equal(t.openPrice, bars[0][1]);
  assert.equal(t.lastPrice, m.lastPrice('ETHUSDT'));
  assert.ok(vol.eq(t.volume as string));
  assert.ok(quote.eq(t.quoteVolume as string));
  assert.equal(t.count, count);
  assert.equal((t.lastId as number) - (t.firstId as number) + 1, count);
  const trades = m.recentTrades('ETHUSDT', 1);
  assert.equal(t.lastId, trades[0].id);
  assert.equal(t.lastQty, trades[0].qty);
  assert.equal(t.closeTime as number, (t.openTime as number) + 86_400_000);
  const change = Decimal.parse(t.lastPrice as string).sub(t.openPrice as string);
  assert.ok(change.eq(t.priceChange as string));
  assert.equal(
    t.priceChangePercent,
    change
      .mul(100)
      .div(t.openPrice as string, 3)
      .toFixed(3),
  );
  assert.match(t.priceChangePercent as string, /^-?\d+\.\d{3}$/);
  const w = Decimal.parse(t.weightedAvgPrice as string);
  assert.ok(w.gte(t.lowPrice as string) && w.lte(t.highPrice as string));
  assert.deepEqual(Object.keys(t), [
    'symbol',
    'priceChange',
    'priceChangePercent',
    'weightedAvgPrice',
    'lastPrice',
    'lastQty',
    'openPrice',
    'highPrice',
    'lowPrice',
    'volume',
    'quoteVolume',
    'openTime',
    'closeTime',
    'firstId',
    'lastId',
    'count',
  ]);
});

test('recent trades: ascending, contiguous ids, at most limit, the last one is the last price', () => {
  const { clock, m } = mk();
  go(clock, m, 10_000);
  const tr = m.recentTrades('BNBUSDT', 1000);
  assert.equal(tr.length, 1000);
  for (let i = 1; i < tr.length; i++) {
    assert.equal(tr[i].id, tr[i - 1].id + 1);
    assert.ok(tr[i].time >= tr[i - 1].time);
  }
  assert.equal(tr[tr.length - 1].price, m.lastPrice('BNBUSDT'));
  assert.deepEqual(m.recentTrades('BNBUSDT', 5), tr.slice(-5));
  assert.deepEqual(Object.keys(tr[0]), ['id', 'symbol', 'price', 'qty', 'quoteQty', 'time', 'isBuyerMaker']);
});

test('ticks: one per symbol per step, carrying the step trades and the state after it', () => {
  const { clock, m } = mk();
  const ticks: MarketTick[] = [];
  m.onTick((t) => ticks.push(t));
  go(clock, m, 1_000);
  assert.equal(ticks.length, 4 * 12);
  const last = ticks.filter((t) => t.symbol === 'SOLUSDT').at(-1)!;
  assert.equal(last.last, m.lastPrice('SOLUSDT'));
  assert.equal(last.mark, m.markPrice('SOLUSDT'));
  assert.deepEqual(last.book, m.bookTicker('SOLUSDT'));
  assert.equal(last.trades.at(-1)!.price, last.last);
  assert.equal(last.time, clock.now());
  assert.deepEqual(m.recentTrades('SOLUSDT', last.trades.length), last.trades);
  for (const t of ticks) {
    assert.ok(t.trades.length >= 1 && t.trades.length <= 4);
    const bid = Decimal.parse(t.book.bidPrice);
    const ask = Decimal.parse(t.book.askPrice);
    assert.ok(bid.lt(ask));
    assert.ok(bid.eq(t.last) || ask.eq(t.last), 'the last trade is at the touch');
  }
});

test("a long jump emits each minute's high, low and last step, and the klines hold every trade", () => {
  const { clock, m } = mk({ symbols: 3 });
  const ticks: MarketTick[] = [];
  m.onTick((t) => ticks.push(t));
  clock.advance(10 * 60_000);
  m.advanceTo(clock.now());
  const btc = ticks.filter((t) => t.symbol === 'BTCUSDT');
  assert.ok(btc.length >= 10 && btc.length <= 3 * 11, `${btc.length} ticks`);
  for (let i = 1; i < btc.length; i++) assert.ok(btc[i].time > btc[i - 1].time);
  // Whole minutes inside the jump.
  const bars = m.klines('BTCUSDT', '1m', { limit: 12 }).filter((k) => k[0] >= START && k[6] < clock.now());
  assert.equal(bars.length, 9);
  for (const k of bars) {
    const inBar = btc.filter((t) => t.time >= k[0] && t.time <= k[6]);
    const prices = inBar.map((t) => t.last);
    assert.ok(prices.includes(k[2]), 'high emitted');
    assert.ok(prices.includes(k[3]), 'low emitted');
    assert.equal(inBar.at(-1)!.last, k[4], 'last step emitted');
  }
});

test('setPrice moves trades, book, mark and the forming kline at once; the walk continues from there', () => {
  const { clock, m } = mk();
  go(clock, m, 2_000);
  const ticks: MarketTick[] = [];
  m.onTick((t) => ticks.push(t));
  const before = m.klines('ETHUSDT', '1m', { limit: 1 })[0];
  m.setPrice('ETHUSDT', '3000.005'); // tick 0.01: rounds half up
  assert.equal(m.lastPrice('ETHUSDT'), '3000.01');
  assert.equal(m.markPrice('ETHUSDT'), '3000.01');
  assert.equal(m.premiumIndex('ETHUSDT').markPrice, '3000.01000000');
  const book = m.bookTicker('ETHUSDT');
  assert.ok(book.bidPrice === '3000.01' || book.askPrice === '3000.01');
  assert.ok(Decimal.parse(book.askPrice).sub(book.bidPrice).eq('0.01'));
  const tr = m.recentTrades('ETHUSDT', 1)[0];
  assert.equal(tr.price, '3000.01');
  assert.equal(tr.time, clock.now());
  assert.equal(ticks.length, 1);
  assert.equal(ticks[0].symbol, 'ETHUSDT');
  assert.equal(ticks[0].last, '3000.01');
  assert.deepEqual(ticks[0].trades, [tr]);
  const k = m.klines('ETHUSDT', '1m', { limit: 1 })[0];
  assert.equal(k[0], before[0]);
  assert.equal(k[4], '3000.01');
  assert.equal(k[3], '3000.01', 'new low');
  assert.equal(k[2], before[2], 'high unchanged');
  assert.equal(k[8], before[8] + 1);

  // Non-power-of-ten tick: TRXUSDT 0.00005.
  m.setPrice('TRXUSDT', '0.300024');
  assert.equal(m.lastPrice('TRXUSDT'), '0.30000');
  m.setPrice('TRXUSDT', '0.300025');
  assert.equal(m.lastPrice('TRXUSDT'), '0.30005');
  // Clamped to the price band.
  m.setPrice('BTCUSDT', '99999999');
  assert.equal(m.lastPrice('BTCUSDT'), '4529764.00');
  m.setPrice('BTCUSDT', '100000');

  go(clock, m, 30_000);
  const p = Number(m.lastPrice('ETHUSDT'));
  assert.ok(Math.abs(p / 3000.01 - 1) < 0.02, `continues near the new price: ${p}`);
  assert.ok(Math.abs(Number(m.markPrice('ETHUSDT')) / p - 1) < 0.005);
});

test('setPath drifts linearly to the target, lands on it, then continues randomly', () => {
  const { clock, m } = mk();
  const start = Decimal.parse(m.lastPrice('SOLUSDT'));
  const target = start.mul('1.1').toStep('0.01', 'round');
  m.setPath('SOLUSDT', target.toString(), 60_000);
  go(clock, m, 30_000);
  const mid = start.add(target).div(2, 4);
  assert.ok(
    Decimal.parse(m.lastPrice('SOLUSDT')).sub(mid).abs().lte('0.0200'),
    `${m.lastPrice('SOLUSDT')} vs ${mid}`,
  );
  go(clock, m, 30_000);
  assert.ok(Decimal.parse(m.lastPrice('SOLUSDT')).eq(target));
  go(clock, m, 60_000);
  assert.ok(Math.abs(Number(m.lastPrice('SOLUSDT')) / target.toNumber() - 1) < 0.02);

  // With noise it wanders but still lands on the target at the end.
  const eth = Decimal.parse(m.lastPrice('ETHUSDT'));
  const down = eth.mul('0.95').toStep('0.01', 'round');
  m.setPath('ETHUSDT', down.toString(), 120_000, true);
  go(clock, m, 119_999);
  go(clock, m, 1);
  assert.ok(Decimal.parse(m.lastPrice('ETHUSDT')).eq(down));
});

test('freeze: no trades, no ticks, book time stays; other symbols carry on', () => {
  const { clock, m } = mk();
  const ticks: MarketTick[] = [];
  m.onTick((t) => ticks.push(t));
  const book = m.bookTicker('BTCUSDT');
  const last = m.lastPrice('BTCUSDT');
  const trades = m.recentTrades('BTCUSDT', 1)[0];
  const depthId = m.depth('BTCUSDT', 5).lastUpdateId;
  m.freeze('BTCUSDT', 5_000);
  go(clock, m, 4_900);
  assert.equal(ticks.filter((t) => t.symbol === 'BTCUSDT').length, 0);
  assert.ok(ticks.filter((t) => t.symbol === 'ETHUSDT').length > 0);
  assert.deepEqual(m.bookTicker('BTCUSDT'), book);
  assert.equal(m.lastPrice('BTCUSDT'), last);
  assert.deepEqual(m.recentTrades('BTCUSDT', 1)[0], trades);
  assert.equal(m.depth('BTCUSDT', 5).lastUpdateId, depthId);
  assert.equal(m.premiumIndex('BTCUSDT').time, book.time);
  go(clock, m, 500);
  assert.ok(ticks.filter((t) => t.symbol === 'BTCUSDT').length > 0);
  assert.ok(m.bookTicker('BTCUSDT').time > book.time);

  // Everything, across a minute boundary: the frozen minute's bar is flat with no trades.
  ticks.length = 0;
  const t0 = clock.now();
  m.freeze(undefined, 120_000);
  go(clock, m, 119_000);
  assert.equal(ticks.length, 0);
  const flat = m.klines('ETHUSDT', '1m', { startTime: t0, limit: 3 })[1];
  assert.equal(flat[8], 0);
  assert.equal(flat[5], '0.000');
  assert.equal(flat[1], flat[4]);
  assert.equal(flat[2], flat[3]);
  go(clock, m, 2_000);
  assert.ok(ticks.length > 0);
  m.freeze(undefined, 0);
});

test('funding every 8 h at 00/08/16 UTC on a virtual clock, recorded in the history', () => {
  const start = Date.UTC(2026, 0, 1, 7, 0, 0);
  const a = mk({ historyMinutes: 600 }, start);
  const events: { time: number; rates: Map<string, { rate: string; mark: string }> }[] = [];
  a.m.onFunding((time, rates) => events.push({ time, rates }));
  assert.equal(a.m.premiumIndex('BTCUSDT').nextFundingTime, Date.UTC(2026, 0, 1, 8));
  for (let i = 0; i < 24 * 6; i++) go(a.clock, a.m, 10 * 60_000);
  assert.deepEqual(
    events.map((e) => new Date(e.time).toISOString()),
    ['2026-01-01T08:00:00.000Z', '2026-01-01T16:00:00.000Z', '2026-01-02T00:00:00.000Z'],
  );
  for (const e of events) {
    assert.equal(e.rates.size, 12);
    for (const [sym, r] of e.rates) {
      assert.match(r.rate, /^-?0\.\d{8}$/);
      assert.ok(Math.abs(Number(r.rate)) <= 0.0075);
      assert.ok(mult(r.mark, a.m.spec(sym)!.tickSize));
    }
  }
  assert.equal(a.m.premiumIndex('BTCUSDT').nextFundingTime, Date.UTC(2026, 0, 2, 8));
  const hist = a.m.fundingHistory('BTCUSDT', { limit: 100 });
  // 00:00 of Jan 1 lies inside the 600-minute backfill; older rows are synthesised, every 8 h.
  assert.equal(hist.length, 100);
  assert.deepEqual(
    hist.slice(-5).map((h) => h.fundingTime),
    [
      Date.UTC(2025, 11, 31, 16),
      Date.UTC(2026, 0, 1, 0),
      Date.UTC(2026, 0, 1, 8),
      Date.UTC(2026, 0, 1, 16),
      Date.UTC(2026, 0, 2, 0),
    ],
  );
  for (let j = 1; j < hist.length; j++)
    assert.equal((hist[j].fundingTime as number) - (hist[j - 1].fundingTime as number), 8 * 3_600_000);
  const last = hist.at(-1)!;
  assert.deepEqual(Object.keys(last), ['symbol', 'fundingRate', 'fundingTime', 'markPrice']);
  assert.equal(last.fundingRate, events[2].rates.get('BTCUSDT')!.rate);
  assert.ok(Decimal.parse(last.markPrice as string).eq(events[2].rates.get('BTCUSDT')!.mark));
  assert.deepEqual(
    a.m.fundingHistory('BTCUSDT', { startTime: Date.UTC(2026, 0, 1, 8), limit: 2 }).map((h) => h.fundingTime),
    [Date.UTC(2026, 0, 1, 8), Date.UTC(2026, 0, 1, 16)],
  );
  assert.deepEqual(
    a.m.fundingHistory('BTCUSDT', { endTime: Date.UTC(2026, 0, 1, 8), limit: 1 }).map((h) => h.fundingTime),
    [Date.UTC(2026, 0, 1, 8)],
  );
  // Rates vary across symbols (persistent premium for some).
  const rates = new Set([...events[2].rates.values()].map((r) => r.rate));
  assert.ok(rates.size >= 1);

  // One 24 h jump: the same events and rates.
  const b = mk({ historyMinutes: 600 }, start);
  const evB: typeof events = [];
  b.m.onFunding((time, rates) => evB.push({ time, rates }));
  b.m.onTick(() => {});
  go(b.clock, b.m, 24 * 3_600_000);
  assert.deepEqual(evB, events);
  assert.deepEqual(b.m.premiumIndex('BTCUSDT'), a.m.premiumIndex('BTCUSDT'));
});

test('premiumIndex shape; index close to mark', () => {
  const { m } = mk();
  const p = m.premiumIndex('BTCUSDT');
  assert.deepEqual(Object.keys(p), [
    'symbol',
    'markPrice',
    'indexPrice',
    'estimatedSettlePrice',
    'lastFundingRate',
    'interestRate',
    'nextFundingTime',
    'time',
  ]);
  assert.equal(p.interestRate, '0.00010000');
  assert.match(p.markPrice as string, /^\d+\.\d{8}$/);
  const mark = Number(p.markPrice);
  assert.ok(Math.abs(Number(p.indexPrice) / mark - 1) < 0.005);
  assert.ok(Math.abs(mark / Number(m.lastPrice('BTCUSDT')) - 1) < 0.002);
  assert.equal(m.indexPrice('BTCUSDT'), p.indexPrice);
  assert.equal((p.nextFundingTime as number) % (8 * 3_600_000), 0);
});

test('depth: consistent book on the tick grid, best levels = book ticker, ids increase', () => {
  const { clock, m } = mk({ symbols: 40 });
  go(clock, m, 1_000);
  for (const s of m.specs()) {
    for (const limit of [5, 10, 20, 50, 100, 500, 1000]) {
      const d = m.depth(s.symbol, limit);
      const b = m.bookTicker(s.symbol);
      assert.ok(d.bids.length <= limit && d.asks.length <= limit);
      assert.equal(d.asks.length, limit, 'asks never run out');
      assert.ok(d.bids.length === limit || Decimal.parse(d.bids.at(-1)![0]).sub(s.tickSize).lt(s.minPrice));
      assert.deepEqual(d.bids[0], [b.bidPrice, b.bidQty]);
      assert.deepEqual(d.asks[0], [b.askPrice, b.askQty]);
      assert.equal(d.T, b.time);
      assert.ok(d.E >= d.T);
      for (let j = 1; j < d.bids.length; j++) {
        assert.ok(
          Decimal.parse(d.bids[j - 1][0])
            .sub(d.bids[j][0])
            .eq(s.tickSize),
        );
      }
      for (let j = 1; j < d.asks.length; j++) {
        assert.ok(
          Decimal.parse(d.asks[j][0])
            .sub(d.asks[j - 1][0])
            .eq(s.tickSize),
        );
      }
      if (limit <= 20) {
        for (const [p, q] of [...d.bids, ...d.asks]) {
          assert.ok(mult(p, s.tickSize) && mult(q, s.stepSize) && Decimal.parse(q).isPositive());
        }
      }
    }
  }
  const id0 = m.depth('BTCUSDT', 5).lastUpdateId;
  go(clock, m, 250);
  const id1 = m.depth('BTCUSDT', 5).lastUpdateId;
  assert.ok(id1 > id0);
  assert.equal(id1, m.updateId('BTCUSDT'));
});

test('replay: a Binance 1m kline CSV drives the symbol from the start of the history, then it walks on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-market-'));
  try {
    const start = Date.UTC(2026, 2, 10, 12, 0, 30);
    const history = 60;
    const csvStart = Date.UTC(2024, 0, 1); // any date: the first bar maps to the history start
    const rows: string[] = [];
    const expect: { o: string; h: string; l: string; c: string; v: string }[] = [];
    let p = 50000;
    for (let j = 0; j < 90; j++) {
      const o = p;
      const c = o + ((j * 37) % 11) - 5 + (j % 3 === 0 ? 3.5 : 0);
      const h = Math.max(o, c) + 4.2;
      const l = Math.min(o, c) - 2.7;
      const t = csvStart + j * 60_000;
      const f = (x: number) => x.toFixed(1);
      // µs timestamps, as in the 2025+ files.
      rows.push(
        `${t}000,${f(o)},${f(h)},${f(l)},${f(c)},12.345,${t + 59_999}999,617250.5,321,6.1,305000.2,0`,
      );
      expect.push({ o: f(o), h: f(h), l: f(l), c: f(c), v: '12.345' });
      p = c;
    }
    const path = join(dir, 'BTCUSDT-1m-2024-01.csv');
    writeFileSync(
      path,
      `open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n${rows.join('\n')}\n`,
    );
    const clock = new ExchangeClock({ virtual: true, start });
    const m = createMarket({
      clock,
      symbols: 5,
      seed: 3,
      historyMinutes: history,
      replay: new Map([['BTCUSDT', path]]),
    });
    const histStart = Math.floor(start / 60_000) * 60_000 - history * 60_000;
    go(clock, m, 20 * 60_000);
    const bars = m.klines('BTCUSDT', '1m', { startTime: histStart, limit: 1500 });
    assert.equal(bars[0][0], histStart);
    // Minutes 0..79 are closed and replayed; the first ones from the backfill also keep the volume.
    for (let j = 0; j < 80; j++) {
      const k = bars[j];
      const e = expect[j];
      const fix = (s: string) => Decimal.parse(s).toFixed(2);
      assert.deepEqual([k[1], k[2], k[3], k[4]], [fix(e.o), fix(e.h), fix(e.l), fix(e.c)], `minute ${j}`);
      if (j < 50) {
        assert.equal(k[5], e.v);
        assert.equal(k[8], 321);
      }
    }
    // Past the end of the file: random from the last close.
    go(clock, m, 30 * 60_000);
    const after = m.klines('BTCUSDT', '1m', { startTime: histStart + 90 * 60_000, limit: 5 });
    assert.equal(after.length, 5);
    assert.ok(Math.abs(Number(after[0][1]) / Number(expect[89].c) - 1) < 0.01);
    assert.notEqual(after[2][4], after[3][4]);

    // Malformed files are refused.
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, '1704067200000,1,1,1,1,1,1704067499999,1,1,1,1,0\n');
    assert.throws(
      () => createMarket({ clock, symbols: 5, replay: new Map([['BTCUSDT', bad]]) }),
      /1m klines/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown symbols and bad options throw plain errors; the universe is exposed', () => {
  const { m } = mk();
  assert.throws(() => m.lastPrice('NOPEUSDT'), /unknown symbol/);
  assert.throws(() => m.setPrice('NOPEUSDT', '1'), /unknown symbol/);
  assert.equal(m.spec('NOPEUSDT'), undefined);
  assert.equal(m.spec('BTCUSDT')!.tickSize, '0.10');
  assert.equal(m.specs().length, 12);
  const info = m.exchangeInfo() as { symbols: { symbol: string }[]; serverTime: number };
  assert.equal(info.symbols.length, 12);
  assert.equal(info.serverTime, m.clock.now());
  const clock = new ExchangeClock({ virtual: true });
  assert.throws(() => createMarket({ clock, stepMs: 7 }), /stepMs/);
});

test('a listener that throws does not break the step; the error surfaces afterwards', () => {
  const { clock, m } = mk();
  let seen = 0;
  m.onTick(() => {
    seen++;
    throw new Error('boom');
  });
  clock.advance(500);
  assert.throws(() => m.advanceTo(clock.now()), /boom/);
  assert.equal(seen, 2 * 12);
  assert.equal(m.klines('BTCUSDT', '1m', { limit: 1 })[0][4], m.lastPrice('BTCUSDT'));
});

test('history for every interval: 1500 bars up to 1d, synthesised deterministically before the kept minutes', () => {
  const { clock, m } = mk();
  const { m: twin } = mk();
  for (const iv of ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d'] as const) {
    const rows = m.klines('ETHUSDT', iv, { limit: 1500 });
    assert.equal(rows.length, 1500, iv);
    assert.equal(m.klines('ETHUSDT', iv, { limit: 45 }).length, 45, iv);
    for (let j = 1; j < rows.length; j++) assert.equal(rows[j][0], nextOpen(iv, rows[j - 1][0]), iv);
    for (const r of rows) {
      assert.ok(
        Number(r[2]) >= Math.max(Number(r[1]), Number(r[4])) &&
          Number(r[3]) <= Math.min(Number(r[1]), Number(r[4])),
      );
      assert.ok(mult(r[1], m.spec('ETHUSDT')!.tickSize) && DEC.test(r[5]) && DEC.test(r[7]));
    }
    assert.deepEqual(twin.klines('ETHUSDT', iv, { limit: 1500 }), rows, `${iv}: same seed, same bars`);
  }
  // Paging back further still answers (down to the listing or 1500 days back).
  const old = m.klines('ETHUSDT', '1d', { endTime: START - 100 * 86_400_000, limit: 1500 });
  assert.equal(old.length, 1500);
  // A synthetic bar does not change as time passes.
  const before = m.klines('ETHUSDT', '1h', { endTime: START - 3 * 86_400_000, limit: 3 });
  go(clock, m, 3 * 3_600_000);
  assert.deepEqual(m.klines('ETHUSDT', '1h', { endTime: START - 3 * 86_400_000, limit: 3 }), before);
  assert.equal(m.fundingHistory('ETHUSDT', { limit: 1000 }).length, 1000);
});
