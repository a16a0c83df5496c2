import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../contracts.ts';
import { authenticate, checkTimestamp, extractSignature, hmacHex, verifyHmac } from './auth.ts';

// Binance's official worked example (general info page, "SIGNED Endpoint Examples for POST /fapi/v1/order").
const API_KEY = 'dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83';
const SECRET = '2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9';
const PAYLOAD =
  'symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943';
const SIGNATURE = '3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9';
const accounts = { secretOf: (k: string) => (k === API_KEY ? SECRET : undefined) };
const SERVER_TIME = 1591702613943 + 100;

function params(s: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(s));
}

test('the official HMAC test vector verifies', () => {
  assert.equal(hmacHex(SECRET, PAYLOAD), SIGNATURE);
  assert.ok(verifyHmac(SECRET, PAYLOAD, SIGNATURE));
  assert.ok(verifyHmac(SECRET, PAYLOAD, SIGNATURE.toUpperCase()), 'hex is not case-sensitive');
  assert.ok(!verifyHmac(SECRET, `${PAYLOAD}1`, SIGNATURE));
});

test('signature in the query, in the body, and mixed (the reference vector 30baaf0f…)', () => {
  const q = `${PAYLOAD}&signature=${SIGNATURE}`;
  assert.deepEqual(extractSignature(q, ''), { payload: PAYLOAD, signature: SIGNATURE });
  assert.deepEqual(extractSignature('', q), { payload: PAYLOAD, signature: SIGNATURE });
  const query = 'symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC';
  const body = 'quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943';
  const mixed = hmacHex(SECRET, query + body);
  assert.equal(mixed, '30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4');
  const ex = extractSignature(`${query}&signature=${mixed}`, body);
  assert.ok(ex && verifyHmac(SECRET, ex.payload, ex.signature));
});

test('authenticate: each rejection carries Binance code and status', () => {
  const ok = {
    apiKeyHeader: API_KEY,
    rawQuery: `${PAYLOAD}&signature=${SIGNATURE}`,
    rawBody: '',
    params: params(PAYLOAD),
  };
  assert.equal(authenticate('SIGNED', ok, accounts, SERVER_TIME), API_KEY);
  const code = (fn: () => unknown): [number, number] => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof ApiError);
      return [e.code, e.status];
    }
    assert.fail('expected an ApiError');
  };
  assert.deepEqual(
    code(() => authenticate('SIGNED', { ...ok, apiKeyHeader: 'x'.repeat(64) }, accounts, SERVER_TIME)),
    [-2015, 401],
  );
  assert.deepEqual(
    code(() => authenticate('SIGNED', { ...ok, apiKeyHeader: undefined }, accounts, SERVER_TIME)),
    [-2014, 401],
  );
  assert.deepEqual(
    code(() => authenticate('SIGNED', { ...ok, rawQuery: PAYLOAD }, accounts, SERVER_TIME)),
    [-1102, 400],
    'missing signature',
  );
  const tampered = PAYLOAD.replace('quantity=1', 'quantity=2');
  assert.deepEqual(
    code(() =>
      authenticate(
        'SIGNED',
        { ...ok, rawQuery: `${tampered}&signature=${SIGNATURE}`, params: params(tampered) },
        accounts,
        SERVER_TIME,
      ),
    ),
    [-1022, 400],
  );
  assert.deepEqual(
    code(() => authenticate('SIGNED', ok, accounts, SERVER_TIME + 6000)),
    [-1021, 400],
    'too old',
  );
  assert.deepEqual(
    code(() => authenticate('SIGNED', ok, accounts, SERVER_TIME - 2000)),
    [-1021, 400],
    'ahead',
  );
  // USER_STREAM needs only the key.
  assert.equal(authenticate('USER_STREAM', { ...ok, rawQuery: '' }, accounts, SERVER_TIME + 1e9), API_KEY);
});

test('timestamp rule: timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow', () => {
  const now = 1_700_000_000_000;
  checkTimestamp({ timestamp: String(now + 999) }, now);
  checkTimestamp({ timestamp: String(now - 5000) }, now);
  checkTimestamp({ timestamp: String(now - 59_000), recvWindow: '60000' }, now);
  assert.throws(() => checkTimestamp({ timestamp: String(now + 1000) }, now), /1000ms ahead/);
  assert.throws(() => checkTimestamp({ timestamp: String(now - 5001) }, now), /outside of the recvWindow/);
  assert.throws(() => checkTimestamp({}, now), /Mandatory parameter 'timestamp'/);
  assert.throws(() => checkTimestamp({ timestamp: 'abc' }, now), /Mandatory parameter 'timestamp'/);
});

test('a malformed percent-escape in the signature is a bad signature, not a crash', () => {
  const ex = extractSignature(`${PAYLOAD}&signature=%E0%A4%A`, '');
  assert.ok(ex);
  assert.equal(ex.signature, '%E0%A4%A');
  assert.ok(!verifyHmac(SECRET, ex.payload, ex.signature));
});

test('signature must be the last parameter: anything after it is -1022, a signed body after a signed query is fine', () => {
  const code = (fn: () => unknown): number => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof ApiError);
      return e.code;
    }
    assert.fail('expected an ApiError');
  };
  // Appended after the signature in the query (the audit's case) and in the body.
  assert.equal(
    code(() => extractSignature(`${PAYLOAD}&signature=${SIGNATURE}&reduceOnly=true`, '')),
    -1022,
  );
  assert.equal(
    code(() => extractSignature('', `${PAYLOAD}&signature=${SIGNATURE}&reduceOnly=true`)),
    -1022,
  );
  assert.equal(
    code(() => extractSignature(`signature=${SIGNATURE}&${PAYLOAD}`, '')),
    -1022,
  );
  // Signature in the query and another in the body: the query's is not the last of totalParams.
  assert.equal(
    code(() => extractSignature(`a=1&signature=${SIGNATURE}`, `b=2&signature=${SIGNATURE}`)),
    -1022,
  );
  // Through authenticate: the request is refused before anything is applied.
  assert.equal(
    code(() =>
      authenticate(
        'SIGNED',
        {
          apiKeyHeader: API_KEY,
          rawQuery: `${PAYLOAD}&signature=${SIGNATURE}&reduceOnly=true`,
          rawBody: '',
          params: params(`${PAYLOAD}&reduceOnly=true`),
        },
        accounts,
        SERVER_TIME,
      ),
    ),
    -1022,
  );
  // Signature last in the query, parameters in the body: totalParams = query + body is what is
  // signed (the official JS connector's form), so the body is covered and accepted.
  const query = 'symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC';
  const body = 'quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943';
  const mixed = hmacHex(SECRET, query + body);
  const ex = extractSignature(`${query}&signature=${mixed}`, body);
  assert.ok(ex && verifyHmac(SECRET, ex.payload, ex.signature));
  // A body changed after signing fails as a bad signature.
  const ex2 = extractSignature(`${query}&signature=${mixed}`, `${body}&reduceOnly=true`);
  assert.ok(ex2 && !verifyHmac(SECRET, ex2.payload, ex2.signature));
  // Mixed with the signature last in the body (the docs' example 3 form).
  const ex3 = extractSignature(query, `${body}&signature=${mixed}`);
  assert.ok(ex3 && verifyHmac(SECRET, ex3.payload, ex3.signature));
  // A trailing "&" carries no parameter.
  assert.ok(extractSignature(`${PAYLOAD}&signature=${SIGNATURE}&`, ''));
});
