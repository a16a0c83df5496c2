import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness, limit, manySpecs, market, T0 } from './testkit.ts';

type Obj = Record<string, unknown>;

const TOTALS = [
  'totalInitialMargin',
  'totalMaintMargin',
  'totalWalletBalance',
  'totalUnrealizedProfit',
  'totalMarginBalance',
  'totalPositionInitialMargin',
  'totalOpenOrderInitialMargin',
  'totalCrossWalletBalance',
  'totalCrossUnPnl',
  'availableBalance',
  'maxWithdrawAmount',
];
const ASSET = [
  'asset',
  'walletBalance',
  'unrealizedProfit',
  'marginBalance',
  'maintMargin',
  'initialMargin',
  'positionInitialMargin',
  'openOrderInitialMargin',
  'crossWalletBalance',
  'crossUnPnl',
  'availableBalance',
  'maxWithdrawAmount',
];

describe('account endpoints', () => {
  test('GET /fapi/v2/account: flags, totals, assets, positions for all symbols', () => {
    const h = harness();
    h.market.set('BTCUSDT', '60000', { ask: '60000' });
    h.call('newOrder', market('BUY', '0.1'));
    h.market.set('BTCUSDT', '61000');
    const a = h.call('accountV2');
    assert.deepEqual(Object.keys(a), [
      'feeTier',
      'feeBurn',
      'canTrade',
      'canDeposit',
      'canWithdraw',
      'updateTime',
      'multiAssetsMargin',
      'tradeGroupId',
      ...TOTALS,
      'assets',
      'positions',
    ]);
    assert.equal(a.totalWalletBalance, '9997.00000000');
    assert.equal(a.totalUnrealizedProfit, '100.00000000');
    assert.equal(a.totalMarginBalance, '10097.00000000');
    assert.equal(a.totalPositionInitialMargin, '305.00000000');
    // available = wallet + upnl − initial margin
    assert.equal(a.availableBalance, '9792.00000000');
    assert.equal(a.maxWithdrawAmount, '9692.00000000');
    const assets = a.assets as Obj[];
    assert.deepEqual(Object.keys(assets[0]), [...ASSET, 'marginAvailable', 'updateTime']);
    const positions = a.positions as Obj[];
    assert.equal(positions.length, 3);
    assert.deepEqual(Object.keys(positions[0]), [
      'symbol',
      'initialMargin',
      'maintMargin',
      'unrealizedProfit',
      'positionInitialMargin',
      'openOrderInitialMargin',
      'leverage',
      'isolated',
      'entryPrice',
      'breakEvenPrice',
      'maxNotional',
      'bidNotional',
      'askNotional',
      'positionSide',
      'positionAmt',
      'updateTime',
    ]);
    const btc = positions[0];
    assert.equal(btc.symbol, 'BTCUSDT');
    assert.equal(btc.positionAmt, '0.100');
    assert.equal(btc.leverage, '20');
    assert.equal(btc.maxNotional, '100000000');
    assert.equal(btc.entryPrice, '60000');
    assert.equal(btc.updateTime, T0);
    const eth = positions[1];
    assert.equal(eth.positionAmt, '0.000');
    assert.equal(eth.initialMargin, '0');
    assert.equal(eth.unrealizedProfit, '0.00000000');
    assert.equal(eth.updateTime, 0);
  });

  test('open orders carry open-order initial margin; v3 lists symbols with positions or open orders', () => {
    const h = harness();
    h.call('newOrder', {
      symbol: 'ETHUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '1',
      price: '2800',
    });
    const a = h.call('accountV3');
    assert.deepEqual(Object.keys(a), [...TOTALS, 'assets', 'positions']);
    assert.equal(a.totalOpenOrderInitialMargin, '140.00000000');
    assert.equal(a.availableBalance, '9860.00000000');
    const positions = a.positions as Obj[];
    assert.equal(positions.length, 1);
    assert.deepEqual(Object.keys(positions[0]), [
      'symbol',
      'positionSide',
      'positionAmt',
      'unrealizedProfit',
      'isolatedMargin',
      'notional',
      'isolatedWallet',
      'initialMargin',
      'maintMargin',
      'updateTime',
    ]);
    assert.equal(positions[0].symbol, 'ETHUSDT');
    assert.equal(positions[0].initialMargin, '140.00000000');
    assert.deepEqual(Object.keys((a.assets as Obj[])[0]), [...ASSET, 'updateTime']);
    const v2eth = (h.call('accountV2').positions as Obj[])[1];
    assert.equal(v2eth.openOrderInitialMargin, '140.00000000');
    assert.equal(v2eth.bidNotional, '2800');
    // a sell that only closes needs no extra margin: one-way uses the larger side
    h.call('newOrder', {
      symbol: 'ETHUSDT',
      side: 'SELL',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '0.5',
      price: '3100',
    });
    assert.equal(h.call('accountV3').totalOpenOrderInitialMargin, '140.00000000');
  });

  test('balance (v2 and v3 share it)', () => {
    const h = harness();
    const b = h.call<Obj[]>('balance');
    assert.equal(b.length, 1);
    assert.deepEqual(Object.keys(b[0]), [
      'accountAlias',
      'asset',
      'balance',
      'crossWalletBalance',
      'crossUnPnl',
      'availableBalance',
      'maxWithdrawAmount',
      'marginAvailable',
      'updateTime',
    ]);
    assert.match(b[0].accountAlias as string, /^[A-Za-z]{4}$/);
    assert.equal(b[0].balance, '10000.00000000');
    assert.equal(b[0].marginAvailable, true);
  });

  test('positionRisk v2: every symbol, lowercase marginType, string leverage and isAutoAddMargin', () => {
    const h = harness();
    h.call('setLeverage', { symbol: 'ETHUSDT', leverage: '10' });
    h.call('setMarginType', { symbol: 'ETHUSDT', marginType: 'ISOLATED' });
    const rows = h.call<Obj[]>('positionRiskV2');
    assert.equal(rows.length, 3);
    assert.deepEqual(Object.keys(rows[0]), [
      'entryPrice',
      'breakEvenPrice',
      'marginType',
      'isAutoAddMargin',
      'isolatedMargin',
      'leverage',
      'liquidationPrice',
      'markPrice',
      'maxNotionalValue',
      'positionAmt',
      'notional',
      'isolatedWallet',
      'symbol',
      'unRealizedProfit',
      'positionSide',
      'updateTime',
    ]);
    assert.equal(rows[0].marginType, 'cross');
    assert.equal(rows[0].isAutoAddMargin, 'false');
    assert.equal(rows[0].markPrice, '60000.00000000');
    assert.equal(rows[1].marginType, 'isolated');
    assert.equal(rows[1].leverage, '10');
    assert.equal(rows[1].maxNotionalValue, '230000000');
    assert.equal(h.call<Obj[]>('positionRiskV2', { symbol: 'DOGEUSDT' }).length, 1);
    h.fails('positionRiskV2', { symbol: 'NOPE' }, -1121);
  });

  test('positionRisk v3: only symbols with position or open orders, no leverage/marginType', () => {
    const h = harness();
    assert.deepEqual(h.call<Obj[]>('positionRiskV3'), []);
    h.market.set('BTCUSDT', '60000', { ask: '60000' });
    h.call('newOrder', market('BUY', '0.01'));
    h.call('newOrder', limit('SELL', '0.005', '61000'));
    const rows = h.call<Obj[]>('positionRiskV3');
    assert.equal(rows.length, 1);
    assert.deepEqual(Object.keys(rows[0]), [
      'symbol',
      'positionSide',
      'positionAmt',
      'entryPrice',
      'breakEvenPrice',
      'markPrice',
      'unRealizedProfit',
      'liquidationPrice',
      'isolatedMargin',
      'notional',
      'marginAsset',
      'isolatedWallet',
      'initialMargin',
      'maintMargin',
      'positionInitialMargin',
      'openOrderInitialMargin',
      'adl',
      'bidNotional',
      'askNotional',
      'updateTime',
    ]);
    assert.equal(rows[0].notional, '600.00000000');
    assert.equal(rows[0].askNotional, '305');
    assert.equal(rows[0].positionInitialMargin, '30.00000000');
    // maintenance: 600 × 0.004 (first BTC bracket)
    assert.equal(rows[0].maintMargin, '2.40000000');
  });

  test('accountConfig, symbolConfig, multiAssetsMargin, leverageBracket', () => {
    const h = harness();
    assert.deepEqual(h.call('accountConfig'), {
      feeTier: 0,
      canTrade: true,
      canDeposit: true,
      canWithdraw: true,
      dualSidePosition: false,
      updateTime: 0,
      multiAssetsMargin: false,
      tradeGroupId: -1,
    });
    h.call('setLeverage', { symbol: 'BTCUSDT', leverage: '21' });
    assert.deepEqual(h.call<Obj[]>('symbolConfig', { symbol: 'BTCUSDT' }), [
      {
        symbol: 'BTCUSDT',
        marginType: 'CROSSED',
        isAutoAddMargin: false,
        leverage: 21,
        maxNotionalValue: '70000000',
      },
    ]);
    assert.equal(h.call<Obj[]>('symbolConfig').length, 3);
    assert.deepEqual(h.call('multiAssetsMargin'), { multiAssetsMargin: false });
    const one = h.call('leverageBracket', { symbol: 'BTCUSDT' });
    assert.equal(one.symbol, 'BTCUSDT');
    const br = one.brackets as Obj[];
    assert.deepEqual(br[0], {
      bracket: 1,
      initialLeverage: 125,
      notionalCap: 50000,
      notionalFloor: 0,
      maintMarginRatio: 0.004,
      cum: 0,
    });
    assert.equal(br[1].cum, 50);
    assert.equal(br[2].cum, 950);
    assert.equal(h.call<Obj[]>('leverageBracket').length, 3);
  });

  test('250 symbols: v2 account and positionRisk stay fast', () => {
    const h = harness({ specs: manySpecs(250) });
    h.call('newOrder', market('BUY', '0.01'));
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) h.call('accountV2');
    const perCall = (performance.now() - t0) / 20;
    assert.equal((h.call('accountV2').positions as Obj[]).length, 250);
    assert.equal(h.call<Obj[]>('positionRiskV2').length, 250);
    assert.ok(perCall < 50, `accountV2 took ${perCall.toFixed(1)} ms`);
    h.call('setPositionMode', { dualSidePosition: 'true' }, 'key-B');
    assert.equal((h.call('accountV2', {}, 'key-B').positions as Obj[]).length, 500);
  });

  test('stats and reset', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    h.call('newOrder', limit('BUY', '0.01', '59000'));
    h.call('cancelAllOpen', { symbol: 'BTCUSDT' });
    h.fails('newOrder', limit('BUY', '0.01', '59000.05'), -4014);
    assert.deepEqual(h.engine.stats()['key-A'], {
      orders: 2,
      cancelled: 1,
      rejected: 1,
      filled: 1,
      positions: { BTCUSDT: '0.010' },
      positionsBySide: { 'BTCUSDT:BOTH': '0.010' },
    });
    h.call('setLeverage', { symbol: 'BTCUSDT', leverage: '5' });
    h.engine.reset();
    assert.deepEqual(h.engine.stats()['key-A'], {
      orders: 0,
      cancelled: 0,
      rejected: 0,
      filled: 0,
      positions: {},
      positionsBySide: {},
    });
    assert.equal(h.call<Obj[]>('balance')[0].balance, '10000.00000000');
    assert.deepEqual(h.call<Obj[]>('income'), []);
    assert.deepEqual(h.call<Obj[]>('allOrders', { symbol: 'BTCUSDT' }), []);
    assert.equal(h.call<Obj[]>('symbolConfig', { symbol: 'BTCUSDT' })[0].leverage, 20);
    // orders resting before the reset do not fill afterwards
    h.market.trade('BTCUSDT', ['50000']);
    assert.deepEqual(h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' }), []);
  });

  test('old history is pruned: trades and income after 90 days', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    h.call('newOrder', market('SELL', '0.01'));
    h.market.clock.advance(91 * 86_400_000);
    h.market.trade('BTCUSDT', ['60000']);
    assert.deepEqual(h.call<Obj[]>('income', { startTime: String(T0) }), []);
    assert.deepEqual(h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT', fromId: '0' }), []);
    assert.deepEqual(h.call<Obj[]>('allOrders', { symbol: 'BTCUSDT', orderId: '0' }), []);
  });

  test('accounts: hasAccount, secretOf, addAccount, unknown key → -2015', () => {
    const h = harness();
    assert.equal(h.engine.hasAccount('key-A'), true);
    assert.equal(h.engine.secretOf('key-A'), 'secret-A');
    assert.equal(h.engine.hasAccount('key-C'), false);
    const e = h.fails('balance', {}, -2015, 'key-C');
    assert.equal(e.status, 401);
    h.engine.addAccount({ apiKey: 'key-C', apiSecret: 'secret-C', balance: '500' });
    assert.equal(h.call<Obj[]>('balance', {}, 'key-C')[0].balance, '500.00000000');
    h.engine.addAccount({ apiKey: 'key-C', apiSecret: 'secret-C2', balance: '700' });
    assert.equal(h.engine.secretOf('key-C'), 'secret-C2');
    h.engine.reset();
    assert.equal(h.call<Obj[]>('balance', {}, 'key-C')[0].balance, '700.00000000');
  });
});
