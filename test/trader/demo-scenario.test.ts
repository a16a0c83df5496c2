// The demo strategy on scripted simulator scenarios: the trader (direct mode) reads the book from
// the aggregator, which a small collector feeds from the simulator's REST data.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../../core/log.ts';
import { DEFAULT_ACCOUNT } from '../../sim/index.ts';
import { type RunningTrader, startTrader } from '../../trader/index.ts';
import { type Fixture, simCall, simOrders, simPosition, startFixture, TOKENS, waitFor } from './support.ts';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT'];
let fx: Fixture;
let trader: RunningTrader;

before(async () => {
  fx = await startFixture();
  await fx.collector.market(SYMBOLS);
  await fx.collector.account(SYMBOLS);
  trader = await startTrader({
    name: 'demo1',
    aggregator: { url: fx.agg.url, token: TOKENS.trader },
    mode: 'direct',
    rest: fx.rest,
    api: fx.api,
    userStreamWs: fx.sim.wsUrl,
    strategy: 'demo',
    strategyParams: { openPct: 1, closePct: -0.5, quoteSize: 100 },
    symbols: SYMBOLS,
    limits: { maxBookAgeMs: 5000, maxBarsAgeMs: 90_000 },
    reconcileMs: 0,
    now: () => fx.sim.clock.now(),
    logger: createLogger('trader', 'silent'),
  });
  await waitFor(() => SYMBOLS.every((s) => (trader.book.get(s)?.depth() ?? 0) >= 45), 'the book filled');
});

after(async () => {
  await trader?.close();
  await fx?.close();
});

test('a +1.5 % move opens a long; a -0.8 % move closes it; one order each', async () => {
  const orders0 = await simOrders(fx.sim);
  await fx.collector.jump('BTCUSDT', 1.5);
  await fx.collector.market(['BTCUSDT'], { window: false });
  const qty = await waitFor(async () => {
    const p = await simPosition(fx.sim, 'BTCUSDT');
    return p > 0 ? p : undefined;
  }, 'a long BTCUSDT position');
  assert.ok(qty > 0);
  assert.equal((await simOrders(fx.sim)) - orders0, 1);
  const open = trader.orders().find((o) => o.symbol === 'BTCUSDT')!;
  await waitFor(() => open.state === 'filled', 'the open order filled');
  // More updates in the same minute: the decision is not repeated.
  await fx.collector.market(['BTCUSDT'], { window: false });
  await fx.collector.account(SYMBOLS);
  await waitFor(() => trader.view.position('BTCUSDT').amt > 0, 'the position reached the trader');
  assert.equal((await simOrders(fx.sim)) - orders0, 1);

  // The next minute starts; then the price falls 0.8 % within it.
  await simCall(fx.sim, 'POST', '/sim/clock', { advanceMs: 60_000 });
  await fx.collector.market(['BTCUSDT'], { window: false });
  await fx.collector.jump('BTCUSDT', -0.8);
  await fx.collector.market(['BTCUSDT'], { window: false });
  await waitFor(async () => (await simPosition(fx.sim, 'BTCUSDT')) === 0 || undefined, 'the long closed');
  assert.equal((await simOrders(fx.sim)) - orders0, 2);
  const close = trader.orders().find((o) => o.symbol === 'BTCUSDT' && o.reduceOnly)!;
  assert.equal(close.side, 'SELL');
  await waitFor(() => close.state === 'filled', 'the close order filled');
  const status = trader.status();
  assert.equal(status.sent, 2);
  assert.ok(status.decisionMs.n >= 2);
});

test('nothing opens on stale data (book older than its limit)', async () => {
  const orders0 = await simOrders(fx.sim);
  // ETHUSDT's book as the trader knows it is 60 s old (a reader stopped).
  await fx.collector.market(['ETHUSDT'], { bookTime: fx.sim.clock.now() - 60_000 });
  await fx.collector.jump('ETHUSDT', 1.5);
  const before = trader.risk.refusals.get('stale-book') ?? 0;
  await fx.collector.market(['ETHUSDT'], { window: false, book: false });
  await waitFor(() => (trader.risk.refusals.get('stale-book') ?? 0) > before, 'a stale-book refusal');
  assert.equal(await simPosition(fx.sim, 'ETHUSDT'), 0);
  assert.equal((await simOrders(fx.sim)) - orders0, 0);
});

test('nothing opens on a banned symbol, nor under ALL', async () => {
  const orders0 = await simOrders(fx.sim);
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
  await ban('BNBUSDT', true);
  await waitFor(() => trader.view.banned('BNBUSDT'), 'the ban reached the trader');
  await fx.collector.jump('BNBUSDT', 1.5);
  await fx.collector.market(['BNBUSDT'], { window: false });
  await waitFor(() => (trader.risk.refusals.get('banned') ?? 0) > 0, 'a banned refusal');

  await ban('ALL', true);
  await waitFor(() => trader.view.banned('ALL'), 'ALL reached the trader');
  await fx.collector.jump('SOLUSDT', 1.5);
  await fx.collector.market(['SOLUSDT'], { window: false });
  await waitFor(() => (trader.risk.refusals.get('banned-all') ?? 0) > 0, 'a banned-all refusal');
  assert.equal(await simPosition(fx.sim, 'BNBUSDT'), 0);
  assert.equal(await simPosition(fx.sim, 'SOLUSDT'), 0);
  assert.equal((await simOrders(fx.sim)) - orders0, 0);
  assert.ok(DEFAULT_ACCOUNT.apiKey);
});
