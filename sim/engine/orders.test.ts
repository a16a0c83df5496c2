import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness, KEY2, limit, market, T0 } from './testkit.ts';

type Obj = Record<string, unknown>;

describe('order parameter validation', () => {
  test('mandatory parameters → -1102 naming the parameter', () => {
    const h = harness();
    const e = h.fails('newOrder', { side: 'BUY', type: 'MARKET', quantity: '1' }, -1102);
    assert.equal(e.message, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    h.fails('newOrder', { symbol: 'BTCUSDT', type: 'MARKET', quantity: '1' }, -1102);
    h.fails('newOrder', { symbol: 'BTCUSDT', side: 'BUY', quantity: '1' }, -1102);
    const q = h.fails('newOrder', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET' }, -1102);
    assert.match(q.message, /'quantity'/);
    const q2 = h.fails('newOrder', market('BUY', 'abc'), -1102);
    assert.match(q2.message, /'quantity'/);
    const tif = h.fails(
      'newOrder',
      { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.01', price: '60000' },
      -1102,
    );
    assert.match(tif.message, /'timeInForce'/);
    const pr = h.fails(
      'newOrder',
      { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.01' },
      -1102,
    );
    assert.match(pr.message, /'price'/);
    h.fails('newOrder', { ...market('BUY', '0.01'), symbol: '' }, -1102);
  });

  test('bad enums: symbol -1121, side -1117, type -1116, tif -1115, positionSide -4060, respType -1136, others -1130', () => {
    const h = harness();
    assert.equal(
      h.fails('newOrder', { ...market('BUY', '0.01'), symbol: 'NOPEUSDT' }, -1121).message,
      'Invalid symbol.',
    );
    h.fails('newOrder', market('HOLD' as 'BUY', '0.01'), -1117);
    h.fails('newOrder', { ...market('BUY', '0.01'), type: 'LIMIT_MAKER' }, -1116);
    h.fails('newOrder', limit('BUY', '0.01', '60000', { timeInForce: 'DAY' }), -1115);
    h.fails('newOrder', market('BUY', '0.01', { positionSide: 'UP' }), -4060);
    h.fails('newOrder', market('BUY', '0.01', { newOrderRespType: 'FULL' }), -1136);
    const wt = h.fails('newOrder', market('BUY', '0.01', { workingType: 'LAST' }), -1130);
    assert.equal(wt.message, "Data sent for parameter 'workingType' is not valid.");
    h.fails('newOrder', market('BUY', '0.01', { selfTradePreventionMode: 'X' }), -1130);
    h.fails('newOrder', limit('BUY', '0.01', '60000', { priceMatch: 'BEST' }), -1130);
    h.fails('newOrder', market('BUY', '0.01', { reduceOnly: 'yes' }), -1130);
    h.fails('newOrder', market('BUY', '0.01', { priceProtect: 'maybe' }), -1130);
    // priceProtect is case-insensitive
    h.call('newOrder', market('BUY', '0.01', { priceProtect: 'TRUE' }));
  });

  test('conditional types on /fapi/v1/order → -4120', () => {
    const h = harness();
    for (const type of ['STOP', 'STOP_MARKET', 'TAKE_PROFIT', 'TAKE_PROFIT_MARKET', 'TRAILING_STOP_MARKET']) {
      const e = h.fails(
        'newOrder',
        { symbol: 'BTCUSDT', side: 'SELL', type, quantity: '0.01', stopPrice: '59000' },
        -4120,
      );
      assert.equal(
        e.message,
        'Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.',
      );
    }
  });

  test('newClientOrderId: regex -4015, generated 22 chars when absent, duplicates among open orders -4116', () => {
    const h = harness();
    h.fails('newOrder', limit('BUY', '0.01', '59000', { newClientOrderId: 'has space' }), -4015);
    h.fails('newOrder', limit('BUY', '0.01', '59000', { newClientOrderId: 'x'.repeat(37) }), -4015);
    const gen = h.call('newOrder', limit('BUY', '0.01', '59000'));
    assert.match(gen.clientOrderId as string, /^[A-Za-z0-9]{22}$/);
    const a = h.call('newOrder', limit('BUY', '0.01', '59000', { newClientOrderId: 'my.id:1/a_b-c' }));
    assert.equal(a.clientOrderId, 'my.id:1/a_b-c');
    h.fails('newOrder', limit('BUY', '0.01', '59000', { newClientOrderId: 'my.id:1/a_b-c' }), -4116);
    // another account may use it; after cancel it is free again
    h.call('newOrder', limit('BUY', '0.01', '59000', { newClientOrderId: 'my.id:1/a_b-c' }), KEY2);
    h.call('cancelOrder', { symbol: 'BTCUSDT', origClientOrderId: 'my.id:1/a_b-c' });
    h.call('newOrder', limit('BUY', '0.01', '59000', { newClientOrderId: 'my.id:1/a_b-c' }));
  });

  test('orderId increments per symbol from a large number', () => {
    const h = harness();
    const a = h.call('newOrder', limit('BUY', '0.01', '59000'));
    const b = h.call('newOrder', limit('BUY', '0.01', '59000'), KEY2);
    const c = h.call('newOrder', {
      symbol: 'ETHUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '1',
      price: '2900',
    });
    assert.ok((a.orderId as number) > 1_000_000_000);
    assert.equal(b.orderId, (a.orderId as number) + 1);
    assert.notEqual(Math.abs((c.orderId as number) - (a.orderId as number)), 2);
  });

  test('position side rules: one-way BOTH only (-4061); hedge LONG/SHORT (-4061), reduceOnly -1106', () => {
    const h = harness();
    h.fails('newOrder', market('BUY', '0.01', { positionSide: 'LONG' }), -4061);
    h.call('setPositionMode', { dualSidePosition: 'true' });
    h.fails('newOrder', market('BUY', '0.01'), -4061);
    h.fails('newOrder', market('BUY', '0.01', { positionSide: 'BOTH' }), -4061);
    const e = h.fails(
      'newOrder',
      market('BUY', '0.01', { positionSide: 'LONG', reduceOnly: 'false' }),
      -1106,
    );
    assert.equal(e.message, "Parameter 'reduceOnly' sent when not required.");
    h.call('newOrder', market('BUY', '0.01', { positionSide: 'LONG' }));
  });

  test('closePosition is only for the conditional market types', () => {
    const h = harness();
    h.fails('newOrder', market('SELL', '0.01', { closePosition: 'true' }), -1106);
  });
});

describe('filters', () => {
  test('precision -1111 before PRICE_FILTER', () => {
    const h = harness();
    h.fails('newOrder', limit('BUY', '0.01', '60000.123'), -1111);
    h.fails('newOrder', limit('BUY', '0.0101', '60000'), -1111);
    h.fails('newOrder', market('BUY', '0.0001'), -1111);
    // two decimals are within pricePrecision but not a tick multiple
    h.fails('newOrder', limit('BUY', '0.01', '60000.05'), -4014);
  });

  test('PRICE_FILTER: -4013 below min, -4002 above max, -4014 off tick', () => {
    const h = harness();
    h.fails('newOrder', limit('BUY', '0.2', '500'), -4013);
    h.fails('newOrder', limit('SELL', '0.01', '5000000'), -4002);
    h.fails('newOrder', limit('BUY', '0.01', '59000.15'), -4014);
  });

  test('LOT_SIZE / MARKET_LOT_SIZE: -4003, -4004, -4005, -4023', () => {
    const h = harness();
    h.fails('newOrder', limit('BUY', '0', '59000'), -4003);
    h.fails('newOrder', limit('BUY', '-1', '59000'), -4003);
    h.fails('newOrder', { ...limit('BUY', '5', '0.1'), symbol: 'DOGEUSDT', quantity: '0' }, -4003);
    h.fails(
      'newOrder',
      { symbol: 'DOGEUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.5', price: '0.1' },
      -1111,
    );
    h.fails('newOrder', limit('BUY', '1001', '59000'), -4005);
    // market orders use MARKET_LOT_SIZE (max 120)
    h.fails('newOrder', market('BUY', '121'), -4005);
    const eth = { symbol: 'ETHUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', price: '2900' };
    h.call('newOrder', { ...eth, quantity: '0.01' });
    const doge = { symbol: 'DOGEUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', price: '0.09' };
    h.call('newOrder', { ...doge, quantity: '100' });
  });

  test('LOT_SIZE step is measured from minQty (-4023) and min qty (-4004)', () => {
    const h = harness({
      specs: [
        {
          ...(harness().market.spec('ETHUSDT') as NonNullable<
            ReturnType<ReturnType<typeof harness>['market']['spec']>
          >),
          symbol: 'ODDUSDT',
          stepSize: '0.005',
          minQty: '0.002',
          marketStepSize: '0.005',
          marketMinQty: '0.002',
          minNotional: '1',
        },
      ],
    });
    const p = { symbol: 'ODDUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', price: '2900' };
    h.fails('newOrder', { ...p, quantity: '0.001' }, -4004);
    h.fails('newOrder', { ...p, quantity: '0.005' }, -4023);
    h.call('newOrder', { ...p, quantity: '0.007' });
  });

  test('PERCENT_PRICE vs mark: BUY above cap -4016, SELL below floor -4024; MARKET -4131', () => {
    const h = harness();
    h.fails('newOrder', limit('BUY', '0.01', '63000.1'), -4016);
    h.fails('newOrder', limit('SELL', '0.01', '56999.9'), -4024);
    h.call('newOrder', limit('BUY', '0.01', '56000'));
    h.market.set('BTCUSDT', '60000', { ask: '64000', mark: '60000' });
    h.fails('newOrder', market('BUY', '0.01'), -4131);
  });

  test('MIN_NOTIONAL -4164 with the symbol notional; MARKET uses mark; reduce-only exempt', () => {
    const h = harness();
    const e = h.fails('newOrder', limit('BUY', '0.001', '59000'), -4164);
    assert.equal(
      e.message,
      "Order's notional must be no smaller than 100.0 (unless you choose reduce only).",
    );
    // MARKET: 0.001 × mark 150000 = 150 ≥ 100
    h.market.set('BTCUSDT', '60000', { mark: '150000' });
    h.call('newOrder', market('BUY', '0.001'));
    h.market.set('BTCUSDT', '60000', { mark: '60000' });
    h.fails('newOrder', market('BUY', '0.001'), -4164);
    h.call('newOrder', market('BUY', '0.002'));
    // a reduce-only order below the notional is accepted
    h.call('newOrder', market('SELL', '0.001', { reduceOnly: 'true' }));
    const doge = h.fails(
      'newOrder',
      { symbol: 'DOGEUSDT', side: 'BUY', type: 'MARKET', quantity: '10' },
      -4164,
    );
    assert.match(doge.message, /no smaller than 5\.0 /);
  });

  test('MAX_NUM_ORDERS -2025 (normal and algo orders count)', () => {
    const h = harness({ specs: [{ ...harness().market.spec('BTCUSDT')!, maxNumOrders: 3 }] });
    h.call('newOrder', limit('BUY', '0.01', '59000'));
    h.call('newOrder', limit('BUY', '0.01', '59000'));
    h.call('newAlgoOrder', {
      algoType: 'CONDITIONAL',
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'STOP_MARKET',
      quantity: '0.01',
      triggerPrice: '55000',
    });
    h.fails('newOrder', limit('BUY', '0.01', '59000'), -2025);
  });

  test('GTD: goodTillDate mandatory, must be > now+600 s (-5040), seconds precision, expires', () => {
    const h = harness();
    h.fails('newOrder', limit('BUY', '0.01', '59000', { timeInForce: 'GTD' }), -1102);
    h.fails(
      'newOrder',
      limit('BUY', '0.01', '59000', { timeInForce: 'GTD', goodTillDate: String(T0 + 60_000) }),
      -5040,
    );
    h.fails(
      'newOrder',
      limit('BUY', '0.01', '59000', { timeInForce: 'GTD', goodTillDate: '253402300799000' }),
      -5040,
    );
    const o = h.call(
      'newOrder',
      limit('BUY', '0.01', '59000', { timeInForce: 'GTD', goodTillDate: String(T0 + 700_123) }),
    );
    assert.equal(o.goodTillDate, T0 + 700_000);
    h.market.clock.advance(700_000);
    h.market.trade('BTCUSDT', ['60000']);
    const q = h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(o.orderId) });
    assert.equal(q.status, 'EXPIRED');
  });
});

describe('execution', () => {
  test('ACK answers the order as accepted, RESULT the final state', () => {
    const h = harness();
    const ack = h.call('newOrder', market('BUY', '0.01'));
    assert.equal(ack.status, 'NEW');
    assert.equal(ack.executedQty, '0.000');
    assert.equal(ack.avgPrice, '0.00');
    assert.equal(ack.cumQuote, '0.00');
    const q = h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(ack.orderId) });
    assert.equal(q.status, 'FILLED');
    assert.equal(q.executedQty, '0.010');
    const res = h.call('newOrder', market('BUY', '0.01', { newOrderRespType: 'RESULT' }));
    assert.equal(res.status, 'FILLED');
    assert.equal(res.avgPrice, '60000.10');
    assert.equal(res.cumQuote, '600.001');
  });

  test('response fields and order as §8.1; GET adds time', () => {
    const h = harness();
    const o = h.call('newOrder', limit('BUY', '0.01', '59000'));
    assert.deepEqual(Object.keys(o), [
      'orderId',
      'symbol',
      'status',
      'clientOrderId',
      'price',
      'avgPrice',
      'origQty',
      'executedQty',
      'cumQty',
      'cumQuote',
      'timeInForce',
      'type',
      'reduceOnly',
      'closePosition',
      'side',
      'positionSide',
      'stopPrice',
      'workingType',
      'priceProtect',
      'origType',
      'priceMatch',
      'selfTradePreventionMode',
      'goodTillDate',
      'updateTime',
    ]);
    assert.equal(o.price, '59000.00');
    assert.equal(o.origQty, '0.010');
    assert.equal(o.stopPrice, '0.00');
    const g = h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(o.orderId) });
    assert.equal(g.time, T0);
    assert.deepEqual(
      Object.keys(g).filter((k) => !(k in o)),
      ['time'],
    );
  });

  test('a crossing LIMIT fills at once as taker at the book price, never worse than its limit', () => {
    const h = harness();
    const o = h.call('newOrder', limit('BUY', '0.01', '60500', { newOrderRespType: 'RESULT' }));
    assert.equal(o.status, 'FILLED');
    assert.equal(o.avgPrice, '60000.10');
    const t = h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' });
    assert.equal(t[0].maker, false);
    assert.equal(t[0].commission, '0.30000050');
  });

  test('a resting LIMIT fills as maker at its price when a trade prints through it', () => {
    const h = harness();
    const o = h.call('newOrder', limit('BUY', '0.01', '59900'));
    h.market.trade('BTCUSDT', ['59950']);
    assert.equal(h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(o.orderId) }).status, 'NEW');
    h.market.trade('BTCUSDT', ['59950', '59900', '59990']);
    const q = h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(o.orderId) });
    assert.equal(q.status, 'FILLED');
    assert.equal(q.avgPrice, '59900.00');
    const t = h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' });
    assert.equal(t[0].maker, true);
    assert.equal(t[0].price, '59900.00');
    assert.equal(t[0].commission, '0.11980000');
    // a SELL rests above and fills when a trade reaches it
    const s = h.call('newOrder', limit('SELL', '0.01', '60200'));
    h.market.trade('BTCUSDT', ['60100']);
    assert.equal(h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(s.orderId) }).status, 'NEW');
    h.market.trade('BTCUSDT', ['60200']);
    assert.equal(h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(s.orderId) }).status, 'FILLED');
  });

  test('GTX that would take → -5022 and is not recorded', () => {
    const h = harness();
    const e = h.fails(
      'newOrder',
      limit('BUY', '0.01', '60000.1', { timeInForce: 'GTX', newClientOrderId: 'gtx1' }),
      -5022,
    );
    assert.match(e.message, /Post Only order will be rejected/);
    h.fails('queryOrder', { symbol: 'BTCUSDT', origClientOrderId: 'gtx1' }, -2013);
    assert.equal(h.ev().length, 0);
    const ok = h.call('newOrder', limit('BUY', '0.01', '60000', { timeInForce: 'GTX' }));
    assert.equal(ok.status, 'NEW');
  });

  test('FOK not immediately fillable → -5021 not recorded; fillable → FILLED', () => {
    const h = harness();
    h.fails(
      'newOrder',
      limit('BUY', '0.01', '59000', { timeInForce: 'FOK', newClientOrderId: 'fok1' }),
      -5021,
    );
    h.fails('queryOrder', { symbol: 'BTCUSDT', origClientOrderId: 'fok1' }, -2013);
    const ok = h.call(
      'newOrder',
      limit('BUY', '0.01', '60100', { timeInForce: 'FOK', newOrderRespType: 'RESULT' }),
    );
    assert.equal(ok.status, 'FILLED');
  });

  test('IOC remainder → EXPIRED with expire reason 2', () => {
    const h = harness();
    const o = h.call(
      'newOrder',
      limit('BUY', '0.01', '59000', { timeInForce: 'IOC', newOrderRespType: 'RESULT' }),
    );
    assert.equal(o.status, 'EXPIRED');
    const upd = h.ev('ORDER_TRADE_UPDATE').map((e) => e.o as Obj);
    assert.deepEqual(
      upd.map((o) => [o.x, o.X, o.er]),
      [
        ['NEW', 'NEW', '0'],
        ['EXPIRED', 'EXPIRED', '2'],
      ],
    );
    const f = h.call(
      'newOrder',
      limit('BUY', '0.01', '60100', { timeInForce: 'IOC', newOrderRespType: 'RESULT' }),
    );
    assert.equal(f.status, 'FILLED');
  });

  test('margin check -2019 (notional / leverage + fees must fit the available balance)', () => {
    const h = harness({ balance: '100' });
    // 0.04 BTC = 2400 USDT at 20x = 120 USDT of margin
    h.fails('newOrder', market('BUY', '0.04'), -2019);
    h.fails('newOrder', limit('BUY', '0.04', '59000'), -2019);
    h.call('newOrder', market('BUY', '0.03'));
    h.call('setLeverage', { symbol: 'BTCUSDT', leverage: '50' });
    h.call('newOrder', market('BUY', '0.03'));
    // a closing order needs no margin
    h.call('newOrder', market('SELL', '0.06'));
  });

  test('test order validates without recording', () => {
    const h = harness();
    const t = h.call('testOrder', limit('BUY', '0.01', '59000', { newClientOrderId: 'tst' }));
    assert.equal(t.status, 'NEW');
    assert.equal(t.clientOrderId, 'tst');
    h.fails('queryOrder', { symbol: 'BTCUSDT', origClientOrderId: 'tst' }, -2013);
    h.fails('testOrder', limit('BUY', '0.01', '59000.05'), -4014);
    assert.equal(h.ev().length, 0);
    assert.equal(h.engine.stats()['key-A'].orders, 0);
  });

  test('priceMatch takes its price from the book', () => {
    const h = harness();
    const q = h.call('newOrder', { ...limit('BUY', '0.01', '1'), price: '', priceMatch: 'QUEUE' });
    assert.equal(q.price, '60000.00');
    assert.equal(q.priceMatch, 'QUEUE');
    const q5 = h.call('newOrder', { ...limit('BUY', '0.01', '1'), price: '', priceMatch: 'QUEUE_5' });
    assert.equal(q5.price, '59999.60');
    const opp = h.call('newOrder', {
      ...limit('SELL', '0.01', '1'),
      price: '',
      priceMatch: 'OPPONENT',
      newOrderRespType: 'RESULT',
    });
    assert.equal(opp.status, 'FILLED');
    assert.equal(opp.avgPrice, '60000.00');
    h.fails('newOrder', { ...limit('BUY', '0.01', '59000'), priceMatch: 'QUEUE' }, -1106);
    h.fails('newOrder', market('BUY', '0.01', { priceMatch: 'OPPONENT' }), -5038);
  });
});

describe('modify, cancel, batch', () => {
  test('PUT order changes price and quantity, emits AMENDMENT, answers with pair', () => {
    const h = harness();
    const o = h.call('newOrder', limit('BUY', '0.01', '59000'));
    h.clearEvents();
    const m = h.call('modifyOrder', {
      symbol: 'BTCUSDT',
      orderId: String(o.orderId),
      side: 'BUY',
      quantity: '0.02',
      price: '59100',
    });
    assert.equal(m.pair, 'BTCUSDT');
    assert.equal(m.price, '59100.00');
    assert.equal(m.origQty, '0.020');
    assert.equal(m.status, 'NEW');
    const upd = h.ev('ORDER_TRADE_UPDATE')[0].o as Obj;
    assert.equal(upd.x, 'AMENDMENT');
    assert.equal(upd.p, '59100');
    h.fails(
      'modifyOrder',
      { symbol: 'BTCUSDT', orderId: String(o.orderId), side: 'BUY', quantity: '0.02', price: '59100' },
      -5027,
    );
    h.fails(
      'modifyOrder',
      { symbol: 'BTCUSDT', orderId: '1', side: 'BUY', quantity: '0.02', price: '59100' },
      -2013,
    );
    h.fails(
      'modifyOrder',
      { symbol: 'BTCUSDT', orderId: String(o.orderId), side: 'BUY', quantity: '0.02', price: '59100.05' },
      -4014,
    );
    h.fails(
      'modifyOrder',
      { symbol: 'BTCUSDT', orderId: String(o.orderId), side: 'BUY', quantity: '0.001', price: '59100' },
      -5029,
    );
    // a modify that crosses fills at once
    const f = h.call('modifyOrder', {
      symbol: 'BTCUSDT',
      orderId: String(o.orderId),
      side: 'BUY',
      quantity: '0.02',
      price: '60100',
    });
    assert.equal(f.status, 'FILLED');
    assert.equal(f.avgPrice, '60000.10');
  });

  test('PUT on a post-only order that would now take cancels it; unknown parameters of PUT', () => {
    const h = harness();
    const o = h.call('newOrder', limit('BUY', '0.01', '59000', { timeInForce: 'GTX' }));
    const m = h.call('modifyOrder', {
      symbol: 'BTCUSDT',
      orderId: String(o.orderId),
      side: 'BUY',
      quantity: '0.01',
      price: '60500',
    });
    assert.equal(m.status, 'CANCELED');
    h.fails(
      'modifyOrder',
      { symbol: 'BTCUSDT', orderId: String(o.orderId), side: 'BUY', quantity: '0.01', price: '59000' },
      -2013,
    );
    const s = h.call('newOrder', limit('SELL', '0.01', '61000'));
    h.fails(
      'modifyOrder',
      { symbol: 'BTCUSDT', orderId: String(s.orderId), side: 'BUY', quantity: '0.01', price: '61000' },
      -1130,
    );
    h.fails(
      'modifyOrder',
      { symbol: 'BTCUSDT', orderId: String(s.orderId), side: 'SELL', quantity: '0.01' },
      -1102,
    );
    const mk = h.call('newOrder', market('BUY', '0.01'));
    h.fails(
      'modifyOrder',
      { symbol: 'BTCUSDT', orderId: String(mk.orderId), side: 'BUY', quantity: '0.01', price: '59000' },
      -2013,
    );
  });

  test('DELETE order: CANCELED, then -2011 for unknown or final orders; algo ids unknown here', () => {
    const h = harness();
    const o = h.call('newOrder', limit('BUY', '0.01', '59000'));
    const c = h.call('cancelOrder', { symbol: 'BTCUSDT', orderId: String(o.orderId) });
    assert.equal(c.status, 'CANCELED');
    const e = h.fails('cancelOrder', { symbol: 'BTCUSDT', orderId: String(o.orderId) }, -2011);
    assert.equal(e.message, 'Unknown order sent.');
    h.fails('cancelOrder', { symbol: 'BTCUSDT', orderId: '123' }, -2011);
    h.fails('cancelOrder', { symbol: 'BTCUSDT' }, -1102);
    const a = h.call('newAlgoOrder', {
      algoType: 'CONDITIONAL',
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'STOP_MARKET',
      quantity: '0.01',
      triggerPrice: '55000',
    });
    h.fails('cancelOrder', { symbol: 'BTCUSDT', orderId: String(a.algoId) }, -2011);
    h.fails('queryOrder', { symbol: 'BTCUSDT', orderId: String(a.algoId) }, -2013);
    assert.deepEqual(h.call<Obj[]>('openOrders', { symbol: 'BTCUSDT' }), []);
  });

  test('DELETE allOpenOrders', () => {
    const h = harness();
    h.call('newOrder', limit('BUY', '0.01', '59000'));
    h.call('newOrder', limit('BUY', '0.01', '58000'));
    assert.deepEqual(h.call('cancelAllOpen', { symbol: 'BTCUSDT' }), {
      code: 200,
      msg: 'The operation of cancel all open order is done.',
    });
    assert.equal(h.call<Obj[]>('openOrders', {}).length, 0);
    assert.equal(h.engine.stats()['key-A'].cancelled, 2);
  });

  test('DELETE batchOrders: per-item results in request order, max 10', () => {
    const h = harness();
    const a = h.call('newOrder', limit('BUY', '0.01', '59000', { newClientOrderId: 'a1' }));
    h.call('newOrder', limit('BUY', '0.01', '58000', { newClientOrderId: 'b1' }));
    const r = h.call<Obj[]>('cancelBatch', { symbol: 'BTCUSDT', orderIdList: `[${a.orderId},1]` });
    assert.equal(r[0].status, 'CANCELED');
    assert.deepEqual(r[1], { code: -2011, msg: 'Unknown order sent.' });
    const r2 = h.call<Obj[]>('cancelBatch', { symbol: 'BTCUSDT', origClientOrderIdList: '["b1","a1"]' });
    assert.equal(r2[0].clientOrderId, 'b1');
    assert.deepEqual(r2[1], { code: -2011, msg: 'Unknown order sent.' });
    h.fails('cancelBatch', { symbol: 'BTCUSDT' }, -1102);
    h.fails(
      'cancelBatch',
      { symbol: 'BTCUSDT', orderIdList: JSON.stringify([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) },
      -1130,
    );
    h.fails('cancelBatch', { symbol: 'BTCUSDT', orderIdList: '[1,' }, -1130);
  });

  test('POST batchOrders: up to 5, order objects and error objects in request order', () => {
    const h = harness();
    const items = [
      { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.01', price: '59000' },
      { symbol: 'BTCUSDT', side: 'BUY', type: 'STOP_MARKET', quantity: '0.01', stopPrice: '61000' },
      { symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: 0.01, reduceOnly: true },
      { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.01', newOrderRespType: 'RESULT' },
    ];
    const r = h.call<Obj[]>('batchOrders', { batchOrders: JSON.stringify(items) });
    assert.equal(r.length, 4);
    assert.equal(r[0].status, 'NEW');
    assert.equal(r[1].code, -4120);
    assert.deepEqual(r[2], { code: -2022, msg: 'ReduceOnly Order is rejected.' });
    assert.equal(r[3].status, 'FILLED');
    h.fails('batchOrders', { batchOrders: JSON.stringify([...items, ...items]) }, -4082);
    h.fails('batchOrders', { batchOrders: '[]' }, -4082);
    h.fails('batchOrders', { batchOrders: '{' }, -1130);
    h.fails('batchOrders', {}, -1102);
    const s = h.engine.stats()['key-A'];
    assert.equal(s.orders, 2);
    assert.equal(s.rejected, 2);
  });
});

describe('queries', () => {
  test('GET order by id or client id, openOrder, openOrders with and without symbol', () => {
    const h = harness();
    const a = h.call('newOrder', limit('BUY', '0.01', '59000', { newClientOrderId: 'q1' }));
    h.call('newOrder', {
      symbol: 'ETHUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '1',
      price: '2900',
    });
    assert.equal(h.call('queryOrder', { symbol: 'BTCUSDT', origClientOrderId: 'q1' }).orderId, a.orderId);
    assert.equal(h.call('queryOpenOrder', { symbol: 'BTCUSDT', orderId: String(a.orderId) }).status, 'NEW');
    h.fails('queryOrder', { symbol: 'BTCUSDT', orderId: '42' }, -2013);
    h.fails('queryOrder', { symbol: 'BTCUSDT' }, -1102);
    assert.equal(h.call<Obj[]>('openOrders', {}).length, 2);
    assert.equal(h.call<Obj[]>('openOrders', { symbol: 'ETHUSDT' }).length, 1);
    h.fails('openOrders', { symbol: 'FOO' }, -1121);
    h.call('cancelOrder', { symbol: 'BTCUSDT', orderId: String(a.orderId) });
    h.fails('queryOpenOrder', { symbol: 'BTCUSDT', orderId: String(a.orderId) }, -2013);
    assert.equal(h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(a.orderId) }).status, 'CANCELED');
    assert.equal(h.call<Obj[]>('openOrders', { symbol: 'BTCUSDT' }, KEY2).length, 0);
  });

  test('cancelled orders without fills are forgotten after 3 days', () => {
    const h = harness();
    const a = h.call('newOrder', limit('BUY', '0.01', '59000'));
    h.call('cancelOrder', { symbol: 'BTCUSDT', orderId: String(a.orderId) });
    const b = h.call('newOrder', market('BUY', '0.01'));
    h.market.clock.advance(3 * 86_400_000 + 1);
    h.fails('queryOrder', { symbol: 'BTCUSDT', orderId: String(a.orderId) }, -2013);
    assert.equal(h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(b.orderId) }).status, 'FILLED');
  });

  test('allOrders: orderId ≥, limit default 500 / max 1000, 7-day windows', () => {
    const h = harness();
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push(h.call('newOrder', limit('BUY', '0.01', '59000')).orderId as number);
      h.market.clock.advance(60_000);
    }
    const all = h.call<Obj[]>('allOrders', { symbol: 'BTCUSDT' });
    assert.deepEqual(
      all.map((o) => o.orderId),
      ids,
    );
    assert.deepEqual(
      h
        .call<Obj[]>('allOrders', { symbol: 'BTCUSDT', orderId: String(ids[2]), limit: '2' })
        .map((o) => o.orderId),
      ids.slice(2, 4),
    );
    // without orderId the most recent ones
    assert.deepEqual(
      h.call<Obj[]>('allOrders', { symbol: 'BTCUSDT', limit: '2' }).map((o) => o.orderId),
      ids.slice(4),
    );
    assert.deepEqual(
      h
        .call<Obj[]>('allOrders', { symbol: 'BTCUSDT', startTime: String(T0 + 60_000), limit: '2' })
        .map((o) => o.orderId),
      ids.slice(1, 3),
    );
    const e = h.fails(
      'allOrders',
      { symbol: 'BTCUSDT', startTime: '0', endTime: String(8 * 86_400_000) },
      -1127,
    );
    assert.equal(e.message, 'More than 168 hours between startTime and endTime.');
    h.fails('allOrders', { symbol: 'BTCUSDT', startTime: '10', endTime: '5' }, -1023);
    assert.equal(h.call<Obj[]>('allOrders', {}).length, 6);
  });

  test('userTrades: shape, fromId, orderId, 7-day windows, fromId with times -1128', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    h.market.clock.advance(1000);
    const s = h.call('newOrder', market('SELL', '0.004'));
    h.market.clock.advance(1000);
    h.call('newOrder', market('SELL', '0.006'));
    const t = h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' });
    assert.equal(t.length, 3);
    assert.deepEqual(Object.keys(t[0]), [
      'buyer',
      'commission',
      'commissionAsset',
      'id',
      'maker',
      'orderId',
      'price',
      'qty',
      'quoteQty',
      'realizedPnl',
      'side',
      'positionSide',
      'symbol',
      'time',
    ]);
    assert.equal(t[1].realizedPnl, '-0.00040000');
    assert.equal(t[1].buyer, false);
    assert.deepEqual(
      h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT', fromId: String(t[1].id) }).map((x) => x.id),
      [t[1].id, t[2].id],
    );
    assert.deepEqual(
      h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT', orderId: String(s.orderId) }).map((x) => x.id),
      [t[1].id],
    );
    assert.equal(h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT', limit: '1' })[0].id, t[2].id);
    h.fails('userTrades', { symbol: 'BTCUSDT', fromId: '1', startTime: String(T0) }, -1128);
    h.fails('userTrades', { symbol: 'BTCUSDT', startTime: '0', endTime: String(T0) }, -1127);
    h.fails('userTrades', {}, -1102);
    h.market.clock.advance(8 * 86_400_000);
    assert.equal(h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' }).length, 0);
    assert.equal(h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT', startTime: String(T0) }).length, 3);
  });
});

describe('legacy conditional mode', () => {
  test('TRAILING_STOP_MARKET on /fapi/v1/order with activationPrice and priceRate', () => {
    const h = harness({ legacy: true });
    h.call('newOrder', market('BUY', '0.01'));
    h.fails(
      'newOrder',
      { symbol: 'BTCUSDT', side: 'SELL', type: 'TRAILING_STOP_MARKET', quantity: '0.01', callbackRate: '11' },
      -1130,
    );
    const t = h.call('newOrder', {
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'TRAILING_STOP_MARKET',
      quantity: '0.01',
      callbackRate: '0.5',
      activationPrice: '60500',
      reduceOnly: 'true',
    });
    assert.equal(t.activatePrice, '60500.00');
    assert.equal(t.priceRate, '0.5');
    const newEv = h.ev('ORDER_TRADE_UPDATE').at(-1)?.o as Obj;
    assert.equal(newEv.AP, '60500');
    assert.equal(newEv.cr, '0.5');
    h.market.trade('BTCUSDT', ['60500', '61000']);
    assert.equal(h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(t.orderId) }).status, 'NEW');
    // 61000 × 0.995 = 60695
    h.market.trade('BTCUSDT', ['60695'], { bid: '60695', ask: '60695.1' });
    const q = h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(t.orderId) });
    assert.equal(q.status, 'FILLED');
    assert.equal(q.avgPrice, '60695.00');
    assert.deepEqual(
      h
        .ev('ORDER_TRADE_UPDATE')
        .slice(-3)
        .map((e) => [(e.o as Obj).x, (e.o as Obj).o, (e.o as Obj).ot]),
      [
        ['NEW', 'TRAILING_STOP_MARKET', 'TRAILING_STOP_MARKET'],
        ['NEW', 'MARKET', 'TRAILING_STOP_MARKET'],
        ['TRADE', 'MARKET', 'TRAILING_STOP_MARKET'],
      ],
    );
  });

  test('STOP_MARKET on /fapi/v1/order rests, triggers on the last price, keeps its orderId', () => {
    const h = harness({ legacy: true });
    h.call('newOrder', market('BUY', '0.01'));
    h.fails(
      'newOrder',
      { symbol: 'BTCUSDT', side: 'SELL', type: 'STOP_MARKET', quantity: '0.01', stopPrice: '60500' },
      -2021,
    );
    const s = h.call('newOrder', {
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'STOP_MARKET',
      stopPrice: '59000',
      closePosition: 'true',
    });
    assert.equal(s.type, 'STOP_MARKET');
    assert.equal(s.stopPrice, '59000.00');
    assert.equal(h.call<Obj[]>('openOrders', {}).length, 1);
    h.market.trade('BTCUSDT', ['59500']);
    assert.equal(h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(s.orderId) }).status, 'NEW');
    h.market.trade('BTCUSDT', ['58990'], { bid: '58990', ask: '58990.1' });
    const q = h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(s.orderId) });
    assert.equal(q.status, 'FILLED');
    assert.equal(q.type, 'MARKET');
    assert.equal(q.origType, 'STOP_MARKET');
    assert.equal(q.executedQty, '0.010');
    assert.equal(h.call<Obj[]>('positionRiskV3').length, 0);
  });
});
