// A trader that starts while the market already moves: nothing is decided before bans and
// positions are known; stale bars open nothing; an order rounded above a cap is not sent.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../../core/log.ts';
import { type RunningTrader, type Strategy, startTrader, type TraderOptions } from '../../trader/index.ts';
import { type Fixture, simOrders, simPosition, startFixture, TOKENS, waitFor } from './support.ts';

const silent = createLogger('test', 'silent');
let fx: Fixture;

before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx?.close();
});

const ban = (symbol: string, active: boolean) =>
  fx.admin.publish(
    'risk.ban',
    [
      {
        key: symbol,
        ts: Date.now(),
        data: { symbol, active, reason: 'test', window: 'manual', pnl: '0', until: 0 },
      },
    ],
    { ack: true },
  );

function trader(name: string, symbols: string[], over: Partial<TraderOptions> = {}): Promise<RunningTrader> {
  return startTrader({
    name,
    aggregator: { url: fx.agg.url, token: TOKENS.trader },
    mode: 'direct',
    rest: fx.rest,
    api: fx.api,
    strategy: 'demo',
    strategyParams: { openPct: 1, closePct: -0.5, quoteSize: 100 },
    symbols,
    reconcileMs: 0,
    now: () => fx.sim.clock.now(),
    logger: silent,
    ...over,
  });
}

/** The symbols' market already shows a +1.5 % minute when the trader starts. */
async function risen(symbols: string[]): Promise<void> {
  await fx.collector.market(symbols);
  await fx.collector.account(symbols);
  for (const s of symbols) await fx.collector.jump(s, 1.5);
  await fx.collector.market(symbols, { window: false });
}

test('a trader started under ALL sends nothing: bans are known before the first evaluation', async () => {
  const S = ['SOLUSDT'];
  await ban('ALL', true);
  try {
    await risen(S);
    const orders0 = await simOrders(fx.sim);
    const t = await trader('start1', S);
    try {
      await waitFor(() => (t.risk.refusals.get('banned-all') ?? 0) > 0, 'the banned-all refusal');
      assert.ok(t.status().ready);
      assert.equal(await simOrders(fx.sim), orders0);
      assert.equal(await simPosition(fx.sim, 'SOLUSDT'), 0);
    } finally {
      await t.close();
    }
  } finally {
    await ban('ALL', false);
  }
});

test('a trader started beside a held position does not double it: positions are known first', async () => {
  const S = ['BNBUSDT'];
  await fx.api.newOrder({ symbol: 'BNBUSDT', side: 'BUY', type: 'MARKET', quantity: '0.2' });
  const held = await simPosition(fx.sim, 'BNBUSDT');
  assert.ok(held > 0);
  await risen(S);
  const orders0 = await simOrders(fx.sim);
  const t = await trader('start2', S);
  try {
    await waitFor(() => t.status().ready && t.status().evaluations > 0, 'the first evaluation');
    assert.equal(t.view.position('BNBUSDT').amt, held);
    assert.equal(t.status().sent, 0);
    assert.equal(await simOrders(fx.sim), orders0);
    assert.equal(await simPosition(fx.sim, 'BNBUSDT'), held);
  } finally {
    await t.close();
  }
});

test('nothing opens on stale bars (the book is fresh)', async () => {
  const S = ['XRPUSDT'];
  await risen(S);
  const orders0 = await simOrders(fx.sim);
  // The trader's clock is 100 s ahead of the data: bars 100 s old (> 90 s), book within 200 s.
  const t = await trader('stale1', S, {
    now: () => fx.sim.clock.now() + 100_000,
    limits: { maxBarsAgeMs: 90_000, maxBookAgeMs: 200_000 },
  });
  try {
    await waitFor(() => (t.risk.refusals.get('stale-bars') ?? 0) > 0, 'a stale-bars refusal');
    assert.equal(t.risk.refusals.get('stale-book'), undefined);
    assert.equal(await simOrders(fx.sim), orders0);
  } finally {
    await t.close();
  }
});

test('direct mode: an order rounded above the cap is not sent', async () => {
  // SOLUSDT: step 1 at ~185: 100 USDT is 0.54 SOL, rounded to 1 SOL ≈ 185 USDT > 150.
  const S = ['SOLUSDT'];
  await fx.collector.market(S);
  let emitted = 0;
  const once: Strategy = {
    name: 'once',
    evaluate(symbol, view, emit) {
      const b = view.book.get(symbol);
      if (!b || emitted > 0 || !(b.bid > 0)) return 0;
      emitted++;
      emit({
        symbol,
        action: 'open',
        side: 'BUY',
        size: { quote: '100' },
        style: { kind: 'taker' },
        key: 'once',
        refPrice: (b.bid + b.ask) / 2,
      });
      return 1;
    },
  };
  const orders0 = await simOrders(fx.sim);
  const t = await trader('round1', S, { strategy: once, limits: { maxOrderNotional: 150 } });
  try {
    await waitFor(() => (t.risk.refusals.get('order-notional') ?? 0) > 0, 'the order-notional refusal');
    assert.equal(t.status().sent, 0);
    assert.equal(await simOrders(fx.sim), orders0);
  } finally {
    await t.close();
  }
});
