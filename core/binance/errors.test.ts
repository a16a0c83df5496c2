import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BINANCE_CODES } from './codes.ts';
import {
  AuthError,
  BinanceError,
  ClockError,
  CODE_CATEGORY,
  categoryOf,
  FilterError,
  InvalidRequestError,
  IpBannedError,
  isOrderPlacing,
  isRetrySafe,
  ListenKeyError,
  MarginError,
  NetworkError,
  OrderNotFoundError,
  OrderRejectedError,
  RateLimitError,
  ServerError,
  toBinanceError,
  transportError,
  UnknownOutcomeError,
} from './errors.ts';

test('every code of the shared code table has a category', () => {
  const missing = Object.keys(BINANCE_CODES)
    .map(Number)
    .filter((c) => CODE_CATEGORY[c] === undefined);
  assert.deepEqual(missing, []);
  assert.equal(categoryOf(-1199), 'invalid-request', 'unlisted -11xx by range');
  assert.equal(categoryOf(-4999), 'order-rejected');
});

test('codes map to the typed classes', () => {
  const cls = (status: number, code: number, method = 'GET', path = '/fapi/v1/openOrders') =>
    toBinanceError(status, { code, msg: 'm' }, { method, path });
  const cases: Array<[number, number, new (...a: never[]) => BinanceError]> = [
    [400, -1021, ClockError],
    [401, -2014, AuthError],
    [401, -2015, AuthError],
    [400, -1022, AuthError],
    [401, -1002, AuthError],
    [400, -1111, FilterError],
    [400, -4014, FilterError],
    [400, -4023, FilterError],
    [400, -4164, FilterError],
    [400, -1013, FilterError],
    [400, -2019, MarginError],
    [400, -2018, MarginError],
    [400, -2027, MarginError],
    [400, -2028, MarginError],
    [400, -2011, OrderNotFoundError],
    [400, -2013, OrderNotFoundError],
    [400, -2010, OrderRejectedError],
    [400, -2021, OrderRejectedError],
    [400, -2022, OrderRejectedError],
    [400, -4061, OrderRejectedError],
    [400, -5021, OrderRejectedError],
    [400, -5022, OrderRejectedError],
    [400, -4120, OrderRejectedError],
    [400, -1102, InvalidRequestError],
    [400, -1121, InvalidRequestError],
    [400, -1125, ListenKeyError],
    [429, -1003, RateLimitError],
    [429, -1015, RateLimitError],
  ];
  for (const [status, code, C] of cases) {
    const e = cls(status, code);
    assert.ok(e instanceof C, `${code} → ${e.name}, expected ${C.name}`);
    assert.ok(e instanceof BinanceError && e instanceof Error);
    assert.equal(e.name, C.name);
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    assert.equal(e.method, 'GET');
    assert.equal(e.path, '/fapi/v1/openOrders');
  }
  assert.equal(cls(400, -1021).codeName, 'INVALID_TIMESTAMP');
  assert.equal(cls(429, -1015).message, 'm (GET /fapi/v1/openOrders)');
});

test('429 and 418: Retry-After and "banned until <ms>"', () => {
  const rl = toBinanceError(
    429,
    { code: -1003, msg: 'Too many requests' },
    { headers: { 'retry-after': '7' } },
  );
  assert.ok(rl instanceof RateLimitError);
  assert.equal(rl.retryAfterMs, 7000);
  assert.equal(rl.scope, 'ip');
  assert.ok(rl.retrySafe);
  const orders = toBinanceError(429, { code: -1015, msg: 'Too many new orders' }, {});
  assert.ok(orders instanceof RateLimitError && orders.scope === 'orders');

  const until = 1_700_000_120_000;
  const ban = toBinanceError(
    418,
    {
      code: -1003,
      msg: `Way too many requests; IP(127.0.0.5) banned until ${until}. Please use the websocket`,
    },
    { headers: { 'retry-after': '120' }, toLocalTime: (ms) => ms - 5000 },
  );
  assert.ok(ban instanceof IpBannedError);
  assert.equal(ban.until, until - 5000, 'exchange time converted to local time');
  const ban2 = toBinanceError(
    418,
    { code: -1003, msg: 'banned' },
    { headers: { 'retry-after': '60' }, now: 1000 },
  );
  assert.ok(ban2 instanceof IpBannedError && ban2.until === 61_000);
});

test('5xx, -1006/-1007 and timeouts: unknown outcome on order-placing endpoints, server error elsewhere', () => {
  const unknown = { code: -1007, msg: 'Unknown error, please check your request or try again later.' };
  const params = { symbol: 'BTCUSDT', newClientOrderId: 'fleet-1' };
  for (const [method, path] of [
    ['POST', '/fapi/v1/order'],
    ['PUT', '/fapi/v1/order'],
    ['DELETE', '/fapi/v1/order'],
    ['POST', '/fapi/v1/batchOrders'],
    ['DELETE', '/fapi/v1/batchOrders'],
    ['POST', '/fapi/v1/algoOrder'],
    ['DELETE', '/fapi/v1/algoOrder'],
  ]) {
    assert.ok(isOrderPlacing(method, path));
    const e = toBinanceError(503, unknown, { method, path, params });
    assert.ok(e instanceof UnknownOutcomeError, `${method} ${path}`);
    assert.equal(e.retrySafe, false);
    assert.equal(isRetrySafe(e), false);
    assert.equal(e.clientOrderId, 'fleet-1');
  }
  assert.ok(
    toBinanceError(
      503,
      { code: -1001, msg: 'Service Unavailable.' },
      { method: 'POST', path: '/fapi/v1/order' },
    ) instanceof UnknownOutcomeError,
  );
  assert.ok(
    toBinanceError(400, { code: -1006, msg: 'x' }, { method: 'POST', path: '/fapi/v1/order' }) instanceof
      UnknownOutcomeError,
  );
  assert.ok(
    toBinanceError(502, '<html>bad gateway</html>', { method: 'POST', path: '/fapi/v1/algoOrder' }) instanceof
      UnknownOutcomeError,
  );
  for (const status of [500, 502, 503, 504]) {
    const e = toBinanceError(status, unknown, { method: 'GET', path: '/fapi/v1/order' });
    assert.ok(e instanceof ServerError, `GET ${status}`);
    assert.ok(isRetrySafe(e));
  }
  assert.ok(
    toBinanceError(503, unknown, { method: 'POST', path: '/fapi/v1/leverage' }) instanceof ServerError,
  );

  const timeout = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
  const t1 = transportError(timeout, { method: 'POST', path: '/fapi/v1/order', params, sent: true });
  assert.ok(t1 instanceof UnknownOutcomeError && t1.clientOrderId === 'fleet-1');
  assert.ok(
    transportError(timeout, { method: 'GET', path: '/fapi/v1/klines', sent: true }) instanceof ServerError,
  );
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  const n = transportError(refused, { method: 'POST', path: '/fapi/v1/order', sent: false });
  assert.ok(n instanceof NetworkError && n.retrySafe);
});

test('answers without a Binance code', () => {
  assert.ok(toBinanceError(403, 'Forbidden', {}) instanceof AuthError);
  assert.ok(toBinanceError(404, undefined, {}) instanceof InvalidRequestError);
  assert.ok(
    toBinanceError(408, '', { method: 'POST', path: '/fapi/v1/order' }) instanceof UnknownOutcomeError,
  );
  assert.ok(toBinanceError(408, '', { method: 'GET', path: '/fapi/v1/order' }) instanceof ServerError);
  assert.equal(isRetrySafe(new Error('x')), false);
});
