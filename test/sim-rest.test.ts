// The simulator over real HTTP: Binance's auth, weight and order-count rules, per-IP accounting,
// control endpoints and fault injection.

import assert from 'node:assert/strict';
import { createHmac, sign as edSign, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { FuturesApi } from '../core/binance/endpoints.ts';
import { createClient } from '../core/binance/rest.ts';
import { type RunningSim, startSim } from '../sim/index.ts';
import { call, closeAgents, control } from './helpers/rest.ts';

describe('simulator REST', () => {
  let sim: RunningSim;
  let origin: string;
  const account = { apiKey: 'a'.repeat(64), apiSecret: 'b'.repeat(64) };

  before(async () => {
    sim = await startSim({ port: 0, symbols: 30, accounts: [account] });
    origin = sim.restUrl;
  });
  after(async () => {
    await closeAgents();
    await sim.close();
  });

  test('public market data, with the weight header on every answer', async () => {
    const t0 = Date.now();
    const time = await call(origin, 'GET', '/fapi/v1/time');
    assert.equal(time.status, 200);
    assert.ok(Math.abs(time.body.serverTime - t0) < 5000);
    assert.ok(Number(time.headers['x-mbx-used-weight-1m']) >= 1);

    const info = await call(origin, 'GET', '/fapi/v1/exchangeInfo');
    const names = info.body.symbols.map((s: { symbol: string }) => s.symbol);
    assert.deepEqual(names.slice(0, 5), ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT']);
    assert.equal(names.length, 30);
    const btc = info.body.symbols[0];
    const f = Object.fromEntries(btc.filters.map((x: { filterType: string }) => [x.filterType, x]));
    assert.equal(f.PRICE_FILTER.tickSize, '0.10');
    assert.equal(f.LOT_SIZE.stepSize, '0.001');
    assert.equal(f.MIN_NOTIONAL.notional, '100');
    assert.deepEqual(
      info.body.rateLimits.map((r: { limit: number }) => r.limit),
      [2400, 1200, 300],
    );

    const book = await call(origin, 'GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' });
    assert.deepEqual(Object.keys(book.body), ['symbol', 'bidPrice', 'bidQty', 'askPrice', 'askQty', 'time']);
    assert.ok(Number(book.body.bidPrice) < Number(book.body.askPrice));

    const kl = await call(origin, 'GET', '/fapi/v1/klines', { symbol: 'ETHUSDT', interval: '1m', limit: 45 });
    assert.equal(kl.body.length, 45);
    assert.equal(kl.body[0].length, 12);

    const bad = await call(origin, 'GET', '/fapi/v1/klines', { symbol: 'NOPEUSDT', interval: '1m' });
    assert.deepEqual([bad.status, bad.body.code], [400, -1121]);
    const badInterval = await call(origin, 'GET', '/fapi/v1/klines', { symbol: 'BTCUSDT', interval: '7m' });
    assert.equal(badInterval.body.code, -1120);
    const missing = await call(origin, 'GET', '/fapi/v1/klines', { interval: '1m' });
    assert.equal(missing.body.code, -1102);
    const depth = await call(origin, 'GET', '/fapi/v1/depth', { symbol: 'BTCUSDT', limit: 7 });
    assert.equal(depth.body.code, -4021);
    const retired = await call(origin, 'GET', '/fapi/v1/positionRisk');
    assert.equal(retired.body.code, -5000);
    const unknown = await call(origin, 'GET', '/fapi/v1/nothingHere');
    assert.equal(unknown.status, 404);
    // An unsupported method and an oversized body still get Binance's error shape.
    const patch = await request(`${origin}/fapi/v1/order`, { method: 'PATCH' });
    assert.deepEqual([patch.statusCode, ((await patch.body.json()) as { code: number }).code], [404, -5000]);
    const huge = await request(`${origin}/fapi/v1/order`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'x'.repeat(2 << 20),
    });
    assert.equal(huge.statusCode, 413);
    assert.equal(((await huge.body.json()) as { code: number }).code, -1000);
    const ping = await call(origin, 'GET', '/fapi/v1/ping');
    assert.equal(ping.status, 200, 'and it goes on serving');
  });

  test('more market endpoints: aggTrades, openInterest, mark/index/premium klines, /futures/data errors, 1500-bar history', async () => {
    const from = { localAddress: '127.0.0.11' };
    const agg = await call(origin, 'GET', '/fapi/v1/aggTrades', { symbol: 'BTCUSDT', limit: 5 }, from);
    assert.equal(agg.status, 200);
    assert.equal(agg.headers['x-mbx-used-weight-1m'], '20');
    assert.equal(agg.body.length, 5);
    assert.deepEqual(Object.keys(agg.body[0]), ['a', 'p', 'q', 'nq', 'f', 'l', 'T', 'm']);
    for (let j = 1; j < 5; j++) assert.equal(agg.body[j].a, agg.body[j - 1].a + 1);
    const fromId = await call(origin, 'GET', '/fapi/v1/aggTrades', {
      symbol: 'BTCUSDT',
      fromId: agg.body[1].a,
      limit: 2,
    });
    assert.deepEqual(
      fromId.body.map((t: { a: number }) => t.a),
      [agg.body[1].a, agg.body[2].a],
    );
    const bad = await call(origin, 'GET', '/fapi/v1/aggTrades', {
      symbol: 'BTCUSDT',
      fromId: 1,
      startTime: 1,
    });
    assert.equal(bad.body.code, -1128);

    const oi = await call(origin, 'GET', '/fapi/v1/openInterest', { symbol: 'BTCUSDT' });
    assert.deepEqual(Object.keys(oi.body), ['openInterest', 'symbol', 'time']);
    assert.ok(Number(oi.body.openInterest) > 0);

    for (const [path, key] of [
      ['/fapi/v1/markPriceKlines', 'symbol'],
      ['/fapi/v1/indexPriceKlines', 'pair'],
      ['/fapi/v1/premiumIndexKlines', 'symbol'],
    ]) {
      const r = await call(
        origin,
        'GET',
        path,
        { [key]: 'BTCUSDT', interval: '1h', limit: 100 },
        { localAddress: '127.0.0.12' },
      );
      assert.equal(r.status, 200, `${path} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.length, 100);
      assert.equal(r.body[0].length, 12);
      assert.equal(r.body[0][5], '0');
      assert.ok(Number(r.body[0][2]) >= Number(r.body[0][3]));
    }
    assert.equal(
      (await call(origin, 'GET', '/fapi/v1/indexPriceKlines', { interval: '1h' })).body.code,
      -1102,
    );

    const fd = await call(origin, 'GET', '/futures/data/openInterestHist', {
      symbol: 'BTCUSDT',
      period: '5m',
    });
    assert.equal(fd.status, 404);
    assert.deepEqual(fd.body, {
      code: -5000,
      msg: 'Path /futures/data/openInterestHist, Method GET is invalid',
    });
    assert.ok(fd.headers['x-mbx-used-weight-1m'] !== undefined);

    for (const interval of ['1m', '1h', '4h', '1d']) {
      const r = await call(origin, 'GET', '/fapi/v1/klines', { symbol: 'SOLUSDT', interval, limit: 1500 });
      assert.equal(r.body.length, 1500, interval);
    }
    const funding = await call(origin, 'GET', '/fapi/v1/fundingRate', { symbol: 'BTCUSDT', limit: 1000 });
    assert.equal(funding.body.length, 1000);
  });

  test("weights are charged per remote address, by Binance's table", async () => {
    const before = await control(origin, 'GET', '/sim/stats');
    const used0 = before.ips['127.0.0.7']?.weight1m ?? 0;
    await call(
      origin,
      'GET',
      '/fapi/v1/klines',
      { symbol: 'BTCUSDT', interval: '1m', limit: 45 },
      { localAddress: '127.0.0.7' },
    );
    await call(
      origin,
      'GET',
      '/fapi/v1/klines',
      { symbol: 'BTCUSDT', interval: '1m', limit: 500 },
      { localAddress: '127.0.0.7' },
    );
    const r = await call(origin, 'GET', '/fapi/v1/ticker/bookTicker', {}, { localAddress: '127.0.0.7' });
    assert.equal(Number(r.headers['x-mbx-used-weight-1m']), used0 + 1 + 5 + 5);
    await call(origin, 'GET', '/fapi/v1/ping', {}, { localAddress: '127.0.0.8' });
    const stats = await control(origin, 'GET', '/sim/stats');
    assert.equal(stats.ips['127.0.0.7'].weight1m, used0 + 11);
    assert.equal(stats.ips['127.0.0.8'].weight1m, 1);
    assert.equal(stats.ips['127.0.0.8'].requests, 1);
  });

  test('gzip when the client asks', async () => {
    const res = await request(`${origin}/fapi/v1/exchangeInfo`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers['content-encoding'], 'gzip');
    const json = JSON.parse(gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString());
    assert.equal(json.symbols[0].symbol, 'BTCUSDT');
  });

  test('authentication: 401 -2015, -2014, -1022, -1021, -1102', async () => {
    const ok = await call(origin, 'GET', '/fapi/v2/balance', {}, { account, signed: true });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body[0].asset, 'USDT');
    const stranger = await call(
      origin,
      'GET',
      '/fapi/v2/balance',
      {},
      { account: { apiKey: 'c'.repeat(64), apiSecret: 'x' }, signed: true },
    );
    assert.deepEqual([stranger.status, stranger.body.code], [401, -2015]);
    const noKey = await call(origin, 'GET', '/fapi/v2/balance', { timestamp: Date.now() });
    assert.deepEqual([noKey.status, noKey.body.code], [401, -2014]);
    const badSig = await call(
      origin,
      'GET',
      '/fapi/v2/balance',
      {},
      { account: { ...account, apiSecret: 'wrong' }, signed: true },
    );
    assert.deepEqual([badSig.status, badSig.body.code], [400, -1022]);
    const old = await call(
      origin,
      'GET',
      '/fapi/v2/balance',
      {},
      { account, signed: true, timestamp: Date.now() - 10_000 },
    );
    assert.equal(old.body.code, -1021);
    const noSig = await call(origin, 'GET', '/fapi/v2/balance', { timestamp: Date.now() }, { account });
    assert.equal(noSig.body.code, -1102);
  });

  test('signature last: a parameter appended after it is -1022 and nothing is applied; duplicates -1101', async () => {
    const price = Number(
      (await call(origin, 'GET', '/fapi/v1/ticker/price', { symbol: 'BTCUSDT' })).body.price,
    );
    const low = (Math.floor((price * 0.9) / 0.1) * 0.1).toFixed(1);
    const payload = new URLSearchParams({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: '0.002',
      price: low,
      newClientOrderId: 'after-signature-1',
      timestamp: String(Date.now()),
    }).toString();
    const sig = createHmac('sha256', account.apiSecret).update(payload).digest('hex');
    const send = async (method: string, query: string, body?: string) => {
      const res = await request(`${origin}/fapi/v1/order${query ? `?${query}` : ''}`, {
        method: method as 'POST',
        headers: {
          'x-mbx-apikey': account.apiKey,
          ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        body,
      });
      return { status: res.statusCode, body: (await res.body.json()) as { code?: number; status?: string } };
    };
    for (const r of [
      await send('POST', `${payload}&signature=${sig}&reduceOnly=true`),
      await send('POST', '', `${payload}&signature=${sig}&reduceOnly=true`),
      // Signature last in the query but another one in the body.
      await send('POST', `${payload}&signature=${sig}`, `signature=${sig}`),
    ]) {
      assert.deepEqual([r.status, r.body.code], [400, -1022]);
    }
    const open = await call(
      origin,
      'GET',
      '/fapi/v1/openOrders',
      { symbol: 'BTCUSDT' },
      { account, signed: true },
    );
    assert.ok(!open.body.some((o: { clientOrderId: string }) => o.clientOrderId === 'after-signature-1'));
    // Duplicates in the query, or in the body: -1101 (a parameter in both: the query's wins).
    const dupQ = await send('POST', `${payload}&symbol=ETHUSDT&signature=${sig}`);
    assert.deepEqual([dupQ.status, dupQ.body.code], [400, -1101]);
    const dupB = await send('POST', '', `${payload}&quantity=1&signature=${sig}`);
    assert.deepEqual([dupB.status, dupB.body.code], [400, -1101]);
    // The same request signed properly, signature last in the query and a body after it (the
    // official connector's form): accepted.
    const q = 'symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC';
    const b = `quantity=0.002&price=${low}&newClientOrderId=after-signature-2&timestamp=${Date.now()}`;
    const mixed = createHmac('sha256', account.apiSecret)
      .update(q + b)
      .digest('hex');
    const ok = await send('POST', `${q}&signature=${mixed}`, b);
    assert.deepEqual([ok.status, ok.body.status], [200, 'NEW']);
    await call(
      origin,
      'DELETE',
      '/fapi/v1/order',
      { symbol: 'BTCUSDT', origClientOrderId: 'after-signature-2' },
      { account, signed: true },
    );
  });

  test('orders through the signed API: rest, query, cancel, fill, -4120, order-count headers', async () => {
    const price = Number(
      (await call(origin, 'GET', '/fapi/v1/ticker/price', { symbol: 'BTCUSDT' })).body.price,
    );
    const low = (Math.floor((price * 0.9) / 0.1) * 0.1).toFixed(1);
    const placed = await call(
      origin,
      'POST',
      '/fapi/v1/order',
      {
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'LIMIT',
        timeInForce: 'GTC',
        quantity: '0.002',
        price: low,
        newClientOrderId: 'rest-test-1',
      },
      { account, signed: true, inBody: true },
    );
    assert.equal(placed.status, 200, JSON.stringify(placed.body));
    assert.equal(placed.body.status, 'NEW');
    assert.ok(Number(placed.headers['x-mbx-order-count-10s']) >= 1);
    assert.ok(Number(placed.headers['x-mbx-order-count-1m']) >= 1);
    const open = await call(
      origin,
      'GET',
      '/fapi/v1/openOrders',
      { symbol: 'BTCUSDT' },
      { account, signed: true },
    );
    assert.ok(open.body.some((o: { clientOrderId: string }) => o.clientOrderId === 'rest-test-1'));
    const cancelled = await call(
      origin,
      'DELETE',
      '/fapi/v1/order',
      { symbol: 'BTCUSDT', origClientOrderId: 'rest-test-1' },
      { account, signed: true },
    );
    assert.equal(cancelled.body.status, 'CANCELED');
    const again = await call(
      origin,
      'DELETE',
      '/fapi/v1/order',
      { symbol: 'BTCUSDT', origClientOrderId: 'rest-test-1' },
      { account, signed: true },
    );
    assert.equal(again.body.code, -2011);

    const market = await call(
      origin,
      'POST',
      '/fapi/v1/order',
      { symbol: 'ETHUSDT', side: 'BUY', type: 'MARKET', quantity: '0.05', newOrderRespType: 'RESULT' },
      { account, signed: true },
    );
    assert.equal(market.body.status, 'FILLED', JSON.stringify(market.body));
    const stats = await control(origin, 'GET', '/sim/stats');
    assert.equal(stats.accounts[account.apiKey].positions.ETHUSDT, '0.050');
    assert.equal(stats.accounts[account.apiKey].positionsBySide['ETHUSDT:BOTH'], '0.050');

    const stop = await call(
      origin,
      'POST',
      '/fapi/v1/order',
      { symbol: 'BTCUSDT', side: 'SELL', type: 'STOP_MARKET', stopPrice: low, quantity: '0.002' },
      { account, signed: true },
    );
    assert.equal(stop.body.code, -4120);
  });

  test('POST /sim/price moves the market at once', async () => {
    const r = await control(origin, 'POST', '/sim/price', { symbol: 'BTCUSDT', price: '65000.0' });
    assert.equal(Number(r.price), 65000);
    const price = await call(origin, 'GET', '/fapi/v1/ticker/price', { symbol: 'BTCUSDT' });
    assert.equal(Number(price.body.price), 65000);
    const book = await call(origin, 'GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' });
    assert.ok(Number(book.body.bidPrice) <= 65000 && Number(book.body.askPrice) >= 65000);
    const prem = await call(origin, 'GET', '/fapi/v1/premiumIndex', { symbol: 'BTCUSDT' });
    assert.ok(Math.abs(Number(prem.body.markPrice) - 65000) < 65);
    const kl = await call(origin, 'GET', '/fapi/v1/klines', { symbol: 'BTCUSDT', interval: '1m', limit: 1 });
    assert.ok(Number(kl.body[0][2]) >= 65000 && Number(kl.body[0][3]) <= 65000);
    const bad = await request(`${origin}/sim/price`, {
      method: 'POST',
      body: '{"symbol":"BTCUSDT","price":"-1"}',
    });
    assert.equal(bad.statusCode, 400);
    await bad.body.text();
  });

  test('malformed requests get Binance errors and the server keeps serving', async () => {
    const raw = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
      const res = await request(`${origin}${path}`, { method: method as 'GET', body, headers });
      const text = await res.body.text();
      return { status: res.statusCode, text };
    };
    const cases: Array<[Promise<{ status: number; text: string }>, number, string]> = [
      [
        raw('GET', '/fapi/v1/klines?symbol=%%%&interval=%E0%A4%A'),
        400,
        '{"code":-1121,"msg":"Invalid symbol."}',
      ],
      [
        raw('GET', `/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=${'9'.repeat(400)}`),
        400,
        `{"code":-1130,"msg":"Data sent for parameter 'limit' is not valid."}`,
      ],
      [
        raw('GET', '/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime=abc'),
        400,
        `{"code":-1130,"msg":"Data sent for parameter 'startTime' is not valid."}`,
      ],
      // A JSON body is not read: the signed parameters are missing.
      [
        raw('POST', '/fapi/v1/order', '{"symbol":"BTCUSDT"}', {
          'content-type': 'application/json',
          'x-mbx-apikey': account.apiKey,
        }),
        400,
        `{"code":-1102,"msg":"Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."}`,
      ],
      [
        raw('POST', '/fapi/v1/order?signature=%ZZ', 'a=b', { 'x-mbx-apikey': account.apiKey }),
        400,
        `{"code":-1102,"msg":"Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."}`,
      ],
      [
        raw('PATCH', '/fapi/v1/order'),
        404,
        '{"code":-5000,"msg":"Path /fapi/v1/order, Method PATCH is invalid"}',
      ],
      [
        raw('GET', `/fapi/v1/time?${'a=1&'.repeat(2000)}`),
        400,
        '{"code":-1101,"msg":"Duplicate values for a parameter detected."}',
      ],
    ];
    for (const [pending, status, text] of cases) {
      const r = await pending;
      assert.deepEqual([r.status, r.text], [status, text]);
    }
    // Unknown parameters are ignored, as Binance does: every book ticker.
    const extra = await raw('GET', '/fapi/v1/ticker/bookTicker?symbol[]=x');
    assert.equal(extra.status, 200);
    assert.equal(JSON.parse(extra.text).length, 30);
    const ok = await call(origin, 'GET', '/fapi/v1/ping');
    assert.equal(ok.status, 200);
  });

  test('a 503 "unknown" fault: the order is placed although the answer is an error', async () => {
    await control(origin, 'POST', '/sim/faults', {
      kind: 'unknown',
      path: '/fapi/v1/order',
      method: 'POST',
      count: 1,
    });
    const r = await call(
      origin,
      'POST',
      '/fapi/v1/order',
      {
        symbol: 'ETHUSDT',
        side: 'BUY',
        type: 'MARKET',
        quantity: '0.01',
        newClientOrderId: 'unknown-outcome-1',
      },
      { account, signed: true },
    );
    assert.equal(r.status, 503);
    const q = await call(
      origin,
      'GET',
      '/fapi/v1/order',
      { symbol: 'ETHUSDT', origClientOrderId: 'unknown-outcome-1' },
      { account, signed: true },
    );
    assert.equal(q.status, 200);
    assert.equal(q.body.status, 'FILLED');
    await control(origin, 'POST', '/sim/faults', {
      kind: 'error',
      status: 502,
      path: '/fapi/v1/time',
      count: 1,
    });
    assert.equal((await call(origin, 'GET', '/fapi/v1/time')).status, 502);
    assert.equal((await call(origin, 'GET', '/fapi/v1/time')).status, 200, 'count consumed');
    const badFault = await request(`${origin}/sim/faults`, { method: 'POST', body: '{"kind":"meteor"}' });
    assert.equal(badFault.statusCode, 400);
    await badFault.body.text();
  });

  test('order-count limit per account: the 301st order in 10 s gets 429 -1015', async () => {
    const acct2 = { apiKey: 'd'.repeat(64), apiSecret: 'e'.repeat(64) };
    await control(origin, 'POST', '/sim/accounts', acct2);
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 301; i++) {
      // Invalid quantity: rejected by the engine but still counted, as on Binance.
      last = await call(
        origin,
        'POST',
        '/fapi/v1/order',
        { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0' },
        { account: acct2, signed: true },
      );
    }
    assert.equal(last!.status, 429);
    assert.equal(last!.body.code, -1015);
    assert.ok(Number(last!.headers['retry-after']) >= 1);
    // /sim/stats shows it for the account and for the address it came from.
    const stats = await control(origin, 'GET', '/sim/stats');
    assert.equal(stats.accounts[acct2.apiKey].http429, 1);
    assert.equal(stats.accounts[account.apiKey].http429, 0);
    assert.ok(stats.ips['127.0.0.1'].http429 >= 1);
  });
});

describe('simulator IP limits', () => {
  test('over the weight limit → 429 -1003 with Retry-After; hammering on → 418 ban', async () => {
    const sim = await startSim({ port: 0, symbols: 5, weightLimit: 20 });
    try {
      const from = { localAddress: '127.0.0.9' };
      for (let i = 0; i < 20; i++)
        assert.equal((await call(sim.restUrl, 'GET', '/fapi/v1/ping', {}, from)).status, 200);
      const limited = await call(sim.restUrl, 'GET', '/fapi/v1/ping', {}, from);
      assert.equal(limited.status, 429);
      assert.equal(limited.body.code, -1003);
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.equal(
        (await call(sim.restUrl, 'GET', '/fapi/v1/ping', {}, { localAddress: '127.0.0.10' })).status,
        200,
        'other IP unaffected',
      );
      let banned: Awaited<ReturnType<typeof call>> | undefined;
      for (let i = 0; i < 20 && banned?.status !== 418; i++)
        banned = await call(sim.restUrl, 'GET', '/fapi/v1/ping', {}, from);
      assert.equal(banned!.status, 418);
      assert.match(banned!.body.msg, /banned until/);
      assert.equal(Number(banned!.headers['retry-after']), 120);
      const stats = await control(sim.restUrl, 'GET', '/sim/stats');
      assert.ok(stats.ips['127.0.0.9'].http429 >= 1);
      assert.equal(stats.ips['127.0.0.9'].http418, 1);
    } finally {
      await closeAgents();
      await sim.close();
    }
  });
});

describe('simulator funding history', () => {
  test('fundingRate with and without a symbol', async () => {
    const sim = await startSim({ port: 0, symbols: 5 });
    try {
      const one = await call(sim.restUrl, 'GET', '/fapi/v1/fundingRate', { symbol: 'BTCUSDT', limit: 2 });
      assert.equal(one.status, 200);
      assert.ok(one.body.every((r: { symbol: string }) => r.symbol === 'BTCUSDT'));
      const all = await call(sim.restUrl, 'GET', '/fapi/v1/fundingRate', { limit: 10 });
      assert.equal(all.status, 200);
      assert.ok(all.body.length > 0 && all.body.length <= 10);
      const times = all.body.map((r: { fundingTime: number }) => r.fundingTime);
      assert.deepEqual(
        times,
        [...times].sort((a: number, b: number) => a - b),
      );
    } finally {
      await sim.close();
    }
  });
});

describe('simulator depth: takers walk the book', () => {
  test('a MARKET buy larger than the touch takes several levels; taken levels stay gone until the next step', async () => {
    const rich = { apiKey: 'r'.repeat(64), apiSecret: 's'.repeat(64), balance: '10000000' };
    const sim = await startSim({
      port: 0,
      symbols: 30,
      virtualClock: true,
      startTime: Date.now(),
      accounts: [rich],
    });
    try {
      const o = sim.restUrl;
      const before = (await call(o, 'GET', '/fapi/v1/depth', { symbol: 'BTCUSDT', limit: 5 })).body;
      const asks = before.asks.map(([p, q]: [string, string]) => [Number(p), Math.round(Number(q) * 1000)]);
      // Two full levels and half of the third (quantities in steps of 0.001).
      const third = Math.max(1, Math.floor(asks[2][1] / 2));
      const steps = asks[0][1] + asks[1][1] + third;
      const qty = (steps / 1000).toFixed(3);
      const r = await call(
        o,
        'POST',
        '/fapi/v1/order',
        { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: qty, newOrderRespType: 'RESULT' },
        { account: rich, signed: true },
      );
      assert.equal(r.body.status, 'FILLED', JSON.stringify(r.body));
      const quote = asks[0][0] * asks[0][1] + asks[1][0] * asks[1][1] + asks[2][0] * third;
      assert.ok(
        Math.abs(Number(r.body.avgPrice) - quote / steps) < 0.1,
        `${r.body.avgPrice} vs ${quote / steps}`,
      );
      const trades = await call(
        o,
        'GET',
        '/fapi/v1/userTrades',
        { symbol: 'BTCUSDT', orderId: r.body.orderId },
        { account: rich, signed: true },
      );
      assert.deepEqual(
        trades.body.map((t: { price: string }) => Number(t.price)),
        [asks[0][0], asks[1][0], asks[2][0]],
      );
      const after = (await call(o, 'GET', '/fapi/v1/depth', { symbol: 'BTCUSDT', limit: 5 })).body;
      assert.ok(after.lastUpdateId > before.lastUpdateId);
      assert.equal(Number(after.asks[0][0]), asks[2][0]);
      assert.equal(Math.round(Number(after.asks[0][1]) * 1000), asks[2][1] - third);
      const bt = (await call(o, 'GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' })).body;
      assert.equal(Number(bt.askPrice), asks[2][0]);
      // The next market step refreshes the book.
      await control(o, 'POST', '/sim/clock', { advanceMs: 1000 });
      const fresh = (await call(o, 'GET', '/fapi/v1/depth', { symbol: 'BTCUSDT', limit: 5 })).body;
      const bt2 = (await call(o, 'GET', '/fapi/v1/ticker/bookTicker', { symbol: 'BTCUSDT' })).body;
      assert.deepEqual([bt2.askPrice, bt2.askQty], fresh.asks[0]);

      // Ordinary orders (a few hundred USDT) on every symbol fill at the touch, as one trade.
      const info = (await call(o, 'GET', '/fapi/v1/exchangeInfo')).body;
      for (const s of info.symbols) {
        const lot = s.filters.find((f: { filterType: string }) => f.filterType === 'MARKET_LOT_SIZE');
        const book = (await call(o, 'GET', '/fapi/v1/ticker/bookTicker', { symbol: s.symbol })).body;
        const step = Number(lot.stepSize);
        const q = Math.max(Number(lot.minQty), Math.ceil(400 / Number(book.askPrice) / step) * step);
        const m = await call(
          o,
          'POST',
          '/fapi/v1/order',
          {
            symbol: s.symbol,
            side: 'BUY',
            type: 'MARKET',
            quantity: q.toFixed(s.quantityPrecision),
            newOrderRespType: 'RESULT',
          },
          { account: rich, signed: true },
        );
        assert.equal(m.body.status, 'FILLED', `${s.symbol}: ${JSON.stringify(m.body)}`);
        assert.equal(Number(m.body.avgPrice), Number(book.askPrice), s.symbol);
      }
    } finally {
      await closeAgents();
      await sim.close();
    }
  });
});

describe('simulator REST with Ed25519 API keys', () => {
  const pair = () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    return {
      publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      privateKey,
    };
  };
  const ed = pair();
  const other = pair();
  const apiKey = `ed-${'e'.repeat(61)}`;
  const hmacAccount = { apiKey: 'h'.repeat(64), apiSecret: 'i'.repeat(64) };
  let sim: RunningSim;

  before(async () => {
    sim = await startSim({
      port: 0,
      symbols: 5,
      accounts: [{ apiKey, ed25519PublicKey: ed.publicPem }, hmacAccount],
    });
  });
  after(async () => {
    await closeAgents();
    await sim.close();
  });

  /** A raw signed request: Ed25519 over query + body, base64, URL-encoded. */
  const sendEd = async (
    method: 'GET' | 'POST',
    path: string,
    /** Raw query before timestamp ("" or "k=v&…&"). */
    head: string,
    key = ed.privateKey,
    after = '',
  ) => {
    const query = `${head}timestamp=${Date.now()}`;
    const sig = encodeURIComponent(edSign(null, Buffer.from(query), key).toString('base64'));
    const res = await request(`${sim.restUrl}${path}?${query}&signature=${sig}${after}`, {
      method,
      headers: { 'x-mbx-apikey': apiKey },
    });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };

  test('our client with an Ed25519 key places an order and reads the account', async () => {
    const rest = createClient({
      env: 'simulator',
      restUrl: sim.restUrl,
      apiKey,
      ed25519PrivateKey: ed.privatePem,
    });
    try {
      const api = new FuturesApi(rest);
      const price = Number(
        (await call(sim.restUrl, 'GET', '/fapi/v1/ticker/price', { symbol: 'BTCUSDT' })).body.price,
      );
      const low = (Math.floor((price * 0.9) / 0.1) * 0.1).toFixed(1);
      const placed = await api.newOrder({
        symbol: 'BTCUSDT',
        side: 'BUY',
        type: 'LIMIT',
        timeInForce: 'GTC',
        price: low,
        quantity: '0.002',
      });
      assert.equal(placed.status, 'NEW');
      const open = await api.openOrders('BTCUSDT');
      assert.deepEqual(
        open.map((o) => o.orderId),
        [placed.orderId],
      );
      const account = await api.accountV3();
      assert.equal(account.assets.find((a) => a.asset === 'USDT')?.walletBalance, '10000.00000000');
      // The order went in the simulator's book for this account (the body went in the form).
      assert.equal(((await control(sim.restUrl, 'GET', '/sim/stats')).accounts[apiKey] as any).orders, 1);
    } finally {
      await rest.close();
    }
    const wrong = createClient({
      env: 'simulator',
      restUrl: sim.restUrl,
      apiKey,
      ed25519PrivateKey: other.privatePem,
    });
    try {
      await assert.rejects(new FuturesApi(wrong).accountV3(), (err: any) => err.code === -1022);
    } finally {
      await wrong.close();
    }
  });

  test('wrong key, HMAC on an Ed25519 account, trailing parameters → -1022; HMAC accounts unchanged', async () => {
    const ok = await sendEd('GET', '/fapi/v2/balance', '');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const otherKey = await sendEd('GET', '/fapi/v2/balance', '', other.privateKey);
    assert.deepEqual([otherKey.status, otherKey.body.code], [400, -1022]);
    const trailing = await sendEd('GET', '/fapi/v2/balance', '', ed.privateKey, '&recvWindow=60000');
    assert.deepEqual([trailing.status, trailing.body.code], [400, -1022]);
    const windowed = await sendEd('GET', '/fapi/v2/balance', 'recvWindow=10000&');
    assert.equal(windowed.status, 200);
    const dup = await sendEd('GET', '/fapi/v2/balance', 'recvWindow=5000&recvWindow=6000&');
    assert.deepEqual([dup.status, dup.body.code], [400, -1101]);
    const asHmac = await call(
      sim.restUrl,
      'GET',
      '/fapi/v2/balance',
      {},
      {
        account: { apiKey, apiSecret: sim.accounts[0].apiSecret },
        signed: true,
      },
    );
    assert.deepEqual([asHmac.status, asHmac.body.code], [400, -1022]);
    const old = await (async () => {
      const query = `timestamp=${Date.now() - 10_000}`;
      const sig = encodeURIComponent(edSign(null, Buffer.from(query), ed.privateKey).toString('base64'));
      const res = await request(`${sim.restUrl}/fapi/v2/balance?${query}&signature=${sig}`, {
        headers: { 'x-mbx-apikey': apiKey },
      });
      return (await res.body.json()) as any;
    })();
    assert.equal(old.code, -1021);
    const hmac = await call(
      sim.restUrl,
      'GET',
      '/fapi/v2/balance',
      {},
      { account: hmacAccount, signed: true },
    );
    assert.equal(hmac.status, 200);
  });

  test('POST /sim/accounts takes an Ed25519 public key; a bad PEM is 400; startSim refuses bad shapes', async () => {
    const third = pair();
    const res = await request(`${sim.restUrl}/sim/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiKey: 'added-ed25519-key',
        ed25519PublicKey: third.publicPem,
        balance: '500',
      }),
    });
    assert.equal(res.statusCode, 200, await res.body.text());
    const rest = createClient({
      env: 'simulator',
      restUrl: sim.restUrl,
      apiKey: 'added-ed25519-key',
      ed25519PrivateKey: third.privatePem,
    });
    try {
      const bal = await new FuturesApi(rest).accountV3();
      assert.equal(bal.assets.find((a) => a.asset === 'USDT')?.walletBalance, '500.00000000');
    } finally {
      await rest.close();
    }
    for (const body of [
      { apiKey: 'added-ed25519-key', ed25519PublicKey: 'not a pem' },
      { apiKey: 'added-ed25519-key', ed25519PublicKey: third.privatePem },
      { apiKey: 'added-ed25519-key', ed25519PublicKey: third.publicPem, apiSecret: 'x'.repeat(16) },
      { apiKey: 'added-ed25519-key' },
    ]) {
      const bad = await request(`${sim.restUrl}/sim/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(bad.statusCode, 400, JSON.stringify(body));
      await bad.body.text();
    }
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    await assert.rejects(startSim({ port: 0, accounts: [{ apiKey, ed25519PublicKey: rsa }] }), TypeError);
    await assert.rejects(
      startSim({ port: 0, accounts: [{ apiKey, ed25519PublicKey: ed.publicPem, apiSecret: 'x' } as any] }),
      TypeError,
    );
  });
});
