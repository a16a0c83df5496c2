// SymbolRules / RulesBook: exact rounding on awkward ticks and steps, scientific notation, and
// every pre-check code.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Decimal } from '../decimal.ts';
import { type CheckResult, RulesBook, SymbolRules } from './filters.ts';
import { ExchangeInfoSchema, type ExchangeSymbol } from './schemas.ts';

interface RowOpts {
  symbol?: string;
  tick?: string;
  minPrice?: string;
  maxPrice?: string;
  step?: string;
  minQty?: string;
  maxQty?: string;
  marketStep?: string;
  marketMinQty?: string;
  marketMaxQty?: string;
  notional?: string;
  up?: string;
  down?: string;
  pp?: number;
  qp?: number;
  omit?: string[];
}

/** An exchangeInfo symbol row as Binance sends it (filters as raw JSON), parsed by the schema. */
function row(o: RowOpts = {}): ExchangeSymbol {
  const filters: Record<string, unknown>[] = [
    {
      tickSize: o.tick ?? '0.10',
      maxPrice: o.maxPrice ?? '4529764',
      minPrice: o.minPrice ?? '556.80',
      filterType: 'PRICE_FILTER',
    },
    {
      maxQty: o.maxQty ?? '1000',
      filterType: 'LOT_SIZE',
      minQty: o.minQty ?? '0.001',
      stepSize: o.step ?? '0.001',
    },
    {
      filterType: 'MARKET_LOT_SIZE',
      minQty: o.marketMinQty ?? o.minQty ?? '0.001',
      maxQty: o.marketMaxQty ?? '120',
      stepSize: o.marketStep ?? o.step ?? '0.001',
    },
    { filterType: 'MAX_NUM_ORDERS', limit: 200 },
    { filterType: 'MIN_NOTIONAL', notional: o.notional ?? '100' },
    {
      filterType: 'PERCENT_PRICE',
      multiplierUp: o.up ?? '1.0500',
      multiplierDown: o.down ?? '0.9500',
      multiplierDecimal: '4',
    },
    { filterType: 'POSITION_RISK_CONTROL', positionControlSide: 'NONE' },
  ].filter((f) => !(o.omit ?? []).includes(f.filterType as string));
  const info = ExchangeInfoSchema.parse({
    timezone: 'UTC',
    serverTime: 1,
    rateLimits: [],
    symbols: [
      {
        symbol: o.symbol ?? 'BTCUSDT',
        pair: o.symbol ?? 'BTCUSDT',
        contractType: 'PERPETUAL',
        status: 'TRADING',
        baseAsset: 'BTC',
        quoteAsset: 'USDT',
        marginAsset: 'USDT',
        pricePrecision: o.pp ?? 2,
        quantityPrecision: o.qp ?? 3,
        filters,
        permissionSets: ['GRID'],
      },
    ],
  });
  return info.symbols[0];
}

const rules = (o: RowOpts = {}) => new SymbolRules(row(o));
const BTC = rules();
/** TRXUSDT in the simulator: tick 0.00005 anchored at 0.0029, step 5. */
const TRX = rules({
  tick: '0.00005',
  minPrice: '0.00290',
  maxPrice: '11.6',
  step: '5',
  minQty: '5',
  maxQty: '100000000',
  marketMaxQty: '10000000',
  notional: '5',
  pp: 5,
  qp: 0,
});

const s = (d: Decimal) => d.toString();

function code(r: CheckResult): number | 'ok' {
  return r.ok ? 'ok' : r.code;
}

describe('SymbolRules from an exchangeInfo row', () => {
  test('reads every filter and ignores unknown ones', () => {
    assert.equal(s(BTC.tickSize), '0.1');
    assert.equal(s(BTC.minPrice), '556.8');
    assert.equal(s(BTC.maxPrice), '4529764');
    assert.equal(s(BTC.stepSize), '0.001');
    assert.equal(s(BTC.minQty), '0.001');
    assert.equal(s(BTC.maxQty), '1000');
    assert.equal(s(BTC.marketMaxQty), '120');
    assert.equal(s(BTC.minNotional), '100');
    assert.equal(s(BTC.multiplierUp), '1.05');
    assert.equal(s(BTC.multiplierDown), '0.95');
    assert.equal(BTC.maxNumOrders, 200);
    assert.equal(BTC.pricePrecision, 2);
    assert.equal(BTC.quantityPrecision, 3);
    assert.equal(BTC.priceFormatDecimals, 2);
    assert.equal(BTC.status, 'TRADING');
  });

  test('absent filters disable their rules; MARKET_LOT_SIZE falls back to LOT_SIZE', () => {
    const r = rules({ omit: ['PERCENT_PRICE', 'MARKET_LOT_SIZE', 'MIN_NOTIONAL', 'MAX_NUM_ORDERS'] });
    assert.ok(r.multiplierUp.isZero() && r.multiplierDown.isZero() && r.minNotional.isZero());
    assert.equal(r.maxNumOrders, 0);
    assert.equal(s(r.marketMaxQty), '1000');
    assert.equal(
      code(
        r.checkOrder({ side: 'BUY', type: 'LIMIT', price: '1000000', quantity: '0.001', markPrice: '100' }),
      ),
      'ok',
    );
  });

  test('filter values in scientific notation', () => {
    const r = rules({
      tick: '1E-7',
      minPrice: '1E-7',
      maxPrice: '2E+2',
      step: '1',
      minQty: '1',
      notional: '5',
      pp: 7,
      qp: 0,
    });
    assert.equal(s(r.tickSize), '0.0000001');
    assert.equal(s(r.maxPrice), '200');
    assert.equal(r.priceFormatDecimals, 7);
    assert.equal(r.formatPrice('2.8E-4'), '0.0002800');
  });

  test('the tick as written sets the formatting decimals, within the allowed precision', () => {
    assert.equal(rules({ tick: '0.0100', minPrice: '0.01', pp: 4 }).priceFormatDecimals, 4);
    assert.equal(rules({ tick: '0.0100', minPrice: '0.01', pp: 2 }).priceFormatDecimals, 2);
    assert.equal(rules({ tick: '5', minPrice: '5', pp: 0 }).priceFormatDecimals, 0);
  });
});

describe('roundPrice', () => {
  const cases: Array<[string, RowOpts, string, string, string, string]> = [
    // name, rules, input, floor, ceil, round
    ['BTC tick 0.10 from 556.80', {}, '65000.17', '65000.1', '65000.2', '65000.2'],
    ['half rounds away from zero', {}, '65000.15', '65000.1', '65000.2', '65000.2'],
    ['on the grid stays', {}, '65000.3', '65000.3', '65000.3', '65000.3'],
    ['tick 0.5', { tick: '0.5', minPrice: '0.5' }, '100.3', '100', '100.5', '100.5'],
    ['tick 0.5 half', { tick: '0.5', minPrice: '0.5' }, '100.75', '100.5', '101', '101'],
    ['tick 0.25', { tick: '0.25', minPrice: '0.25' }, '1.1', '1', '1.25', '1'],
    ['tick 0.25 upper', { tick: '0.25', minPrice: '0.25' }, '1.2', '1', '1.25', '1.25'],
    ['tick 5', { tick: '5', minPrice: '5' }, '6903', '6900', '6905', '6905'],
    ['tick 5 lower', { tick: '5', minPrice: '5' }, '6902', '6900', '6905', '6900'],
    [
      'tick 0.00005 from 0.0029',
      { tick: '0.00005', minPrice: '0.0029' },
      '0.29012',
      '0.2901',
      '0.29015',
      '0.2901',
    ],
    ['tick 0.0025', { tick: '0.0025', minPrice: '0.32' }, '32.0061', '32.005', '32.0075', '32.005'],
    ['grid anchored at minPrice 0.3, tick 0.5', { tick: '0.5', minPrice: '0.3' }, '1', '0.8', '1.3', '0.8'],
    [
      'scientific input',
      { tick: '0.0000001', minPrice: '0.0000001' },
      '2.80056E-4',
      '0.00028',
      '0.0002801',
      '0.0002801',
    ],
    [
      'scientific input on the grid',
      { tick: '0.00000001', minPrice: '0.00000001' },
      '2.8E-4',
      '0.00028',
      '0.00028',
      '0.00028',
    ],
    ['tick 0 disables', { tick: '0', minPrice: '0' }, '1.23456789', '1.23456789', '1.23456789', '1.23456789'],
  ];
  for (const [name, o, input, floor, ceil, round] of cases) {
    test(name, () => {
      const r = rules(o);
      assert.equal(s(r.roundPrice(input, 'floor')), floor, 'floor');
      assert.equal(s(r.roundPrice(input, 'ceil')), ceil, 'ceil');
      assert.equal(s(r.roundPrice(input, 'round')), round, 'round');
      assert.equal(s(r.roundPrice(input, 'BUY')), floor, 'BUY is floor');
      assert.equal(s(r.roundPrice(input, 'SELL')), ceil, 'SELL is ceil');
      assert.equal(s(r.roundPrice(Decimal.parse(input), 'BUY')), floor, 'Decimal input');
      for (const p of [floor, ceil, round])
        if (!r.tickSize.isZero())
          assert.ok(Decimal.parse(p).isMultipleOf(r.tickSize, r.minPrice), `${p} on grid`);
    });
  }

  test('rounded prices pass the tick check the simulator/Binance applies', () => {
    const r = rules({ tick: '0.5', minPrice: '0.3', maxPrice: '1000', notional: '0' });
    for (const input of ['0.31', '1', '7.77', '12.3E0', '999.7']) {
      for (const mode of ['floor', 'ceil', 'round'] as const) {
        const p = r.roundPrice(input, mode);
        assert.equal(
          code(r.checkOrder({ side: 'BUY', type: 'LIMIT', price: p, quantity: '1' })),
          'ok',
          `${input} ${mode}`,
        );
      }
    }
  });
});

describe('roundQty', () => {
  const cases: Array<[string, RowOpts, string, string, string, string]> = [
    ['step 0.001', {}, '0.0019', '0.001', '0.002', '0.002'],
    ['step 0.001 exact', {}, '0.002', '0.002', '0.002', '0.002'],
    ['step 5', { step: '5', minQty: '5' }, '12', '10', '15', '10'],
    ['step 5 below min floors to 0', { step: '5', minQty: '5' }, '4', '0', '5', '5'],
    ['step 0.5', { step: '0.5', minQty: '0.5' }, '1.74', '1.5', '2', '1.5'],
    ['step 0.5 scientific', { step: '0.5', minQty: '0.5' }, '1.2E1', '12', '12', '12'],
    ['step 0.5 tiny scientific', { step: '0.5', minQty: '0.5' }, '2.5E-1', '0', '0.5', '0'],
    ['step 0.1 from minQty 0.05', { step: '0.1', minQty: '0.05' }, '0.3', '0.25', '0.35', '0.35'],
    ['step 1', { step: '1', minQty: '1' }, '2.8E-4', '0', '1', '0'],
  ];
  for (const [name, o, input, floor, ceil, round] of cases) {
    test(name, () => {
      const r = rules(o);
      assert.equal(s(r.roundQty(input)), floor, 'default is floor');
      assert.equal(s(r.roundQty(input, 'floor')), floor, 'floor');
      assert.equal(s(r.roundQty(input, 'ceil')), ceil, 'ceil');
      assert.equal(s(r.roundQty(input, 'round')), round, 'round');
    });
  }

  test('MARKET orders round with MARKET_LOT_SIZE', () => {
    const r = rules({ step: '0.001', minQty: '0.001', marketStep: '0.01', marketMinQty: '0.01' });
    assert.equal(s(r.roundQty('0.0567')), '0.056');
    assert.equal(s(r.roundQty('0.0567', 'floor', true)), '0.05');
    assert.equal(r.formatQty('0.05', true), '0.05');
    assert.equal(r.formatQty('0.05'), '0.050');
  });
});

describe('quoteToQty', () => {
  test('floor by default, exact for steps that are not powers of ten', () => {
    assert.equal(s(TRX.quoteToQty('20', '0.29')), '65'); // 68.96… → 65
    assert.equal(s(TRX.quoteToQty('20', '0.29', 'ceil')), '70');
    assert.equal(s(TRX.quoteToQty('10', '0.25')), '40'); // exact multiple
    assert.equal(s(TRX.quoteToQty('10', '0.25', 'ceil')), '40');
    assert.equal(s(BTC.quoteToQty('100', '65000.1')), '0.001');
    assert.equal(s(BTC.quoteToQty('100', '65000.1', 'ceil')), '0.002');
    assert.equal(s(BTC.quoteToQty('100', '65000.1', 'round')), '0.002'); // 0.0015384…
    const half = rules({ step: '0.5', minQty: '0.5' });
    assert.equal(s(half.quoteToQty('10', '2.8E-1')), '35.5'); // 35.714…
    assert.equal(s(half.quoteToQty('0.01', '2.8E-1')), '0'); // below minQty → 0, never negative
  });

  test('the notional never exceeds the amount when flooring', () => {
    for (const [quote, price] of [
      ['20', '0.29005'],
      ['123.45', '0.31'],
      ['5', '0.00295'],
    ]) {
      const q = TRX.quoteToQty(quote, price);
      assert.ok(q.mul(price).lte(quote), `${quote}/${price}`);
      assert.ok(q.add(TRX.stepSize).mul(price).gt(quote), `${quote}/${price} is the largest`);
    }
  });

  test('market flag and a zero price', () => {
    const r = rules({ step: '0.001', minQty: '0.001', marketStep: '0.01', marketMinQty: '0.01' });
    assert.equal(s(r.quoteToQty('100', '1000', 'floor', true)), '0.1');
    assert.equal(s(r.quoteToQty('105', '1000', 'floor', true)), '0.1');
    assert.equal(s(r.quoteToQty('105', '1000')), '0.105');
    assert.throws(() => r.quoteToQty('1', '0'), RangeError);
  });
});

describe('format', () => {
  test("to the tick's/step's decimals, never exponent form, never losing digits", () => {
    assert.equal(BTC.formatPrice('65000'), '65000.00');
    assert.equal(BTC.formatPrice('6.50001E4'), '65000.10');
    assert.equal(BTC.formatQty('1'), '1.000');
    assert.equal(BTC.formatQty('2E-3'), '0.002');
    assert.equal(TRX.formatPrice('0.29'), '0.29000');
    assert.equal(TRX.formatQty('6.5E1'), '65');
    assert.equal(TRX.formatPrice('1E-5'), '0.00001');
    assert.equal(BTC.formatPrice('1.2345'), '1.2345'); // more decimals than the tick: kept
    for (const t of ['1E-8', '2.8E-4', '1.5E3']) assert.doesNotMatch(BTC.formatPrice(t), /e/i);
  });
});

describe('checkOrder', () => {
  const limit = (price: string, quantity: string, extra: object = {}) =>
    BTC.checkOrder({ side: 'BUY', type: 'LIMIT', price, quantity, ...extra });

  test('accepts a valid order and returns the text to send', () => {
    assert.deepEqual(limit('65000.1', '0.002'), { ok: true, price: '65000.10', quantity: '0.002' });
    assert.deepEqual(limit('6.50001E4', '2E-3'), { ok: true, price: '65000.10', quantity: '0.002' });
    assert.deepEqual(BTC.checkOrder({ side: 'SELL', type: 'MARKET', quantity: '0.01', markPrice: '65000' }), {
      ok: true,
      price: undefined,
      quantity: '0.010',
    });
    assert.deepEqual(TRX.checkOrder({ side: 'BUY', type: 'LIMIT', price: '0.29005', quantity: '20' }), {
      ok: true,
      price: '0.29005',
      quantity: '20',
    });
  });

  const cases: Array<[string, CheckResult, number]> = [
    ['-1102 LIMIT without price', BTC.checkOrder({ side: 'BUY', type: 'LIMIT', quantity: '1' }), -1102],
    ['-1102 malformed price', limit('abc', '0.002'), -1102],
    ['-1102 malformed quantity', limit('65000', '1,5'), -1102],
    ['-1111 price decimals', limit('65000.123', '0.002'), -1111],
    ['-1111 before -4013', limit('1.123', '0.002'), -1111],
    ['-1111 quantity decimals', limit('65000', '0.0025'), -1111],
    ['-1111 scientific quantity with too many decimals', limit('65000', '2.5E-4'), -1111],
    ['-4001 negative price', limit('-1', '0.002'), -4001],
    ['-4013 below minPrice', limit('556.7', '1'), -4013],
    ['-4013 zero price', limit('0', '1'), -4013],
    [
      '-4013 zero price without minPrice',
      rules({ minPrice: '0' }).checkOrder({ side: 'BUY', type: 'LIMIT', price: '0', quantity: '1' }),
      -4013,
    ],
    ['-4002 above maxPrice', limit('4529764.1', '0.002'), -4002],
    ['-4014 off the tick', limit('65000.15', '0.002'), -4014],
    [
      '-4014 off a 0.00005 tick',
      TRX.checkOrder({ side: 'BUY', type: 'LIMIT', price: '0.29003', quantity: '100' }),
      -4014,
    ],
    [
      '-4014 tick 0.5 anchored at 0.3',
      rules({ tick: '0.5', minPrice: '0.3' }).checkOrder({
        side: 'BUY',
        type: 'LIMIT',
        price: '1',
        quantity: '1000',
      }),
      -4014,
    ],
    [
      '-4014 before -4023',
      TRX.checkOrder({ side: 'BUY', type: 'LIMIT', price: '0.29003', quantity: '12' }),
      -4014,
    ],
    ['-4003 zero quantity', limit('65000', '0'), -4003],
    ['-4003 negative quantity', limit('65000', '-0.002'), -4003],
    [
      '-4004 below minQty',
      rules({ minQty: '0.01' }).checkOrder({ side: 'BUY', type: 'LIMIT', price: '65000', quantity: '0.005' }),
      -4004,
    ],
    [
      '-4004 MARKET below MARKET_LOT_SIZE minQty',
      rules({ marketMinQty: '0.01', marketStep: '0.001' }).checkOrder({
        side: 'BUY',
        type: 'MARKET',
        quantity: '0.005',
      }),
      -4004,
    ],
    ['-4005 above maxQty', limit('65000', '1000.001'), -4005],
    [
      '-4005 MARKET above MARKET_LOT_SIZE maxQty',
      BTC.checkOrder({ side: 'BUY', type: 'MARKET', quantity: '120.001' }),
      -4005,
    ],
    [
      '-4023 off a step of 5',
      TRX.checkOrder({ side: 'BUY', type: 'LIMIT', price: '0.29', quantity: '12' }),
      -4023,
    ],
    [
      '-4023 step 0.5',
      rules({ step: '0.5', minQty: '0.5', notional: '0' }).checkOrder({
        side: 'SELL',
        type: 'LIMIT',
        price: '60000',
        quantity: '1.2',
      }),
      -4023,
    ],
    [
      '-4023 before -4016',
      TRX.checkOrder({ side: 'BUY', type: 'LIMIT', price: '0.5', quantity: '12', markPrice: '0.29' }),
      -4023,
    ],
    ['-4016 BUY above mark × up', limit('68250.1', '0.002', { markPrice: '65000' }), -4016],
    ['-4016 scientific mark', limit('68250.1', '0.002', { markPrice: '6.5E4' }), -4016],
    ['-4016 before -4164', limit('68250.1', '0.001', { markPrice: '65000' }), -4016],
    [
      '-4024 SELL below mark × down',
      BTC.checkOrder({
        side: 'SELL',
        type: 'LIMIT',
        price: '61749.9',
        quantity: '0.002',
        markPrice: '65000',
      }),
      -4024,
    ],
    ['-4164 LIMIT notional', limit('65000', '0.001'), -4164],
    [
      '-4164 MARKET valued at the mark',
      BTC.checkOrder({ side: 'BUY', type: 'MARKET', quantity: '0.001', markPrice: '65000' }),
      -4164,
    ],
    ['-4164 on TRX', TRX.checkOrder({ side: 'SELL', type: 'LIMIT', price: '0.29', quantity: '15' }), -4164],
  ];
  for (const [name, r, expected] of cases) {
    test(name, () => {
      assert.equal(code(r), expected, JSON.stringify(r));
      if (!r.ok) {
        assert.ok(r.reason.length > 0);
        assert.ok(r.msg.length > 0);
      }
    });
  }

  test('the boundaries themselves pass', () => {
    assert.equal(code(limit('556.8', '1')), 'ok'); // = minPrice
    assert.equal(code(limit('4529764', '0.001')), 'ok'); // = maxPrice
    assert.equal(code(limit('65000', '1000')), 'ok'); // = maxQty
    assert.equal(code(limit('68250', '0.002', { markPrice: '65000' })), 'ok'); // = mark × 1.05
    assert.equal(
      code(
        BTC.checkOrder({
          side: 'SELL',
          type: 'LIMIT',
          price: '61750',
          quantity: '0.002',
          markPrice: '65000',
        }),
      ),
      'ok',
    );
    assert.equal(code(limit('100000', '0.001')), 'ok'); // notional = 100
    assert.equal(code(BTC.checkOrder({ side: 'BUY', type: 'MARKET', quantity: '120' })), 'ok');
  });

  test('-4164 message carries the minimum; reduce-only and closing hedge orders are exempt', () => {
    const r = limit('65000', '0.001');
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.match(r.msg, /no smaller than 100 /);
      assert.match(r.reason, /notional 65 /);
    }
    assert.equal(code(limit('65000', '0.001', { reduceOnly: true })), 'ok');
    assert.equal(code(limit('65000', '0.001', { positionSide: 'SHORT' })), 'ok'); // BUY SHORT closes
    assert.equal(code(limit('65000', '0.001', { positionSide: 'LONG' })), -4164); // BUY LONG opens
    const mkt = { side: 'SELL', type: 'MARKET', quantity: '0.001', markPrice: '65000' } as const;
    assert.equal(code(BTC.checkOrder({ ...mkt, reduceOnly: true })), 'ok');
    assert.equal(code(BTC.checkOrder({ ...mkt, positionSide: 'LONG' })), 'ok');
    // without a mark price a MARKET order's notional is unknown: not checked
    assert.equal(code(BTC.checkOrder({ side: 'SELL', type: 'MARKET', quantity: '0.001' })), 'ok');
  });

  test('PERCENT_PRICE only with a mark price, and not for MARKET', () => {
    assert.equal(code(limit('80000', '0.002')), 'ok');
    assert.equal(
      code(BTC.checkOrder({ side: 'BUY', type: 'MARKET', quantity: '0.002', markPrice: '65000' })),
      'ok',
    );
    assert.throws(() => limit('65000', '0.002', { markPrice: 'x' }), TypeError);
  });
});

describe('prepareOrder', () => {
  test('rounds toward the passive side, floors the quantity, then checks', () => {
    assert.deepEqual(
      BTC.prepareOrder({ side: 'BUY', type: 'LIMIT', price: '65000.17', quantity: '0.00299' }),
      {
        ok: true,
        price: '65000.10',
        quantity: '0.002',
      },
    );
    assert.deepEqual(
      BTC.prepareOrder({ side: 'SELL', type: 'LIMIT', price: '65000.11', quantity: '0.0029' }),
      {
        ok: true,
        price: '65000.20',
        quantity: '0.002',
      },
    );
    assert.deepEqual(
      BTC.prepareOrder({
        side: 'SELL',
        type: 'LIMIT',
        price: '65000.11',
        quantity: '0.0021',
        priceRounding: 'round',
        qtyRounding: 'ceil',
      }),
      { ok: true, price: '65000.10', quantity: '0.003' },
    );
    assert.deepEqual(TRX.prepareOrder({ side: 'BUY', type: 'LIMIT', price: '0.290049', quantity: '69.9' }), {
      ok: true,
      price: '0.29000',
      quantity: '65',
    });
    assert.deepEqual(
      TRX.prepareOrder({ side: 'SELL', type: 'LIMIT', price: '2.90001E-1', quantity: '7E1' }),
      {
        ok: true,
        price: '0.29005',
        quantity: '70',
      },
    );
  });

  test('MARKET: price ignored, quantity on the MARKET_LOT_SIZE grid', () => {
    const r = rules({ marketStep: '0.01', marketMinQty: '0.01' });
    assert.deepEqual(
      r.prepareOrder({ side: 'BUY', type: 'MARKET', price: '1.234', quantity: '0.0567', markPrice: '65000' }),
      {
        ok: true,
        price: undefined,
        quantity: '0.05',
      },
    );
  });

  test('still refuses what rounding cannot fix', () => {
    assert.equal(
      code(BTC.prepareOrder({ side: 'BUY', type: 'LIMIT', price: '65000.17', quantity: '0.0019' })),
      -4164,
    );
    assert.equal(
      code(BTC.prepareOrder({ side: 'BUY', type: 'LIMIT', price: '65000', quantity: '0.0009' })),
      -4003,
    );
    assert.equal(code(BTC.prepareOrder({ side: 'BUY', type: 'LIMIT', price: '100', quantity: '1' })), -4013);
    assert.equal(
      code(
        BTC.prepareOrder({ side: 'BUY', type: 'LIMIT', price: '90000', quantity: '1', markPrice: '65000' }),
      ),
      -4016,
    );
    assert.equal(code(BTC.prepareOrder({ side: 'BUY', type: 'LIMIT', quantity: '1' })), -1102);
    assert.equal(code(BTC.prepareOrder({ side: 'BUY', type: 'LIMIT', price: '1', quantity: 'x' })), -1102);
  });
});

describe('RulesBook', () => {
  const info = ExchangeInfoSchema.parse({
    timezone: 'UTC',
    serverTime: 1,
    rateLimits: [],
    symbols: [
      row(),
      row({ symbol: 'TRXUSDT', tick: '0.00005', minPrice: '0.0029', step: '5', minQty: '5', notional: '5' }),
    ],
  });
  const book = RulesBook.fromExchangeInfo(info);

  test('symbol → rules', () => {
    assert.equal(book.size, 2);
    assert.deepEqual(book.symbols(), ['BTCUSDT', 'TRXUSDT']);
    assert.ok(book.has('TRXUSDT'));
    assert.equal(book.find('NOPE'), undefined);
    assert.equal(s(book.get('TRXUSDT').tickSize), '0.00005');
    assert.throws(() => book.get('NOPEUSDT'), /unknown symbol/);
  });

  test('checks and prepares by symbol; -1121 for an unknown one', () => {
    assert.equal(
      code(book.checkOrder({ symbol: 'NOPEUSDT', side: 'BUY', type: 'MARKET', quantity: '1' })),
      -1121,
    );
    assert.equal(
      code(book.prepareOrder({ symbol: 'NOPEUSDT', side: 'BUY', type: 'MARKET', quantity: '1' })),
      -1121,
    );
    assert.equal(
      code(book.checkOrder({ symbol: 'TRXUSDT', side: 'BUY', type: 'LIMIT', price: '0.29', quantity: '12' })),
      -4023,
    );
    assert.deepEqual(
      book.prepareOrder({ symbol: 'TRXUSDT', side: 'BUY', type: 'LIMIT', price: '0.29', quantity: '24' }),
      {
        ok: true,
        price: '0.29000',
        quantity: '20',
      },
    );
  });

  test('load() from anything serving exchangeInfo', async () => {
    const b = await RulesBook.load({ exchangeInfo: async () => info });
    assert.equal(b.size, 2);
  });
});
