import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Decimal } from '../../core/decimal.ts';
import { decimalsOf, fmtUnits, SymbolUnits } from './units.ts';
import { buildUniverse, exchangeInfo } from './universe.ts';

const DEC = /^\d+(\.\d+)?$/;

function isPow10(text: string): boolean {
  return /^(1|0\.0*1|10*)$/.test(Decimal.parse(text).toString());
}

test('universe: majors first, unique names, deterministic, 400+ symbols', () => {
  const u = buildUniverse(450);
  assert.equal(u.length, 450);
  assert.deepEqual(
    u.slice(0, 5).map((s) => s.symbol),
    ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT'],
  );
  assert.equal(new Set(u.map((s) => s.symbol)).size, 450);
  assert.deepEqual(buildUniverse(450), u);
  assert.deepEqual(buildUniverse(10), u.slice(0, 10));
  for (const s of u) assert.match(s.symbol, /^[0-9A-Z]+USDT$/);
  const prices = u.map((s) => Number(s.initialPrice));
  assert.ok(Math.min(...prices) < 0.0001, 'a sub-0.0001 symbol');
  assert.ok(Math.max(...prices) > 50_000, 'a 50000+ symbol');
});

test('universe: every spec is self-consistent on the tick and step grids', () => {
  for (const s of buildUniverse(450)) {
    for (const k of [
      'tickSize',
      'minPrice',
      'maxPrice',
      'stepSize',
      'minQty',
      'maxQty',
      'marketMaxQty',
      'minNotional',
    ] as const) {
      assert.match(s[k], DEC, `${s.symbol} ${k}`);
    }
    const tick = Decimal.parse(s.tickSize);
    const step = Decimal.parse(s.stepSize);
    assert.ok(tick.isPositive() && step.isPositive());
    assert.ok(Decimal.parse(s.minPrice).isMultipleOf(tick), `${s.symbol} minPrice`);
    assert.ok(Decimal.parse(s.maxPrice).isMultipleOf(tick), `${s.symbol} maxPrice`);
    assert.ok(Decimal.parse(s.initialPrice).isMultipleOf(tick), `${s.symbol} initialPrice`);
    assert.ok(Decimal.parse(s.initialPrice).gt(Decimal.parse(s.minPrice).mul(10)), `${s.symbol} band low`);
    assert.ok(Decimal.parse(s.initialPrice).mul(10).lt(s.maxPrice), `${s.symbol} band high`);
    assert.ok(Decimal.parse(s.minQty).isMultipleOf(step), `${s.symbol} minQty`);
    assert.ok(Decimal.parse(s.maxQty).isMultipleOf(step), `${s.symbol} maxQty`);
    assert.ok(Decimal.parse(s.marketMaxQty).isMultipleOf(step), `${s.symbol} marketMaxQty`);
    assert.ok(Decimal.parse(s.marketMaxQty).lte(s.maxQty));
    assert.ok(s.pricePrecision >= decimalsOf(s.tickSize) || s.symbol === 'BTCUSDT');
    assert.ok(s.quantityPrecision >= step.decimalPlaces());
    // Enough ticks in the price for a book with 1-3 tick spreads.
    assert.ok(Decimal.parse(s.initialPrice).div(tick, 0).gte(1000), `${s.symbol} price in ticks`);
    assert.ok(
      Decimal.parse(s.maxPrice)
        .div(tick, 0)
        .lt(2 ** 31),
      `${s.symbol} maxPrice in ticks`,
    );
    assert.ok(s.beta >= 0.5 && s.beta <= 1.5, `${s.symbol} beta`);
    assert.ok(s.vol > 0 && s.vol < 0.01, `${s.symbol} vol`);
    assert.equal(s.multiplierDecimal, '4');
    assert.equal(s.maxNumOrders, 200);
  }
});

test('universe: non-power-of-ten ticks and steps exist, some among the first ten', () => {
  const u = buildUniverse(400);
  const ticks = u.filter((s) => !isPow10(s.tickSize));
  const steps = u.filter((s) => !isPow10(s.stepSize));
  assert.ok(ticks.length >= 5, `non-pow10 ticks: ${ticks.length}`);
  assert.ok(steps.length >= 5, `non-pow10 steps: ${steps.length}`);
  const first10 = u.slice(0, 10);
  assert.ok(first10.some((s) => !isPow10(s.tickSize)));
  assert.ok(first10.some((s) => !isPow10(s.stepSize)));
  const tickSet = new Set(u.map((s) => s.tickSize));
  for (const t of ['0.5', '0.25', '5', '0.0005']) assert.ok(tickSet.has(t), `tick ${t}`);
  const stepSet = new Set(u.map((s) => s.stepSize));
  for (const t of ['5', '0.5']) assert.ok(stepSet.has(t), `step ${t}`);
  assert.ok(u.filter((s) => s.minNotional === '5').length > u.length * 0.9);
});

test('exchangeInfo: top level and the BTCUSDT row as Binance serves them', () => {
  const specs = buildUniverse(20);
  const info = exchangeInfo(specs, 1767225600123) as Record<string, unknown>;
  assert.deepEqual(Object.keys(info), [
    'timezone',
    'serverTime',
    'futuresType',
    'rateLimits',
    'exchangeFilters',
    'assets',
    'symbols',
  ]);
  assert.equal(info.timezone, 'UTC');
  assert.equal(info.serverTime, 1767225600123);
  assert.equal(info.futuresType, 'U_MARGINED');
  assert.deepEqual(info.rateLimits, [
    { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 2400 },
    { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: 1200 },
    { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 300 },
  ]);
  assert.deepEqual(info.exchangeFilters, []);
  const assets = info.assets as Record<string, unknown>[];
  assert.deepEqual(assets[0], { asset: 'USDT', marginAvailable: true, autoAssetExchange: '-10000' });
  const rows = info.symbols as Record<string, unknown>[];
  assert.equal(rows.length, 20);
  const btc = rows[0];
  assert.deepEqual(btc, {
    symbol: 'BTCUSDT',
    pair: 'BTCUSDT',
    contractType: 'PERPETUAL',
    deliveryDate: 4133404800000,
    onboardDate: 1569398400000,
    status: 'TRADING',
    maintMarginPercent: '2.5000',
    requiredMarginPercent: '5.0000',
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    marginAsset: 'USDT',
    pricePrecision: 2,
    quantityPrecision: 3,
    baseAssetPrecision: 8,
    quotePrecision: 8,
    underlyingType: 'COIN',
    underlyingSubType: ['PoW'],
    triggerProtect: '0.0500',
    liquidationFee: '0.012500',
    marketTakeBound: '0.05',
    maxMoveOrderLimit: 10000,
    filters: [
      { tickSize: '0.10', maxPrice: '4529764', minPrice: '556.80', filterType: 'PRICE_FILTER' },
      { maxQty: '1000', filterType: 'LOT_SIZE', minQty: '0.001', stepSize: '0.001' },
      { filterType: 'MARKET_LOT_SIZE', minQty: '0.001', maxQty: '120', stepSize: '0.001' },
      { filterType: 'MAX_NUM_ORDERS', limit: 200 },
      { filterType: 'MIN_NOTIONAL', notional: '100' },
      {
        filterType: 'PERCENT_PRICE',
        multiplierUp: '1.0500',
        multiplierDown: '0.9500',
        multiplierDecimal: '4',
      },
      { filterType: 'POSITION_RISK_CONTROL', positionControlSide: 'NONE' },
    ],
    orderTypes: [
      'LIMIT',
      'MARKET',
      'STOP',
      'STOP_MARKET',
      'TAKE_PROFIT',
      'TAKE_PROFIT_MARKET',
      'TRAILING_STOP_MARKET',
    ],
    timeInForce: ['GTC', 'IOC', 'FOK', 'GTX', 'GTD'],
    permissionSets: ['GRID', 'COPY', 'RPI', 'DCA', 'PSB'],
  });
  // Every row has the same keys in the same order, and the filter types in the same order.
  const keys = Object.keys(btc).join();
  for (const r of rows) {
    assert.equal(Object.keys(r).join(), keys);
    const filters = r.filters as Record<string, unknown>[];
    assert.deepEqual(
      filters.map((f) => f.filterType),
      [
        'PRICE_FILTER',
        'LOT_SIZE',
        'MARKET_LOT_SIZE',
        'MAX_NUM_ORDERS',
        'MIN_NOTIONAL',
        'PERCENT_PRICE',
        'POSITION_RISK_CONTROL',
      ],
    );
    assert.equal(typeof filters[5].multiplierDecimal, 'string');
  }
  const eth = rows[1].filters as Record<string, unknown>[];
  assert.equal(eth[0].tickSize, '0.01');
  assert.equal(eth[1].stepSize, '0.001');
  assert.equal(eth[4].notional, '20');
});

test('units: integer ticks and steps format exactly', () => {
  assert.equal(fmtUnits(9700010, 2, 2), '97000.10');
  assert.equal(fmtUnits(5, 0, 3), '5.000');
  assert.equal(fmtUnits(5, 3, 3), '0.005');
  assert.equal(fmtUnits(-5, 3, 4), '-0.0050');
  assert.equal(fmtUnits(0, 2, 2), '0.00');
  assert.equal(fmtUnits(12345678901234567890n, 8, 8), '123456789012.34567890');
  const btc = new SymbolUnits('0.10', '0.001', 2, 3);
  assert.equal(btc.price(970001), '97000.10');
  assert.equal(btc.qty(1), '0.001');
  assert.equal(btc.quote(970001 * 3), '291.00030');
  const odd = new SymbolUnits('0.25', '5', 2, 0);
  assert.equal(odd.price(3), '0.75');
  assert.equal(odd.qty(3), '15');
  assert.equal(odd.quote(3 * 3), '11.25'); // 0.75 * 15
  const tiny = new SymbolUnits('0.000000001', '1', 9, 0);
  assert.equal(tiny.price(48500), '0.000048500');
  assert.equal(tiny.priceDp(48500, 8), '0.000048500');
  // Quote amounts beyond 2^53 go through bigint.
  assert.equal(btc.quote(2 ** 60), fmtUnits(BigInt(2 ** 60), 4, 5));
});
