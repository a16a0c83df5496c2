import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientIdPrefix, clientOrderId, tagsCollide, traderTag } from './orders.ts';

test('trader tags: short alphanumeric names are their own tag; others get a hash and never collide', () => {
  assert.equal(traderTag('demo'), 'demo');
  assert.equal(traderTag('Trader12AB'), 'Trader12AB');
  const a = traderTag('tokyo-trader-1');
  const b = traderTag('tokyo-trader-2');
  assert.notEqual(a, b);
  assert.notEqual(clientIdPrefix('tokyo-trader-1'), clientIdPrefix('tokyo-trader-2'));
  assert.match(a, /^tokyo[0-9a-z]{5}$/);
  assert.equal(traderTag('tokyo-trader-1'), a, 'deterministic');
  // Too long, or not alphanumeric: hashed, at most 10 characters.
  assert.match(traderTag('averyveryverylongname'), /^avery[0-9a-z]{5}$/);
  assert.notEqual(traderTag('averyveryverylongname'), traderTag('averyveryverylongnam2'));
  assert.match(traderTag('---'), /^[0-9a-z]{5}$/);
  assert.ok(tagsCollide('gw', 'gw'));
  assert.ok(!tagsCollide('gw-1', 'gw'));
  // Client ids stay within Binance's 36 characters and alphabet.
  for (const name of ['x', 'tokyo-trader-1', 'a.b_c-d', 'averyveryverylongname', '0123456789']) {
    const id = clientOrderId(name, 'BTCUSDT:open:1');
    assert.ok(id.length <= 36, id);
    assert.match(id, /^[.A-Z:/a-z0-9_-]{1,36}$/);
    assert.ok(id.startsWith(clientIdPrefix(name)));
  }
});
