// User-data streams on /private: routing by account, the events allow-list, listenKey expiry
// and DELETE.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { UserEvent } from '../contracts.ts';
import { type Msg, type Sim, startSim } from './test-support.ts';

const MIN = 60_000;

describe('user-data streams', () => {
  let sim: Sim;
  let seq = 0;
  before(async () => {
    sim = await startSim();
  });
  after(() => sim.stop());

  function event(e: string, extra: Record<string, unknown> = {}): UserEvent {
    return { e, E: sim.clock.now(), T: sim.clock.now(), seq: ++seq, ...extra };
  }

  it('delivers an account’s events only to sockets on its listenKey, in order, unchanged', async () => {
    const ka = sim.listenKeys.create('acctA');
    const kb = sim.listenKeys.create('acctB');
    const a = await sim.connect(`/private/ws?listenKey=${ka}`);
    const b = await sim.connect(`/private/ws/${kb}`);
    const evB = event('ACCOUNT_UPDATE', { a: { m: 'ORDER', B: [], P: [] } });
    sim.engine.emit('acctB', evB);
    sim.engine.emit('acctNobody', event('ACCOUNT_UPDATE'));
    const sent: UserEvent[] = [];
    for (let i = 0; i < 50; i++) {
      const e = event(i % 2 ? 'ORDER_TRADE_UPDATE' : 'TRADE_LITE', { i });
      sent.push(e);
      sim.engine.emit('acctA', e);
    }
    const got: Msg[] = [];
    for (let i = 0; i < 50; i++) got.push(await a.next());
    assert.deepEqual(got, sent, 'same objects, same order, nothing of acctB');
    assert.deepEqual(await b.next(), evB);
    a.close();
    b.close();
  });

  it('events= is an allow-list; absent means every event', async () => {
    const k = sim.listenKeys.create('acctC');
    const only = await sim.connect(`/private/ws?listenKey=${k}&events=ACCOUNT_UPDATE/ALGO_UPDATE`);
    const all = await sim.connect(`/private/ws?listenKey=${k}`);
    const o = event('ORDER_TRADE_UPDATE');
    const acc = event('ACCOUNT_UPDATE');
    const algo = event('ALGO_UPDATE');
    for (const e of [o, acc, algo]) sim.engine.emit('acctC', e);
    const r = await only.take();
    assert.deepEqual([r.msg, r.before], [acc, []]);
    assert.deepEqual(await only.next(), algo);
    assert.deepEqual([await all.next(), await all.next(), await all.next()], [o, acc, algo]);
    assert.deepEqual((await only.request({ method: 'LIST_SUBSCRIPTIONS', id: 1 })).result, [
      `${k}@ACCOUNT_UPDATE`,
      `${k}@ALGO_UPDATE`,
    ]);
    only.close();
    all.close();
  });

  it('/private/stream with several listenKey/events pairs wraps by listenKey', async () => {
    const kd = sim.listenKeys.create('acctD');
    const ke = sim.listenKeys.create('acctE');
    const c = await sim.connect(
      `/private/stream?listenKey=${kd}&events=ORDER_TRADE_UPDATE&listenKey=${ke}&events=ACCOUNT_UPDATE`,
    );
    sim.engine.emit('acctD', event('ACCOUNT_UPDATE'));
    sim.engine.emit('acctE', event('ORDER_TRADE_UPDATE'));
    const d = event('ORDER_TRADE_UPDATE');
    const e = event('ACCOUNT_UPDATE');
    sim.engine.emit('acctD', d);
    sim.engine.emit('acctE', e);
    const r = await c.take();
    assert.deepEqual([r.msg, r.before], [{ stream: kd, data: d }, []]);
    assert.deepEqual(await c.next(), { stream: ke, data: e });
    c.close();
  });

  it('listenKey items can be subscribed and unsubscribed live; market streams there stay silent', async () => {
    const kf = sim.listenKeys.create('acctF');
    const kg = sim.listenKeys.create('acctG');
    const c = await sim.connect('/private/ws');
    assert.deepEqual(
      await c.request({
        method: 'SUBSCRIBE',
        params: [kf, `${kg}@MARGIN_CALL`, 'btcusdt@bookTicker'],
        id: 1,
      }),
      {
        result: null,
        id: 1,
      },
    );
    sim.market.tick('BTCUSDT');
    const f1 = event('ACCOUNT_CONFIG_UPDATE');
    sim.engine.emit('acctF', f1);
    const r = await c.take((m) => m.e);
    assert.deepEqual([r.msg, r.before], [f1, []], 'no bookTicker on /private');
    await c.request({ method: 'UNSUBSCRIBE', params: [kf], id: 2 });
    sim.engine.emit('acctF', event('ACCOUNT_UPDATE'));
    sim.engine.emit('acctG', event('ACCOUNT_UPDATE'));
    const g = event('MARGIN_CALL');
    sim.engine.emit('acctG', g);
    const r2 = await c.take((m) => m.e);
    assert.deepEqual([r2.msg, r2.before], [g, []]);
    c.close();
  });

  it('on expiry sends listenKeyExpired, then nothing more for that key', async () => {
    const kh = sim.listenKeys.create('acctH');
    const ki = sim.listenKeys.create('acctI');
    const raw = await sim.connect(`/private/ws?listenKey=${kh}`);
    const filtered = await sim.connect(`/private/ws?listenKey=${kh}&events=ORDER_TRADE_UPDATE`);
    const comb = await sim.connect(`/private/stream?listenKey=${kh}&listenKey=${ki}`);
    sim.clock.advance(30 * MIN);
    sim.listenKeys.keepalive('acctI');
    sim.clock.advance(30 * MIN);
    const expiredAt = sim.clock.now();
    const expired = sim.listenKeys.expireDue();
    assert.ok(expired.includes(kh) && !expired.includes(ki));
    assert.deepEqual(await raw.next(), { e: 'listenKeyExpired', E: expiredAt, listenKey: kh });
    assert.deepEqual(await comb.next(), {
      stream: kh,
      data: { e: 'listenKeyExpired', E: expiredAt, listenKey: kh },
    });
    // A new key for the account does not revive the old sockets.
    const kh2 = sim.listenKeys.create('acctH');
    assert.notEqual(kh2, kh);
    const fresh = await sim.connect(`/private/ws?listenKey=${kh2}`);
    const h = event('ORDER_TRADE_UPDATE');
    sim.engine.emit('acctH', h);
    const i = event('ORDER_TRADE_UPDATE');
    sim.engine.emit('acctI', i);
    assert.deepEqual(await fresh.next(), h);
    const r = await comb.take();
    assert.deepEqual([r.msg, r.before], [{ stream: ki, data: i }, []]);
    assert.equal(raw.ws.readyState, raw.ws.OPEN, 'expiry does not close the socket');
    // The filtered socket did not ask for listenKeyExpired and got nothing at all.
    const marker = await sim.connect(`/private/ws?listenKey=${kh2}`);
    sim.engine.emit('acctH', event('ACCOUNT_UPDATE'));
    await marker.next();
    assert.deepEqual(filtered.log, []);
    assert.equal(raw.log.length, 1);
    for (const c of [raw, filtered, comb, fresh, marker]) c.close();
  });

  it('an expired key stops delivery even before expireDue runs', async () => {
    const kj = sim.listenKeys.create('acctJ');
    const c = await sim.connect(`/private/ws?listenKey=${kj}`);
    sim.clock.advance(60 * MIN);
    sim.engine.emit('acctJ', event('ORDER_TRADE_UPDATE'));
    const r = await c.take();
    assert.deepEqual([r.msg.e, r.before], ['listenKeyExpired', []]);
    sim.listenKeys.create('acctJ');
    sim.engine.emit('acctJ', event('ORDER_TRADE_UPDATE'));
    assert.deepEqual(sim.listenKeys.expireDue(), []);
    c.close();
  });

  it('DELETE closes a socket left without a live key; one with another live key stays', async () => {
    const kk = sim.listenKeys.create('acctK');
    const kl = sim.listenKeys.create('acctL');
    const only = await sim.connect(`/private/ws?listenKey=${kk}`);
    const both = await sim.connect(`/private/stream?listenKey=${kk}&listenKey=${kl}`);
    sim.listenKeys.close('acctK');
    const { code } = await only.waitClosed();
    assert.equal(code, 1000);
    sim.engine.emit('acctK', event('ORDER_TRADE_UPDATE'));
    const l = event('ACCOUNT_UPDATE');
    sim.engine.emit('acctL', l);
    const r = await both.take();
    assert.deepEqual([r.msg, r.before], [{ stream: kl, data: l }, []]);
    both.close();
  });
});
