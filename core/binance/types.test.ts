import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO, endpointsFromEnv, isLoopback, PRODUCTION } from './types.ts';

test('endpointsFromEnv: no configuration is the local simulator, never production', () => {
  assert.deepEqual(endpointsFromEnv({}), { rest: 'http://127.0.0.1:8600', ws: 'ws://127.0.0.1:8600' });
  assert.deepEqual(endpointsFromEnv({ FLEET_EXCHANGE: '' }), endpointsFromEnv({}));
});

test('endpointsFromEnv: named exchanges and overrides', () => {
  assert.deepEqual(endpointsFromEnv({ FLEET_EXCHANGE: 'production' }), PRODUCTION);
  assert.deepEqual(endpointsFromEnv({ FLEET_EXCHANGE: 'Demo' }), DEMO);
  // A simulator elsewhere: its WebSocket is on the same host.
  assert.deepEqual(endpointsFromEnv({ FLEET_BINANCE_REST: 'http://127.0.0.9:9000/' }), {
    rest: 'http://127.0.0.9:9000',
    ws: 'ws://127.0.0.9:9000',
  });
  // A REST override on production keeps Binance's own WebSocket host.
  assert.deepEqual(
    endpointsFromEnv({ FLEET_EXCHANGE: 'production', FLEET_BINANCE_REST: 'https://fapi.binance.com' }),
    PRODUCTION,
  );
  assert.equal(endpointsFromEnv({ FLEET_BINANCE_WS: 'ws://127.0.0.1:1' }).ws, 'ws://127.0.0.1:1');
});

test('endpointsFromEnv: bad values are clear errors', () => {
  assert.throws(() => endpointsFromEnv({ FLEET_EXCHANGE: 'mainnet' }), /FLEET_EXCHANGE must be one of/);
  assert.throws(() => endpointsFromEnv({ FLEET_BINANCE_REST: 'fapi.binance.com' }), /not a URL/);
  assert.throws(() => endpointsFromEnv({ FLEET_BINANCE_REST: 'ftp://x' }), /must be http/);
});

test('isLoopback', () => {
  assert.ok(isLoopback('http://127.0.0.1:8600'));
  assert.ok(isLoopback('http://localhost:8600'));
  assert.ok(isLoopback('http://[::1]:8600'));
  assert.ok(!isLoopback('https://fapi.binance.com'));
  assert.ok(!isLoopback('http://localhost.evil.com'));
});
