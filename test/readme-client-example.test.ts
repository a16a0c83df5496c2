// The README's client example, run as written against the simulator, so the README stays true.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FuturesApi } from '../core/binance/endpoints.ts';
import { RulesBook } from '../core/binance/filters.ts';
import { createClient } from '../core/binance/rest.ts';
import { startSim } from '../sim/index.ts';

test('README: place a rounded, pre-checked LIMIT order through the client', async () => {
  const apiKey = 'r'.repeat(64);
  const apiSecret = 's'.repeat(64);
  const sim = await startSim({ port: 0, symbols: 5, accounts: [{ apiKey, apiSecret }] });
  const rest = createClient({
    env: 'simulator',
    restUrl: sim.restUrl,
    apiKey,
    apiSecret,
    localAddress: '127.0.0.2',
  });
  try {
    const api = new FuturesApi(rest);
    const rules = await RulesBook.load(api);
    const order = rules.prepareOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      price: '65000.07',
      quantity: '0.0025',
    });
    assert.ok(order.ok);
    assert.equal(order.price, '65000.00');
    assert.equal(order.quantity, '0.002');
    const placed = await api.newOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      price: order.price!,
      quantity: order.quantity,
    });
    assert.equal(placed.status, 'NEW');
    assert.equal(placed.price, '65000.00');
    const tooSmall = rules.prepareOrder({
      symbol: 'BTCUSDT',
      side: 'BUY',
      type: 'LIMIT',
      price: '65000',
      quantity: '0.001',
    });
    assert.equal(tooSmall.ok, false);
    assert.equal(!tooSmall.ok && tooSmall.code, -4164);
  } finally {
    await rest.close();
    await sim.close();
  }
});
