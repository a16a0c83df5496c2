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
  isWrite,
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
import referenceCodes from './testdata/reference-codes.json' with { type: 'json' };

test('every code of the shared code table has a category', () => {
  const missing = Object.keys(BINANCE_CODES)
    .map(Number)
    .filter((c) => CODE_CATEGORY[c] === undefined);
  assert.deepEqual(missing, []);
  assert.equal(categoryOf(-1199), 'invalid-request', 'unlisted -11xx by range');
  assert.equal(categoryOf(-4999), 'order-rejected');
});

test('every code listed in the reference (§5.2, fixture) is in codes.ts and has a category', () => {
  const listed = referenceCodes.codes;
  assert.ok(listed.length >= 150, `${listed.length} codes in the fixture`);
  for (const c of [-1113, -4167, -4172, -4202, -4208, -4400, -4403, -1004, -2026, -4049, -4057, -4109]) {
    assert.ok(
      listed.some((x) => x.code === c),
      `fixture lists ${c}`,
    );
  }
  const noCategory = listed.filter((c) => CODE_CATEGORY[c.code] === undefined).map((c) => c.code);
  assert.deepEqual(noCategory, [], 'codes without a category');
  const notInTable = listed.filter((c) => BINANCE_CODES[c.code] === undefined).map((c) => c.code);
  assert.deepEqual(notInTable, [], 'codes missing from codes.ts');
  // Where the reference names a code, codes.ts uses that name.
  const renamed = listed.filter(
    (c) => c.name !== null && c.name.toUpperCase().replace(/ /g, '_') !== BINANCE_CODES[c.code].name,
  );
  assert.deepEqual(renamed, []);
  // Every listed code becomes the class of its category on a GET with HTTP 400.
  for (const { code } of listed) {
    const e = toBinanceError(400, { code, msg: 'x' }, { method: 'GET', path: '/fapi/v1/order' });
    assert.equal(e.code, code);
    assert.ok(e instanceof BinanceError);
  }
  assert.equal(categoryOf(-5028), 'clock', '-5028 ME_RECVWINDOW_REJECT: re-sync and retry like -1021');
  assert.ok(toBinanceError(400, { code: -5028, msg: 'x' }, {}) instanceof ClockError);
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

test('5xx, -1000/-1006/-1007 and timeouts: unknown outcome on every write, server error on GETs', () => {
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
  // Non-order writes: the effect is unknown too (never retry-safe).
  for (const [method, path] of [
    ['POST', '/fapi/v1/positionMargin'],
    ['DELETE', '/fapi/v1/allOpenOrders'],
    ['POST', '/fapi/v1/leverage'],
    ['POST', '/fapi/v1/countdownCancelAll'],
  ]) {
    assert.equal(isWrite(method), true);
    for (const body of [unknown, { code: -1006, msg: 'x' }, '<html>bad gateway</html>']) {
      const e = toBinanceError(typeof body === 'string' ? 502 : 503, body, { method, path });
      assert.ok(e instanceof UnknownOutcomeError && !e.retrySafe, `${method} ${path} ${e.name}`);
    }
    const t = transportError(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }), {
      method,
      path,
      sent: true,
    });
    assert.ok(t instanceof UnknownOutcomeError && !t.retrySafe, `timeout on ${method} ${path}`);
    assert.ok(toBinanceError(408, '', { method, path }) instanceof UnknownOutcomeError);
  }
  // -1000 UNKNOWN with HTTP 400 on an order: unknown, not retry-safe.
  const u1000 = toBinanceError(
    400,
    { code: -1000, msg: 'An unknown error occured while processing the request.' },
    { method: 'POST', path: '/fapi/v1/order', params },
  );
  assert.ok(u1000 instanceof UnknownOutcomeError && !u1000.retrySafe && u1000.clientOrderId === 'fleet-1');
  assert.ok(
    toBinanceError(400, { code: -1000, msg: 'x' }, { method: 'GET', path: '/fapi/v1/order' }).retrySafe,
  );
  // §5.1: the 503 variants by message text. Only "Unknown error…" is unknown; the rest certainly failed.
  for (const body of [
    { code: -1001, msg: 'Service Unavailable.' },
    { msg: 'Service Unavailable.' },
    'Service Unavailable.',
    { code: -1001, msg: 'Internal error; unable to process your request. Please try again.' },
    {
      code: -1008,
      msg: 'Request throttled by system-level protection. Reduce-only/close-position orders are exempt. Please try again.',
    },
  ]) {
    const e = toBinanceError(503, body, { method: 'POST', path: '/fapi/v1/order', params });
    assert.ok(e instanceof ServerError && e.retrySafe, `${JSON.stringify(body)} → ${e.name}`);
  }
  const byText = toBinanceError(
    503,
    { code: -1001, msg: 'Unknown error, please check your request or try again later.' },
    { method: 'POST', path: '/fapi/v1/order' },
  );
  assert.ok(byText instanceof UnknownOutcomeError, 'the message text decides, not the code');
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

  const timeout = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
  const t1 = transportError(timeout, { method: 'POST', path: '/fapi/v1/order', params, sent: true });
  assert.ok(t1 instanceof UnknownOutcomeError && t1.clientOrderId === 'fleet-1');
  assert.ok(
    transportError(timeout, { method: 'GET', path: '/fapi/v1/klines', sent: true }) instanceof ServerError,
  );
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  const n = transportError(refused, { method: 'POST', path: '/fapi/v1/order', sent: false });
  assert.ok(n instanceof NetworkError && n.retrySafe);
  // A batch names the ids of its items.
  const batch = toBinanceError(503, unknown, {
    method: 'POST',
    path: '/fapi/v1/batchOrders',
    params: { batchOrders: JSON.stringify([{ newClientOrderId: 'a-1' }, { newClientOrderId: 'a-2' }]) },
  });
  assert.ok(batch instanceof UnknownOutcomeError && batch.clientOrderId === 'a-1,a-2');
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
