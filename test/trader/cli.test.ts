// `fleet trader` / `fleet gateway` configuration: gateway mode needs no account keys, names that
// would share the gateway's client order id prefix are refused, the gateway's aggregator options.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGatewayArgs } from '../../cli/gateway.ts';
import { UsageError } from '../../cli/main.ts';
import { binanceFromEnv, parseTraderArgs } from '../../cli/trader.ts';

test('gateway mode needs no BINANCE_API_KEY: an unsigned client re-fills gaps; direct mode does', async () => {
  const env = { FLEET_EXCHANGE: 'production' };
  assert.throws(() => binanceFromEnv(env), UsageError);
  const b = binanceFromEnv(env, { signed: false });
  assert.equal(typeof b.api.klines, 'function');
  await b.rest.close();
});

test('a trader name sharing the gateway prefix is refused; the gateway takes an aggregator', () => {
  const env = { FLEET_TRADER_AGGREGATOR_TOKEN: 'tok' };
  assert.throws(() => parseTraderArgs(['--name', 'gw'], env), /prefix/);
  assert.throws(() => parseTraderArgs(['--name', 'edge'], { ...env, FLEET_GATEWAY_NAME: 'edge' }), /prefix/);
  assert.equal(parseTraderArgs(['--name', 'tokyo-trader-1'], env).name, 'tokyo-trader-1');
  const g = parseGatewayArgs(
    ['--token', 't1:secret-0123456789', '--aggregator-url', 'ws://127.0.0.1:8700', '--aggregator-token', 'x'],
    {},
  );
  assert.deepEqual(g.aggregator, { url: 'ws://127.0.0.1:8700', token: 'x' });
  assert.equal(g.name, 'gw');
  assert.throws(
    () => parseGatewayArgs(['--token', 't1:secret-0123456789', '--aggregator-url', 'ws://x'], {}),
    /together/,
  );
});
