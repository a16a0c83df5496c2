// FuturesApi: parameters, security types and response schemas against a fake RestCaller, then
// every endpoint against the in-process simulator through the test-only RestCaller (testing.ts).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RunningSim, startSim } from '../../sim/index.ts';
import { D, Decimal } from '../decimal.ts';
import { FuturesApi, isBatchError, newClientOrderId } from './endpoints.ts';
import { UnknownOutcomeError } from './errors.ts';
import { type CheckResult, RulesBook } from './filters.ts';
import { type Income, type Order, ResponseShapeError } from './schemas.ts';
import { TestRestCaller, TestRestError } from './testing.ts';
import type { RequestOptions, RequestParams, RestCaller, Security } from './types.ts';

// ---------------------------------------------------------------- a fake RestCaller

interface Call {
  method: string;
  path: string;
  params: RequestParams;
  security: Security | undefined;
}

class FakeRest implements RestCaller {
  readonly calls: Call[] = [];
  constructor(private readonly answer: (c: Call) => unknown) {}
  async request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    params: RequestParams = {},
    opts: RequestOptions = {},
  ): Promise<T> {
    const c = { method, path, params, security: opts.security };
    this.calls.push(c);
    return this.answer(c) as T;
  }
  now(): number {
    return 0;
  }
}

/** §8.1's live order object. */
const ORDER = {
  orderId: 1405234856,
  symbol: 'PHBUSDT',
  status: 'NEW',
  clientOrderId: 'shrtnclsa772eeb9868c4dc98a43aab8fa64',
  price: '1.1240000',
  avgPrice: '0.00',
  origQty: '22',
  executedQty: '0',
  cumQty: '0',
  cumQuote: '0.0000000',
  timeInForce: 'GTX',
  type: 'LIMIT',
  reduceOnly: true,
  closePosition: false,
  side: 'BUY',
  positionSide: 'SHORT',
  stopPrice: '0.0000000',
  workingType: 'CONTRACT_PRICE',
  priceProtect: false,
  origType: 'LIMIT',
  priceMatch: 'NONE',
  selfTradePreventionMode: 'NONE',
  goodTillDate: 0,
  updateTime: 1709419134696,
};

function lastCall(rest: FakeRest): Call {
  return rest.calls[rest.calls.length - 1];
}

/** The parameters without the generated client id (checked to be one). */
function noGeneratedId<T extends Record<string, unknown>>(p: T, key = 'newClientOrderId'): Omit<T, string> {
  const { [key]: id, ...rest } = p;
  assert.match(String(id), /^fx-[0-9a-z]+-[0-9a-f]{16}$/, `${key} generated`);
  return rest;
}

describe('FuturesApi parameters (fake RestCaller)', () => {
  const rest = new FakeRest(() => ORDER);
  const api = new FuturesApi(rest);

  test('new order: Binance names, decimals as plain text, RESULT and GTC defaults, TRADE', async () => {
    await api.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      price: D('65000.10'),
      quantity: '2.8E-4',
      newClientOrderId: 'abc-1',
    });
    const c = lastCall(rest);
    assert.deepEqual([c.method, c.path, c.security], ['POST', '/fapi/v1/order', 'TRADE']);
    assert.deepEqual(c.params, {
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '0.00028',
      price: '65000.1',
      newClientOrderId: 'abc-1',
      newOrderRespType: 'RESULT',
    });
  });

  test('a client order id is generated when the caller gives none', async () => {
    const rest = new FakeRest((c) => (c.path === '/fapi/v1/batchOrders' ? [ORDER, ORDER] : ORDER));
    const api = new FuturesApi(rest);
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      await api.newOrder({ symbol: 'X', side: 'SELL', type: 'MARKET', quantity: '1' });
      const id = String(lastCall(rest).params.newClientOrderId);
      assert.match(id, /^[.A-Z:/a-z0-9_-]{1,36}$/, 'Binance alphabet, at most 36 chars');
      assert.match(id, /^fx-/);
      ids.add(id);
    }
    assert.equal(ids.size, 50, 'unique');
    await api.batchOrders([
      { symbol: 'X', side: 'BUY', type: 'MARKET', quantity: '1' },
      { symbol: 'X', side: 'BUY', type: 'MARKET', quantity: '1', newClientOrderId: 'mine' },
    ]);
    const items = JSON.parse(String(lastCall(rest).params.batchOrders));
    assert.match(items[0].newClientOrderId, /^fx-[0-9a-z]+-[0-9a-f]{16}$/);
    assert.equal(items[1].newClientOrderId, 'mine', 'a given id is kept');
    const custom = new FuturesApi(rest, { clientIdPrefix: 'bot7' });
    await custom.newOrder({ symbol: 'X', side: 'BUY', type: 'MARKET', quantity: '1' });
    assert.match(String(lastCall(rest).params.newClientOrderId), /^bot7-/);
    assert.throws(() => new FuturesApi(rest, { clientIdPrefix: 'no spaces' }), TypeError);
    assert.equal(newClientOrderId('x'.repeat(10)).length, 36);
    assert.throws(() => newClientOrderId('x'.repeat(11)), TypeError);
    // testOrder places nothing: no id is made up for it.
    await api.testOrder({ symbol: 'X', side: 'BUY', type: 'MARKET', quantity: '1' });
    assert.equal(lastCall(rest).params.newClientOrderId, undefined);
  });

  test('flags only when true; every optional parameter under its Binance name', async () => {
    await api.newOrder({ symbol: 'X', side: 'SELL', type: 'MARKET', quantity: '1E+3', reduceOnly: false });
    assert.deepEqual(noGeneratedId(lastCall(rest).params), {
      symbol: 'X',
      side: 'SELL',
      type: 'MARKET',
      quantity: '1000',
      newOrderRespType: 'RESULT',
    });
    await api.newOrder({
      symbol: 'X',
      side: 'SELL',
      type: 'LIMIT',
      positionSide: 'SHORT',
      timeInForce: 'GTD',
      goodTillDate: 1_900_000_000_000,
      quantity: '1',
      priceMatch: 'QUEUE',
      reduceOnly: true,
      newOrderRespType: 'ACK',
      selfTradePreventionMode: 'EXPIRE_BOTH',
    });
    assert.deepEqual(noGeneratedId(lastCall(rest).params), {
      symbol: 'X',
      side: 'SELL',
      positionSide: 'SHORT',
      type: 'LIMIT',
      timeInForce: 'GTD',
      quantity: '1',
      reduceOnly: 'true',
      newOrderRespType: 'ACK',
      goodTillDate: 1_900_000_000_000,
      priceMatch: 'QUEUE',
      selfTradePreventionMode: 'EXPIRE_BOTH',
    });
    const ack = new FuturesApi(rest, { respType: 'ACK' });
    await ack.newOrder({ symbol: 'X', side: 'BUY', type: 'MARKET', quantity: '1' });
    assert.equal(lastCall(rest).params.newOrderRespType, 'ACK');
  });

  test('malformed decimals, client ids and counts reject before anything is sent', async () => {
    const n = rest.calls.length;
    const mkt = { symbol: 'X', side: 'BUY' as const, type: 'MARKET' as const, quantity: '1' };
    await assert.rejects(api.newOrder({ ...mkt, quantity: '1,5' }), TypeError);
    await assert.rejects(api.newOrder({ ...mkt, price: 'NaN' }), TypeError);
    await assert.rejects(api.newOrder({ ...mkt, newClientOrderId: 'a b' }), TypeError);
    await assert.rejects(api.batchOrders([]), RangeError);
    await assert.rejects(api.batchOrders(Array.from({ length: 6 }, () => mkt)), RangeError);
    await assert.rejects(api.getOrder({ symbol: 'X' } as never), TypeError);
    await assert.rejects(api.cancelBatch({ symbol: 'X', orderIds: [] }), RangeError);
    await assert.rejects(api.cancelBatch({ symbol: 'X', orderIds: [1], clientOrderIds: ['a'] }), TypeError);
    await assert.rejects(api.setLeverage('X', 2.5), TypeError);
    await assert.rejects(api.cancelAlgoOrder({} as never), TypeError);
    assert.equal(rest.calls.length, n);
  });

  test('batchOrders: one JSON list of string-valued orders', async () => {
    const r = new FakeRest(() => [ORDER, { code: -2022, msg: 'ReduceOnly Order is rejected.' }]);
    const items = await new FuturesApi(r).batchOrders([
      { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', price: '1E+4', quantity: '0.001' },
      { symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: D('0.002'), reduceOnly: true },
    ]);
    const c = lastCall(r);
    assert.deepEqual([c.method, c.path, c.security], ['POST', '/fapi/v1/batchOrders', 'TRADE']);
    assert.deepEqual(
      JSON.parse(String(c.params.batchOrders)).map((i: Record<string, unknown>) => noGeneratedId(i)),
      [
        {
          symbol: 'BTCUSDT',
          side: 'BUY',
          type: 'LIMIT',
          timeInForce: 'GTC',
          quantity: '0.001',
          price: '10000',
          newOrderRespType: 'RESULT',
        },
        {
          symbol: 'BTCUSDT',
          side: 'SELL',
          type: 'MARKET',
          quantity: '0.002',
          reduceOnly: 'true',
          newOrderRespType: 'RESULT',
        },
      ],
    );
    assert.equal(isBatchError(items[0]), false);
    assert.equal(isBatchError(items[1]), true);
    assert.equal((items[0] as Order).price, '1.1240000');
  });

  test('cancelBatch, getOrder, modify, algo, income, listenKey parameters and security', async () => {
    const r = new FakeRest((c) => {
      if (c.path === '/fapi/v1/batchOrders') return [ORDER, { code: -2011, msg: 'Unknown order sent.' }];
      if (c.path === '/fapi/v1/income') return [];
      if (c.path === '/fapi/v1/listenKey') return c.method === 'DELETE' ? {} : { listenKey: 'k' };
      if (c.path === '/fapi/v1/algoOrder' && c.method === 'DELETE')
        return { algoId: 1, clientAlgoId: 'a', code: '200', msg: 'success' };
      if (c.path === '/fapi/v1/algoOrder') return ALGO;
      return ORDER;
    });
    const a = new FuturesApi(r);
    await a.cancelBatch({ symbol: 'X', orderIds: [1, 2] });
    assert.deepEqual(lastCall(r).params, { symbol: 'X', orderIdList: '[1,2]' });
    await a.cancelBatch({ symbol: 'X', clientOrderIds: ['my_id_1', 'my_id_2'] });
    assert.deepEqual(lastCall(r).params, { symbol: 'X', origClientOrderIdList: '["my_id_1","my_id_2"]' });
    assert.equal(lastCall(r).method, 'DELETE');
    await a.getOrder({ symbol: 'X', origClientOrderId: 'c' });
    assert.deepEqual(
      [lastCall(r).security, lastCall(r).params],
      ['USER_DATA', { symbol: 'X', origClientOrderId: 'c' }],
    );
    await a.modifyOrder({ symbol: 'X', orderId: 7, side: 'BUY', quantity: '5E-1', price: '2.50' });
    assert.deepEqual([lastCall(r).method, lastCall(r).security], ['PUT', 'TRADE']);
    assert.deepEqual(lastCall(r).params, {
      orderId: 7,
      symbol: 'X',
      side: 'BUY',
      quantity: '0.5',
      price: '2.5',
    });
    await a.newAlgoOrder({
      symbol: 'X',
      side: 'SELL',
      type: 'STOP_MARKET',
      triggerPrice: '2.8E-4',
      closePosition: true,
      workingType: 'MARK_PRICE',
      priceProtect: true,
    });
    assert.deepEqual(noGeneratedId(lastCall(r).params, 'clientAlgoId'), {
      algoType: 'CONDITIONAL',
      symbol: 'X',
      side: 'SELL',
      type: 'STOP_MARKET',
      triggerPrice: '0.00028',
      workingType: 'MARK_PRICE',
      closePosition: 'true',
      priceProtect: 'TRUE',
    });
    await a.cancelAlgoOrder({ clientAlgoId: 'a' });
    assert.deepEqual(
      [lastCall(r).method, lastCall(r).security, lastCall(r).params],
      ['DELETE', 'TRADE', { clientAlgoId: 'a' }],
    );
    await a.income({ symbol: 'X', incomeType: 'COMMISSION', startTime: 1, endTime: 2, limit: 5 });
    assert.deepEqual(lastCall(r).params, {
      symbol: 'X',
      incomeType: 'COMMISSION',
      startTime: 1,
      endTime: 2,
      limit: 5,
    });
    assert.equal(await a.createListenKey(), 'k');
    assert.deepEqual(
      [lastCall(r).method, lastCall(r).security, lastCall(r).params],
      ['POST', 'USER_STREAM', {}],
    );
    await a.keepaliveListenKey();
    assert.deepEqual([lastCall(r).method, lastCall(r).security], ['PUT', 'USER_STREAM']);
    await a.closeListenKey();
    assert.deepEqual([lastCall(r).method, lastCall(r).security], ['DELETE', 'USER_STREAM']);
  });
});

const ALGO = {
  algoId: 2146760,
  clientAlgoId: '6B2I9XVcJpCjqPAJ4YoFX7',
  algoType: 'CONDITIONAL',
  orderType: 'TAKE_PROFIT',
  symbol: 'BNBUSDT',
  side: 'SELL',
  positionSide: 'BOTH',
  timeInForce: 'GTC',
  quantity: '0.01',
  algoStatus: 'NEW',
  triggerPrice: '750.000',
  price: '750.000',
  icebergQuantity: null,
  selfTradePreventionMode: 'EXPIRE_MAKER',
  workingType: 'CONTRACT_PRICE',
  priceMatch: 'NONE',
  closePosition: false,
  priceProtect: false,
  reduceOnly: false,
  activatePrice: '',
  callbackRate: '',
  createTime: 1750485492076,
  updateTime: 1750485492076,
  triggerTime: 0,
  goodTillDate: 0,
};

describe('response schemas', () => {
  const answering = (body: unknown) => new FuturesApi(new FakeRest(() => body));

  test('decimals stay strings, scientific notation accepted, unknown keys stripped', async () => {
    const [p] = await answering([
      {
        symbol: '1000SATSUSDT',
        positionSide: 'BOTH',
        positionAmt: '30',
        entryPrice: '2.8E-4',
        breakEvenPrice: '2.80056E-4',
        markPrice: '0.00028500',
        unRealizedProfit: '0.00015',
        liquidationPrice: '0',
        isolatedMargin: '0',
        notional: '0.00855',
        marginAsset: 'USDT',
        isolatedWallet: '0',
        initialMargin: '0.0004275',
        maintMargin: '0.0001',
        positionInitialMargin: '0.0004275',
        openOrderInitialMargin: '0',
        adl: 2,
        bidNotional: '0',
        askNotional: '0',
        updateTime: 1720736417660,
        brandNewField: 'x',
      },
    ]).positionRiskV3();
    assert.equal(p.entryPrice, '2.8E-4');
    assert.equal(p.breakEvenPrice, '2.80056E-4');
    assert.ok(D(p.breakEvenPrice).gt(p.entryPrice));
    assert.equal(p.adl, 2);
    assert.equal('brandNewField' in p, false);
  });

  test('a wrong shape throws ResponseShapeError naming the endpoint and the field', async () => {
    await assert.rejects(
      answering({ ...ORDER, status: 'WEIRD' }).getOrder({ symbol: 'X', orderId: 1 }),
      (e) => {
        assert.ok(e instanceof ResponseShapeError);
        assert.equal(e.endpoint, 'GET /fapi/v1/order');
        assert.match(
          e.message,
          /^GET \/fapi\/v1\/order: unexpected response shape: status: .*\(got "WEIRD"\)/,
        );
        return true;
      },
    );
    await assert.rejects(
      answering([[1, '1', '1', '1', '1', '1', 2, '1', 3, '1', '1']]).klines({ symbol: 'X', interval: '1m' }),
      ResponseShapeError,
    );
    await assert.rejects(answering({ listenKey: '' }).createListenKey(), /POST \/fapi\/v1\/listenKey/);
    await assert.rejects(
      answering([{ symbol: 'X', fundingRate: 0.0001, fundingTime: 1 }]).fundingRate(),
      /fundingRate/,
    );
  });

  test('a wrong shape on an order endpoint: the order happened, so UnknownOutcomeError with id and answer', async () => {
    const odd = { ...ORDER, price: 1.124 };
    await assert.rejects(
      answering(odd).newOrder({
        symbol: 'X',
        side: 'BUY',
        type: 'MARKET',
        quantity: '1',
        newClientOrderId: 'shape-1',
      }),
      (e) => {
        assert.ok(e instanceof UnknownOutcomeError, String(e));
        assert.equal(e.retrySafe, false);
        assert.equal(e.clientOrderId, 'shape-1');
        assert.deepEqual(e.raw, odd);
        assert.equal(e.status, 200);
        assert.ok(e.cause instanceof ResponseShapeError);
        assert.match(
          e.message,
          /^POST \/fapi\/v1\/order: unexpected response shape: price: .*\(got 1\.124\)/,
        );
        return true;
      },
    );
    // Cancels, modifies, batches and algo orders too; a generated id is carried as well.
    await assert.rejects(
      answering({ ...ORDER, origQty: 'abc' }).cancelOrder({ symbol: 'X', origClientOrderId: 'c-9' }),
      (e) => e instanceof UnknownOutcomeError && e.clientOrderId === 'c-9' && /origQty/.test(e.message),
    );
    await assert.rejects(
      answering({ ...ORDER, origQty: 'abc' }).modifyOrder({
        symbol: 'X',
        orderId: 1,
        side: 'BUY',
        quantity: '1',
      }),
      UnknownOutcomeError,
    );
    await assert.rejects(
      answering({ not: 'a list' }).batchOrders([{ symbol: 'X', side: 'BUY', type: 'MARKET', quantity: '1' }]),
      (e) => e instanceof UnknownOutcomeError && /^fx-/.test(e.clientOrderId ?? ''),
    );
    await assert.rejects(
      answering({ algoId: 'x' }).newAlgoOrder({
        symbol: 'X',
        side: 'SELL',
        type: 'STOP_MARKET',
        triggerPrice: '1',
      }),
      (e) => e instanceof UnknownOutcomeError && /^fx-/.test(e.clientOrderId ?? ''),
    );
    // Reads and settings stay ResponseShapeError.
    await assert.rejects(answering({ leverage: 'x' }).setLeverage('X', 5), ResponseShapeError);
  });

  test('klines: 12-element rows become named objects', async () => {
    const [k] = await answering([
      [
        1499040000000,
        '0.01634790',
        '0.80000000',
        '0.01575800',
        '0.01577100',
        '148976.11427815',
        1499644799999,
        '2434.19055334',
        308,
        '1756.87402397',
        '28.46694368',
        '17928899.62484339',
      ],
    ]).klines({ symbol: 'X', interval: '1m' });
    assert.deepEqual(k, {
      openTime: 1499040000000,
      open: '0.01634790',
      high: '0.80000000',
      low: '0.01575800',
      close: '0.01577100',
      volume: '148976.11427815',
      closeTime: 1499644799999,
      quoteVolume: '2434.19055334',
      trades: 308,
      takerBuyVolume: '1756.87402397',
      takerBuyQuoteVolume: '28.46694368',
    });
  });

  test('exchangeInfo: unknown filter types kept, malformed known filters refused', async () => {
    const info = (filters: unknown[]) => ({
      timezone: 'UTC',
      serverTime: 1,
      rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 2400 }],
      symbols: [
        {
          symbol: 'XAUUSDT',
          contractType: 'TRADIFI_PERPETUAL',
          status: 'TRADING',
          baseAsset: 'XAU',
          quoteAsset: 'USDT',
          marginAsset: 'USDT',
          pricePrecision: 2,
          quantityPrecision: 3,
          filters,
          permissionSets: ['GRID'],
        },
      ],
    });
    const good = await answering(
      info([
        { tickSize: '0.01', maxPrice: '200000', minPrice: '0.01', filterType: 'PRICE_FILTER' },
        { filterType: 'MAX_NUM_ALGO_ORDERS', limit: 10 },
        { filterType: 'POSITION_RISK_CONTROL', positionControlSide: 'NONE' },
        { filterType: 'SOMETHING_NEW' },
      ]),
    ).exchangeInfo();
    assert.deepEqual(
      good.symbols[0].filters.map((f) => f.filterType),
      ['PRICE_FILTER', 'MAX_NUM_ALGO_ORDERS', 'POSITION_RISK_CONTROL', 'SOMETHING_NEW'],
    );
    const rules = RulesBook.fromExchangeInfo(good).get('XAUUSDT');
    assert.equal(rules.tickSize.toString(), '0.01');
    assert.ok(rules.stepSize.isZero()); // no LOT_SIZE: rule disabled
    await assert.rejects(
      answering(info([{ maxPrice: '200000', minPrice: '0.01', filterType: 'PRICE_FILTER' }])).exchangeInfo(),
      /GET \/fapi\/v1\/exchangeInfo: .*symbols\.0\.filters\.0/,
    );
  });

  test('positionRisk v2 legacy string flag and lowercase margin type; batch items', async () => {
    const [p] = await answering([
      {
        entryPrice: '0.00000',
        breakEvenPrice: '0.0',
        marginType: 'isolated',
        isAutoAddMargin: 'false',
        isolatedMargin: '0.00000000',
        leverage: '10',
        liquidationPrice: '0',
        markPrice: '6679.50671178',
        maxNotionalValue: '20000000',
        positionAmt: '0.000',
        notional: '0',
        isolatedWallet: '0',
        symbol: 'BTCUSDT',
        unRealizedProfit: '0.00000000',
        positionSide: 'BOTH',
        updateTime: 0,
      },
    ]).positionRiskV2();
    assert.equal(p.isAutoAddMargin, false);
    assert.equal(p.marginType, 'isolated');
    assert.equal(p.leverage, '10');
    const algo = await answering(ALGO).getAlgoOrder({ algoId: 2146760 });
    assert.equal(algo.icebergQuantity, null);
    assert.equal(algo.activatePrice, '');
  });
});

// ---------------------------------------------------------------- incomeAll paging logic

/** A ledger served with Binance's income rules: [start, end] inclusive, ascending, page/limit. */
function ledgerRest(rows: Income[], opts: { ignorePage?: boolean } = {}): FakeRest {
  return new FakeRest((c) => {
    const p = c.params;
    const start = Number(p.startTime);
    const end = Number(p.endTime);
    const limit = Number(p.limit ?? 100);
    const page = opts.ignorePage ? 1 : Number(p.page ?? 1);
    const sel = rows.filter(
      (r) =>
        r.time >= start &&
        r.time <= end &&
        (p.incomeType === undefined || r.incomeType === p.incomeType) &&
        (p.symbol === undefined || r.symbol === p.symbol),
    );
    return sel.slice((page - 1) * limit, page * limit);
  });
}

function incomeRow(time: number, incomeType: string, tranId: number): Income {
  return {
    symbol: 'BTCUSDT',
    incomeType,
    income: '-0.01',
    asset: 'USDT',
    info: incomeType,
    time,
    tranId,
    tradeId: String(tranId),
  };
}

describe('incomeAll paging (fake ledger)', () => {
  // 7 ms clusters; ms 1003 holds 9 rows (more than a page), tranIds repeat across types.
  const rows: Income[] = [];
  let tran = 100;
  for (const [time, n] of [
    [1000, 2],
    [1001, 3],
    [1003, 9],
    [1004, 1],
    [1007, 4],
    [1010, 1],
    [1011, 2],
  ]) {
    for (let i = 0; i < n; i++) {
      rows.push(incomeRow(time, 'COMMISSION', tran));
      if (i % 2 === 0) rows.push(incomeRow(time, 'REALIZED_PNL', tran));
      tran++;
    }
  }

  for (const pageSize of [1, 2, 3, 4, 5, 7, 1000]) {
    test(`page size ${pageSize}: every row once, ascending`, async () => {
      const rest = ledgerRest(rows);
      const got = await new FuturesApi(rest).incomeAll({ startTime: 1000, endTime: 1011, pageSize });
      assert.deepEqual(got, rows);
      if (pageSize < rows.length) assert.ok(rest.calls.length > 1);
      for (const c of rest.calls) {
        assert.deepEqual([c.method, c.path, c.security], ['GET', '/fapi/v1/income', 'USER_DATA']);
        assert.equal(c.params.limit, pageSize);
      }
    });
  }

  test('filters pass through; the range is respected', async () => {
    const rest = ledgerRest(rows);
    const got = await new FuturesApi(rest).incomeAll({
      incomeType: 'REALIZED_PNL',
      startTime: 1001,
      endTime: 1007,
      pageSize: 2,
    });
    assert.deepEqual(
      got,
      rows.filter((r) => r.incomeType === 'REALIZED_PNL' && r.time >= 1001 && r.time <= 1007),
    );
    assert.ok(rest.calls.every((c) => c.params.incomeType === 'REALIZED_PNL'));
  });

  test('a server that ignores "page" with a millisecond fuller than a page: a clear error, no endless loop', async () => {
    await assert.rejects(
      new FuturesApi(ledgerRest(rows, { ignorePage: true })).incomeAll({
        startTime: 1000,
        endTime: 1011,
        pageSize: 3,
      }),
      /ignores "page"/,
    );
    // with pages larger than any millisecond it still works
    const got = await new FuturesApi(ledgerRest(rows, { ignorePage: true })).incomeAll({
      startTime: 1000,
      endTime: 1011,
      pageSize: 15,
    });
    assert.deepEqual(got, rows);
  });

  test('bad arguments', async () => {
    const api = new FuturesApi(ledgerRest(rows));
    await assert.rejects(api.incomeAll({ startTime: 1, endTime: 2, pageSize: 1001 }), RangeError);
    await assert.rejects(api.incomeAll({ startTime: 3, endTime: 2 }), RangeError);
    await assert.rejects(
      api.incomeAll({ startTime: 1000, endTime: 1011, pageSize: 1, maxRequests: 3 }),
      /more than 3 requests/,
    );
  });
});

// ---------------------------------------------------------------- against the simulator

/** The security type each endpoint must be called with. */
const SECURITY: Record<string, Security> = {
  'GET /fapi/v1/ping': 'NONE',
  'GET /fapi/v1/time': 'NONE',
  'GET /fapi/v1/exchangeInfo': 'NONE',
  'GET /fapi/v1/klines': 'NONE',
  'GET /fapi/v1/depth': 'NONE',
  'GET /fapi/v1/trades': 'NONE',
  'GET /fapi/v1/ticker/bookTicker': 'NONE',
  'GET /fapi/v2/ticker/price': 'NONE',
  'GET /fapi/v1/ticker/24hr': 'NONE',
  'GET /fapi/v1/premiumIndex': 'NONE',
  'GET /fapi/v1/fundingRate': 'NONE',
  'GET /fapi/v1/fundingInfo': 'NONE',
  'GET /fapi/v2/account': 'USER_DATA',
  'GET /fapi/v3/account': 'USER_DATA',
  'GET /fapi/v2/balance': 'USER_DATA',
  'GET /fapi/v3/balance': 'USER_DATA',
  'GET /fapi/v2/positionRisk': 'USER_DATA',
  'GET /fapi/v3/positionRisk': 'USER_DATA',
  'GET /fapi/v1/accountConfig': 'USER_DATA',
  'GET /fapi/v1/symbolConfig': 'USER_DATA',
  'GET /fapi/v1/commissionRate': 'USER_DATA',
  'GET /fapi/v1/leverageBracket': 'USER_DATA',
  'GET /fapi/v1/positionSide/dual': 'USER_DATA',
  'POST /fapi/v1/positionSide/dual': 'TRADE',
  'GET /fapi/v1/multiAssetsMargin': 'USER_DATA',
  'POST /fapi/v1/leverage': 'TRADE',
  'POST /fapi/v1/marginType': 'TRADE',
  'GET /fapi/v1/rateLimit/order': 'USER_DATA',
  'POST /fapi/v1/order': 'TRADE',
  'POST /fapi/v1/order/test': 'TRADE',
  'POST /fapi/v1/batchOrders': 'TRADE',
  'PUT /fapi/v1/order': 'TRADE',
  'DELETE /fapi/v1/order': 'TRADE',
  'DELETE /fapi/v1/batchOrders': 'TRADE',
  'DELETE /fapi/v1/allOpenOrders': 'TRADE',
  'GET /fapi/v1/order': 'USER_DATA',
  'GET /fapi/v1/openOrder': 'USER_DATA',
  'GET /fapi/v1/openOrders': 'USER_DATA',
  'GET /fapi/v1/allOrders': 'USER_DATA',
  'GET /fapi/v1/userTrades': 'USER_DATA',
  'POST /fapi/v1/algoOrder': 'TRADE',
  'DELETE /fapi/v1/algoOrder': 'TRADE',
  'DELETE /fapi/v1/algoOpenOrders': 'TRADE',
  'GET /fapi/v1/algoOrder': 'USER_DATA',
  'GET /fapi/v1/openAlgoOrders': 'USER_DATA',
  'GET /fapi/v1/allAlgoOrders': 'USER_DATA',
  'GET /fapi/v1/income': 'USER_DATA',
  'POST /fapi/v1/listenKey': 'USER_STREAM',
  'PUT /fapi/v1/listenKey': 'USER_STREAM',
  'DELETE /fapi/v1/listenKey': 'USER_STREAM',
};

/** Asserts the promise fails with Binance code `code` from the simulator. */
async function rejectsWith(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof TestRestError, String(e));
    assert.equal(e.code, code, e.message);
    return true;
  });
}

function ok(r: CheckResult): { price?: string; quantity: string } {
  assert.ok(r.ok, JSON.stringify(r));
  return r;
}

describe('FuturesApi against the simulator', () => {
  const account = { apiKey: 'e'.repeat(64), apiSecret: 'f'.repeat(64) };
  let sim: RunningSim;
  let rest: TestRestCaller;
  let api: FuturesApi;
  let book: RulesBook;
  let t0: number;

  before(async () => {
    sim = await startSim({ port: 0, symbols: 20, accounts: [account] });
    rest = new TestRestCaller(sim.restUrl, account);
    api = new FuturesApi(rest);
    t0 = await api.time();
  });
  after(async () => {
    await rest.close();
    await sim.close();
  });

  const mark = async (symbol: string) => D((await api.premiumIndex(symbol)).markPrice);

  test('exchangeInfo parsed into a RulesBook', async () => {
    const info = await api.exchangeInfo();
    assert.equal(info.symbols.length, 20);
    assert.ok(info.symbols[0].filters.some((f) => f.filterType === 'POSITION_RISK_CONTROL'));
    book = RulesBook.fromExchangeInfo(info);
    assert.equal(book.size, 20);
    const btc = book.get('BTCUSDT');
    assert.ok(btc.tickSize.eq('0.10'));
    assert.ok(btc.stepSize.eq('0.001'));
    assert.ok(btc.minNotional.eq('100'));
    assert.ok(btc.minPrice.eq('556.80'));
    assert.ok(btc.marketMaxQty.eq('120'));
    const trx = book.get('TRXUSDT');
    assert.ok(trx.tickSize.eq('0.00005') && trx.stepSize.eq('5'), 'a symbol with awkward tick and step');
    assert.ok(book.get('AVAXUSDT').tickSize.eq('0.0025'));
  });

  test('market data, typed', async () => {
    await api.ping();
    const now = await api.time();
    assert.ok(now >= t0);
    const kl = await api.klines({ symbol: 'BTCUSDT', interval: '1m', limit: 3 });
    assert.equal(kl.length, 3);
    for (const k of kl) {
      assert.equal(typeof k.openTime, 'number');
      assert.equal(k.closeTime, k.openTime + 59_999);
      assert.equal(typeof k.close, 'string');
      assert.ok(D(k.high).gte(k.low));
      assert.equal(typeof k.trades, 'number');
    }
    const older = await api.klines({ symbol: 'ETHUSDT', interval: '5m', endTime: kl[0].openTime, limit: 2 });
    assert.ok(older.every((k) => k.openTime <= kl[0].openTime));

    const bt = await api.bookTicker('BTCUSDT');
    assert.equal(bt.symbol, 'BTCUSDT');
    assert.ok(D(bt.bidPrice).lt(bt.askPrice));
    const all = await api.bookTicker();
    assert.equal(all.length, 20);
    const pi = await api.premiumIndex('BTCUSDT');
    assert.ok(D(pi.markPrice).isPositive());
    assert.equal(typeof pi.nextFundingTime, 'number');
    assert.equal((await api.premiumIndex()).length, 20);
    const t24 = await api.ticker24h('ETHUSDT');
    assert.ok(D(t24.highPrice).gte(t24.lowPrice));
    assert.equal((await api.ticker24h()).length, 20);
    assert.ok(D((await api.tickerPrice('BTCUSDT')).price).isPositive());
    assert.equal((await api.tickerPrice()).length, 20);
    const depth = await api.depth({ symbol: 'BTCUSDT', limit: 5 });
    assert.equal(depth.bids.length, 5);
    assert.ok(D(depth.bids[0][0]).lt(depth.asks[0][0]));
    const trades = await api.trades({ symbol: 'BTCUSDT', limit: 3 });
    assert.equal(trades.length, 3);
    const fr = await api.fundingRate({ symbol: 'BTCUSDT', limit: 2 });
    assert.ok(fr.length <= 2 && fr.every((r) => r.symbol === 'BTCUSDT'));
    assert.equal((await api.fundingInfo()).length, 20);
  });

  test('account, settings and position mode', async () => {
    const a2 = await api.accountV2();
    assert.equal(a2.positions.length, 20);
    assert.ok(D(a2.totalWalletBalance).eq('10000'));
    const a3 = await api.accountV3();
    assert.equal(a3.assets[0].asset, 'USDT');
    assert.ok(D((await api.balanceV2())[0].balance).eq('10000'));
    assert.ok(D((await api.balanceV3())[0].availableBalance).eq('10000'));
    assert.equal((await api.positionRiskV2()).length, 20);
    assert.deepEqual(await api.positionRiskV3(), []);
    assert.equal(await api.getMultiAssetsMargin(), false);
    assert.ok((await api.orderRateLimit()).length >= 1);
    const cr = await api.commissionRate('BTCUSDT');
    assert.ok(D(cr.takerCommissionRate).gt(cr.makerCommissionRate));
    const [br] = await api.leverageBracket('BTCUSDT');
    assert.equal(br.symbol, 'BTCUSDT');
    assert.equal(br.brackets[0].bracket, 1);
    assert.equal((await api.leverageBracket()).length, 20);

    assert.equal(await api.getPositionMode(), false);
    assert.equal((await api.setPositionMode(true)).code, 200);
    assert.equal(await api.getPositionMode(), true);
    assert.equal((await api.accountConfig()).dualSidePosition, true);
    await rejectsWith(api.setPositionMode(true), -4059);
    await api.setPositionMode(false);
    assert.equal((await api.accountConfig()).dualSidePosition, false);

    const lev = await api.setLeverage('BNBUSDT', 10);
    assert.deepEqual([lev.symbol, lev.leverage], ['BNBUSDT', 10]);
    assert.equal((await api.symbolConfig('BNBUSDT'))[0].leverage, 10);
    await rejectsWith(api.setLeverage('BNBUSDT', 126), -4028);
    assert.equal((await api.setMarginType('BNBUSDT', 'ISOLATED')).msg, 'success');
    assert.equal((await api.positionRiskV2('BNBUSDT'))[0].marginType, 'isolated');
    assert.equal((await api.symbolConfig('BNBUSDT'))[0].marginType, 'ISOLATED');
    await api.setMarginType('BNBUSDT', 'CROSSED');
    await rejectsWith(api.setMarginType('BNBUSDT', 'CROSSED'), -4046);
  });

  test('a LIMIT order with prepared params on a non-power-of-ten tick: place, query, modify, cancel', async () => {
    const symbol = 'TRXUSDT';
    const rules = book.get(symbol);
    const bt = await api.bookTicker(symbol);
    // 3% under the bid, with far more decimals than the tick allows; 20 USDT of it.
    const raw = D(bt.bidPrice).mul('0.9700123');
    const price = rules.roundPrice(raw, 'BUY');
    const prep = ok(
      rules.prepareOrder({
        side: 'BUY',
        type: 'LIMIT',
        price: raw,
        quantity: rules.quoteToQty('20', price),
        markPrice: await mark(symbol),
      }),
    );
    assert.equal(prep.price, rules.formatPrice(price));
    assert.ok(D(prep.quantity).isMultipleOf('5'));
    const placed = await api.newOrder({
      symbol,
      side: 'BUY',
      type: 'LIMIT',
      price: prep.price,
      quantity: prep.quantity,
      newClientOrderId: 'fleet-limit-1',
    });
    assert.equal(placed.status, 'NEW');
    assert.equal(placed.type, 'LIMIT');
    assert.equal(placed.timeInForce, 'GTC');
    assert.ok(D(placed.price).eq(prep.price!));
    assert.ok(D(placed.origQty).eq(prep.quantity));
    assert.equal(placed.clientOrderId, 'fleet-limit-1');

    const byId = await api.getOrder({ symbol, orderId: placed.orderId });
    const byClient = await api.getOrder({ symbol, origClientOrderId: 'fleet-limit-1' });
    assert.equal(byId.orderId, placed.orderId);
    assert.equal(byClient.orderId, placed.orderId);
    assert.equal(typeof byId.time, 'number');
    assert.equal((await api.openOrder({ symbol, orderId: placed.orderId })).status, 'NEW');
    assert.deepEqual(
      (await api.openOrders(symbol)).map((o) => o.orderId),
      [placed.orderId],
    );
    assert.ok((await api.openOrders()).some((o) => o.orderId === placed.orderId));
    assert.equal((await api.positionRiskV3(symbol)).length, 1, 'v3 lists a symbol with open orders');

    const lower = rules.roundPrice(D(prep.price!).sub(rules.tickSize), 'BUY');
    const modified = await api.modifyOrder({
      symbol,
      orderId: placed.orderId,
      side: 'BUY',
      quantity: prep.quantity,
      price: lower,
    });
    assert.ok(D(modified.price).eq(lower));
    const canceled = await api.cancelOrder({ symbol, origClientOrderId: 'fleet-limit-1' });
    assert.equal(canceled.status, 'CANCELED');
    await rejectsWith(api.cancelOrder({ symbol, orderId: placed.orderId }), -2011);
    await rejectsWith(api.openOrder({ symbol, orderId: placed.orderId }), -2013);
    const hist = await api.allOrders({ symbol });
    assert.equal(hist.find((o) => o.orderId === placed.orderId)?.status, 'CANCELED');
    assert.ok((await api.allOrders()).some((o) => o.orderId === placed.orderId));

    const echo = await api.testOrder({
      symbol,
      side: 'BUY',
      type: 'LIMIT',
      price: prep.price,
      quantity: prep.quantity,
    });
    assert.ok(echo === undefined || echo.symbol === symbol);
    assert.deepEqual(await api.openOrders(symbol), []);
  });

  test('the pre-check refuses what the simulator refuses, with the same code', async () => {
    const trx = book.get('TRXUSDT');
    const trxMark = await mark('TRXUSDT');
    const bid = D((await api.bookTicker('TRXUSDT')).bidPrice);
    const good = trx.roundPrice(bid.mul('0.98'), 'BUY');
    const ethMark = await mark('ETHUSDT');
    type Req = Parameters<RulesBook['checkOrder']>[0];
    const cases: Array<[string, Req]> = [
      [
        '-1111 price decimals',
        { symbol: 'TRXUSDT', side: 'BUY', type: 'LIMIT', price: '0.290001', quantity: '100' },
      ],
      [
        '-1111 quantity decimals',
        { symbol: 'TRXUSDT', side: 'BUY', type: 'LIMIT', price: good.toString(), quantity: '100.5' },
      ],
      [
        '-4013 below minPrice',
        {
          symbol: 'TRXUSDT',
          side: 'BUY',
          type: 'LIMIT',
          price: trx.minPrice.sub(trx.tickSize).toString(),
          quantity: '100000',
        },
      ],
      [
        '-4002 above maxPrice',
        {
          symbol: 'TRXUSDT',
          side: 'SELL',
          type: 'LIMIT',
          price: trx.maxPrice.add(trx.tickSize).toString(),
          quantity: '100',
        },
      ],
      [
        '-4014 off the 0.00005 tick',
        {
          symbol: 'TRXUSDT',
          side: 'BUY',
          type: 'LIMIT',
          price: good.add('0.00002').toString(),
          quantity: '100',
        },
      ],
      [
        '-4003 zero quantity',
        { symbol: 'TRXUSDT', side: 'BUY', type: 'LIMIT', price: good.toString(), quantity: '0' },
      ],
      [
        '-4004 below minQty',
        { symbol: 'TRXUSDT', side: 'BUY', type: 'LIMIT', price: good.toString(), quantity: '1' },
      ],
      [
        '-4005 above maxQty',
        {
          symbol: 'TRXUSDT',
          side: 'BUY',
          type: 'LIMIT',
          price: good.toString(),
          quantity: trx.maxQty.add(5).toString(),
        },
      ],
      [
        '-4005 MARKET above MARKET_LOT_SIZE',
        { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '120.001' },
      ],
      [
        '-4023 off the step of 5',
        { symbol: 'TRXUSDT', side: 'BUY', type: 'LIMIT', price: good.toString(), quantity: '102' },
      ],
      [
        '-4016 above mark × multiplierUp',
        {
          symbol: 'TRXUSDT',
          side: 'BUY',
          type: 'LIMIT',
          price: trx.roundPrice(trxMark.mul(trx.multiplierUp).mul('1.03'), 'ceil').toString(),
          quantity: '100',
          markPrice: trxMark,
        },
      ],
      [
        '-4024 below mark × multiplierDown',
        {
          symbol: 'TRXUSDT',
          side: 'SELL',
          type: 'LIMIT',
          price: trx.roundPrice(trxMark.mul(trx.multiplierDown).mul('0.97'), 'floor').toString(),
          quantity: '100',
          markPrice: trxMark,
        },
      ],
      [
        '-4164 LIMIT notional',
        { symbol: 'TRXUSDT', side: 'BUY', type: 'LIMIT', price: good.toString(), quantity: '5' },
      ],
      [
        '-4164 MARKET at the mark',
        { symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: '0.001', markPrice: ethMark },
      ],
      ['-1121 unknown symbol', { symbol: 'NOPEUSDT', side: 'BUY', type: 'MARKET', quantity: '1' }],
      ['-1102 LIMIT without price', { symbol: 'TRXUSDT', side: 'BUY', type: 'LIMIT', quantity: '100' }],
    ];
    for (const [name, req] of cases) {
      const r = book.checkOrder(req);
      assert.equal(r.ok, false, `${name}: ${JSON.stringify(r)}`);
      if (r.ok) continue;
      assert.equal(String(r.code), name.split(' ')[0], `${name}: pre-check code (${r.reason})`);
      // sent anyway, exactly as given
      await rejectsWith(
        api.newOrder({
          symbol: req.symbol,
          side: req.side,
          type: req.type,
          price: req.price,
          quantity: req.quantity,
        }),
        r.code,
      );
    }
    assert.deepEqual(await api.openOrders(), [], 'nothing was placed');
  });

  test('batchOrders: mixed per-item results; cancelBatch and cancelAllOpenOrders', async () => {
    const symbol = 'AVAXUSDT';
    const rules = book.get(symbol);
    const ask = D((await api.bookTicker(symbol)).askPrice);
    const prep = ok(
      rules.prepareOrder({ side: 'SELL', type: 'LIMIT', price: ask.mul('1.0312345'), quantity: '1.37' }),
    );
    assert.ok(D(prep.quantity).eq('1'));
    const res = await api.batchOrders([
      { symbol, side: 'SELL', type: 'LIMIT', price: prep.price, quantity: prep.quantity },
      { symbol, side: 'SELL', type: 'LIMIT', price: D(prep.price!).add('0.001'), quantity: prep.quantity },
      { symbol, side: 'SELL', type: 'LIMIT', price: prep.price, quantity: '1.2' },
      {
        symbol,
        side: 'SELL',
        type: 'LIMIT',
        price: prep.price,
        quantity: prep.quantity,
        newClientOrderId: 'fleet-batch-4',
      },
    ]);
    assert.equal(res.length, 4);
    const [a, b, c, d] = res;
    assert.ok(!isBatchError(a) && a.status === 'NEW');
    assert.ok(isBatchError(b) && b.code === -4014, JSON.stringify(b));
    assert.ok(isBatchError(c) && c.code === -4023, JSON.stringify(c));
    assert.ok(!isBatchError(d) && d.clientOrderId === 'fleet-batch-4');

    const cancels = await api.cancelBatch({ symbol, orderIds: [a.orderId, 999_999_999] });
    assert.ok(!isBatchError(cancels[0]) && cancels[0].status === 'CANCELED');
    assert.ok(isBatchError(cancels[1]) && cancels[1].code === -2011);
    assert.equal((await api.openOrders(symbol)).length, 1);
    assert.equal((await api.cancelAllOpenOrders(symbol)).code, 200);
    assert.deepEqual(await api.openOrders(symbol), []);
  });

  test('algo order round-trip', async () => {
    const symbol = 'TRXUSDT';
    const rules = book.get(symbol);
    const m = await mark(symbol);
    const trigger = rules.roundPrice(m.mul('0.5'), 'floor');
    const placed = await api.newAlgoOrder({
      symbol,
      side: 'SELL',
      type: 'STOP_MARKET',
      quantity: '100',
      triggerPrice: trigger,
      workingType: 'MARK_PRICE',
      clientAlgoId: 'fleet-algo-1',
    });
    assert.equal(placed.algoStatus, 'NEW');
    assert.equal(placed.orderType, 'STOP_MARKET');
    assert.ok(D(placed.triggerPrice).eq(trigger));
    const byId = await api.getAlgoOrder({ algoId: placed.algoId });
    assert.equal(byId.clientAlgoId, 'fleet-algo-1');
    assert.equal(byId.actualOrderId, null);
    assert.equal((await api.getAlgoOrder({ clientAlgoId: 'fleet-algo-1' })).algoId, placed.algoId);
    assert.deepEqual(
      (await api.openAlgoOrders({ symbol })).map((x) => x.algoId),
      [placed.algoId],
    );
    assert.deepEqual(await api.openOrders(symbol), [], 'algo orders are not normal open orders');
    const cancel = await api.cancelAlgoOrder({ algoId: placed.algoId });
    assert.deepEqual([cancel.algoId, String(cancel.code)], [placed.algoId, '200']);
    assert.equal((await api.getAlgoOrder({ algoId: placed.algoId })).algoStatus, 'CANCELED');
    await rejectsWith(api.cancelAlgoOrder({ algoId: placed.algoId }), -2011);
    assert.ok((await api.allAlgoOrders({ symbol })).some((x) => x.algoId === placed.algoId));

    await api.newAlgoOrder({
      symbol,
      side: 'SELL',
      type: 'STOP_MARKET',
      quantity: '100',
      triggerPrice: trigger,
    });
    await api.newAlgoOrder({
      symbol,
      side: 'BUY',
      type: 'TAKE_PROFIT',
      quantity: '100',
      triggerPrice: trigger,
      price: trigger,
    });
    assert.equal((await api.openAlgoOrders()).length, 2);
    assert.equal((await api.cancelAllAlgoOpenOrders(symbol)).code, 200);
    assert.deepEqual(await api.openAlgoOrders({ symbol }), []);
  });

  test('positionRisk v3 after a fill, trades and account, then closing', async () => {
    const symbol = 'SOLUSDT';
    const rules = book.get(symbol);
    const m = await mark(symbol);
    const prep = ok(
      rules.prepareOrder({
        side: 'BUY',
        type: 'MARKET',
        quantity: rules.quoteToQty('400', m, 'floor', true),
        markPrice: m,
      }),
    );
    const filled = await api.newOrder({ symbol, side: 'BUY', type: 'MARKET', quantity: prep.quantity });
    assert.equal(filled.status, 'FILLED', 'RESULT answers the final state');
    assert.ok(D(filled.executedQty).eq(prep.quantity));
    assert.ok(D(filled.avgPrice!).isPositive());

    const [pos] = await api.positionRiskV3(symbol);
    assert.equal(pos.symbol, symbol);
    assert.ok(D(pos.positionAmt).eq(prep.quantity));
    assert.ok(
      D(pos.entryPrice).sub(filled.avgPrice!).abs().lt(rules.tickSize),
      `${pos.entryPrice} ~ ${filled.avgPrice}`,
    );
    assert.ok(D(pos.notional).isPositive());
    assert.ok(
      (await api.accountV3()).positions.some(
        (p) => p.symbol === symbol && D(p.positionAmt).eq(prep.quantity),
      ),
    );
    const v2 = (await api.positionRiskV2(symbol))[0];
    assert.deepEqual([v2.leverage, v2.marginType], ['20', 'cross']);
    const fills = await api.userTrades({ symbol, orderId: filled.orderId });
    assert.ok(fills.length >= 1 && fills.every((t) => t.orderId === filled.orderId && t.side === 'BUY'));
    assert.ok(fills.reduce((s, t) => s.add(t.qty), Decimal.ZERO).eq(prep.quantity));

    // closing is reduce-only: exempt from MIN_NOTIONAL even for a tiny remainder
    assert.ok(
      rules.checkOrder({ side: 'SELL', type: 'MARKET', quantity: '1', reduceOnly: true, markPrice: '1' }).ok,
    );
    const closed = await api.newOrder({
      symbol,
      side: 'SELL',
      type: 'MARKET',
      quantity: prep.quantity,
      reduceOnly: true,
    });
    assert.equal(closed.status, 'FILLED');
    assert.equal(closed.reduceOnly, true);
    assert.deepEqual(await api.positionRiskV3(symbol), []);
  });

  test('income paging over several pages, without duplicates', async () => {
    const symbol = 'DOGEUSDT';
    const rules = book.get(symbol);
    const m = await mark(symbol);
    const qty = ok(
      rules.prepareOrder({
        side: 'BUY',
        type: 'MARKET',
        quantity: rules.quoteToQty('30', m, 'floor', true),
        markPrice: m,
      }),
    ).quantity;
    for (let i = 0; i < 8; i++) {
      const o = await api.newOrder({
        symbol,
        side: i % 2 === 0 ? 'BUY' : 'SELL',
        type: 'MARKET',
        quantity: qty,
      });
      assert.equal(o.status, 'FILLED');
    }
    const t1 = await api.time();
    const single = await api.income({ startTime: t0, endTime: t1, limit: 1000 });
    assert.ok(single.length >= 12, `${single.length} rows`);
    const types = new Set(single.map((r) => r.incomeType));
    assert.ok(types.has('COMMISSION') && types.has('REALIZED_PNL'));
    // tranIds repeat across income types, so the dedupe key must include the type
    const commissionIds = new Set(single.filter((r) => r.incomeType === 'COMMISSION').map((r) => r.tranId));
    assert.ok(single.some((r) => r.incomeType === 'REALIZED_PNL' && commissionIds.has(r.tranId)));

    const before = rest.calls.length;
    const paged = await api.incomeAll({ startTime: t0, endTime: t1, pageSize: 4 });
    const requests = rest.calls.slice(before).filter((c) => c.path === '/fapi/v1/income').length;
    assert.ok(requests > 3, `${requests} requests`);
    assert.deepEqual(paged, single);
    const keys = paged.map((r) => `${r.incomeType}|${r.tranId}|${r.asset}|${r.symbol}|${r.time}`);
    assert.equal(new Set(keys).size, keys.length);
    for (let i = 1; i < paged.length; i++) assert.ok(paged[i - 1].time <= paged[i].time);

    const commissions = await api.incomeAll({
      incomeType: 'COMMISSION',
      symbol,
      startTime: t0,
      endTime: t1,
      pageSize: 3,
    });
    assert.deepEqual(
      commissions,
      single.filter((r) => r.incomeType === 'COMMISSION' && r.symbol === symbol),
    );
    assert.ok(commissions.length >= 8, 'a fill is one commission row; a MARKET order fills at least once');
    assert.ok(commissions.every((r) => D(r.income).isNegative() && r.tradeId !== ''));
  });

  test('listenKey create, keepalive, close', async () => {
    const key = await api.createListenKey();
    assert.ok(key.length >= 32);
    assert.equal(await api.createListenKey(), key, 'POST while active returns the same key');
    assert.equal(await api.keepaliveListenKey(), key);
    await api.closeListenKey();
    await rejectsWith(api.keepaliveListenKey(), -1125);
    assert.notEqual(await api.createListenKey(), key);
  });

  test('every endpoint was called, each with its security type', () => {
    const seen = new Set<string>();
    for (const c of rest.calls) {
      const k = `${c.method} ${c.path}`;
      assert.ok(k in SECURITY, `unexpected endpoint ${k}`);
      assert.equal(c.security, SECURITY[k], k);
      seen.add(k);
    }
    assert.deepEqual(
      Object.keys(SECURITY).filter((k) => !seen.has(k)),
      [],
    );
  });
});
