import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExchangeClock } from '../clock.ts';
import { ApiError } from '../contracts.ts';
import { createListenKeys, LISTEN_KEY_TTL_MS } from './listen-keys.ts';

const MIN = 60_000;

function setup() {
  const clock = new ExchangeClock({ virtual: true });
  const keys = createListenKeys(clock);
  const expired: Array<[string, string]> = [];
  const closed: Array<[string, string]> = [];
  keys.onExpired((a, k) => expired.push([a, k]));
  keys.onClosed((a, k) => closed.push([a, k]));
  return { clock, keys, expired, closed };
}

function assertMinus1125(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, -1125);
    assert.equal(err.status, 400);
    assert.match(err.message, /listenKey does not exist/);
    return true;
  });
}

describe('listenKey store', () => {
  it('creates a 64-char alphanumeric key, one per account; POST again returns the same key', () => {
    const { keys } = setup();
    const a = keys.create('apiA');
    assert.match(a, /^[A-Za-z0-9]{64}$/);
    assert.equal(keys.create('apiA'), a);
    const b = keys.create('apiB');
    assert.notEqual(b, a);
    assert.equal(keys.owner(a), 'apiA');
    assert.equal(keys.owner(b), 'apiB');
    assert.equal(keys.keyOf('apiA'), a);
    assert.equal(keys.owner('nope'), undefined);
  });

  it('a key lives 60 minutes of exchange time; PUT and POST extend it', () => {
    const { clock, keys, expired } = setup();
    assert.equal(LISTEN_KEY_TTL_MS, 60 * MIN);
    const k = keys.create('apiA');
    clock.advance(59 * MIN);
    assert.equal(keys.keepalive('apiA'), k);
    clock.advance(59 * MIN);
    assert.equal(keys.create('apiA'), k, 'POST while active extends and returns the same key');
    clock.advance(59 * MIN);
    assert.deepEqual(keys.expireDue(), []);
    assert.equal(keys.owner(k), 'apiA');
    clock.advance(1 * MIN);
    assert.deepEqual(keys.expireDue(), [k]);
    assert.deepEqual(expired, [['apiA', k]]);
    assert.equal(keys.owner(k), undefined);
    assert.deepEqual(keys.expireDue(), [], 'expires once');
    assert.equal(expired.length, 1);
  });

  it('PUT without a live key fails with -1125, also after expiry; POST then makes a new key', () => {
    const { clock, keys, expired } = setup();
    assertMinus1125(() => keys.keepalive('apiA'));
    const k = keys.create('apiA');
    clock.advance(61 * MIN);
    // No expireDue() call in between: the store notices by itself, and reports the expiry first.
    assertMinus1125(() => keys.keepalive('apiA', k));
    assert.deepEqual(expired, [['apiA', k]]);
    const k2 = keys.create('apiA');
    assert.notEqual(k2, k);
    assert.equal(keys.keepalive('apiA'), k2);
  });

  it('a stray listenKey parameter on PUT is tolerated', () => {
    const { keys } = setup();
    const k = keys.create('apiA');
    assert.equal(keys.keepalive('apiA', 'somethingElse'), k);
  });

  it('DELETE closes the key; PUT then fails; DELETE again is harmless', () => {
    const { keys, closed, expired } = setup();
    const k = keys.create('apiA');
    keys.close('apiA', k);
    assert.deepEqual(closed, [['apiA', k]]);
    assert.equal(keys.owner(k), undefined);
    assert.equal(keys.keyOf('apiA'), undefined);
    assertMinus1125(() => keys.keepalive('apiA'));
    keys.close('apiA');
    assert.equal(closed.length, 1);
    assert.equal(expired.length, 0);
    assert.notEqual(keys.create('apiA'), k);
  });

  it('expires only the keys that are due; reset forgets everything silently', () => {
    const { clock, keys, expired } = setup();
    const a = keys.create('apiA');
    clock.advance(30 * MIN);
    const b = keys.create('apiB');
    clock.advance(30 * MIN);
    assert.deepEqual(keys.expireDue(), [a]);
    assert.equal(keys.owner(b), 'apiB');
    keys.reset();
    assert.equal(keys.owner(b), undefined);
    assertMinus1125(() => keys.keepalive('apiB'));
    clock.advance(60 * MIN);
    assert.deepEqual(keys.expireDue(), []);
    assert.deepEqual(expired, [['apiA', a]]);
  });

  it('a throwing listener does not stop the others', () => {
    const { clock, keys } = setup();
    const seen: string[] = [];
    keys.onExpired(() => {
      throw new Error('boom');
    });
    const off = keys.onExpired((_a, k) => seen.push(k));
    const k = keys.create('apiA');
    clock.advance(60 * MIN);
    assert.deepEqual(keys.expireDue(), [k]);
    assert.deepEqual(seen, [k]);
    off();
    keys.create('apiA');
    clock.advance(60 * MIN);
    keys.expireDue();
    assert.equal(seen.length, 1);
  });
});
