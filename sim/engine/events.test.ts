import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { UserEvent } from '../contracts.ts';
import { harness, KEY, limit, market, T0 } from './testkit.ts';

type Obj = Record<string, unknown>;

function tags(events: UserEvent[]): string[] {
  return events.map((e) => {
    if (e.e === 'ORDER_TRADE_UPDATE') {
      const o = e.o as Obj;
      return `${o.x}/${o.X}`;
    }
    if (e.e === 'ACCOUNT_UPDATE') return `ACCOUNT_UPDATE:${(e.a as Obj).m}`;
    return e.e;
  });
}

describe('user-data events', () => {
  test('MARKET: NEW, TRADE_LITE, TRADE/FILLED, ACCOUNT_UPDATE; fields of §11.5', () => {
    const h = harness();
    h.market.clock.advance(1234);
    h.call('newOrder', market('BUY', '0.01', { newClientOrderId: 'm1' }));
    const ev = h.ev();
    assert.deepEqual(tags(ev), ['NEW/NEW', 'TRADE_LITE', 'TRADE/FILLED', 'ACCOUNT_UPDATE:ORDER']);
    for (const e of ev) assert.equal(e.E, T0 + 1234);
    const trade = ev[2].o as Obj;
    assert.deepEqual(Object.keys(trade), [
      's',
      'c',
      'S',
      'o',
      'f',
      'q',
      'p',
      'ap',
      'sp',
      'x',
      'X',
      'i',
      'l',
      'z',
      'L',
      'N',
      'n',
      'T',
      't',
      'b',
      'a',
      'm',
      'R',
      'wt',
      'ot',
      'ps',
      'cp',
      'pP',
      'si',
      'ss',
      'rp',
      'V',
      'pm',
      'gtd',
      'er',
    ]);
    assert.equal(trade.c, 'm1');
    assert.equal(trade.l, '0.01');
    assert.equal(trade.z, '0.01');
    assert.equal(trade.L, '60000.1');
    assert.equal(trade.ap, '60000.1');
    assert.equal(trade.n, '0.3000005');
    assert.equal(trade.N, 'USDT');
    assert.equal(trade.m, false);
    assert.equal(trade.rp, '0');
    assert.equal(trade.T, T0 + 1234);
    const lite = ev[1];
    assert.deepEqual(Object.keys(lite), ['e', 'E', 'T', 's', 'q', 'p', 'm', 'c', 'S', 'L', 'l', 't', 'i']);
    assert.equal(lite.t, trade.t);
    assert.equal(lite.i, trade.i);
    const acc = ev[3].a as { m: string; B: Obj[]; P: Obj[] };
    assert.deepEqual(acc.B, [{ a: 'USDT', wb: '9999.69999950', cw: '9999.69999950', bc: '0' }]);
    assert.deepEqual(acc.P, [
      {
        s: 'BTCUSDT',
        pa: '0.01',
        ep: '60000.1',
        bep: '60030.10005',
        cr: '0',
        up: '-0.00100000',
        mt: 'cross',
        iw: '0.00000000',
        ps: 'BOTH',
      },
    ]);
  });

  test('resting LIMIT: NEW; maker fill on a trade-through: TRADE with m=true; cancel: CANCELED; modify: AMENDMENT', () => {
    const h = harness();
    const o = h.call('newOrder', limit('BUY', '0.01', '59000'));
    assert.deepEqual(tags(h.ev()), ['NEW/NEW']);
    const newEv = h.ev()[0].o as Obj;
    assert.equal(newEv.b, '590');
    assert.equal(newEv.a, '0');
    assert.equal('AP' in newEv, false);
    h.clearEvents();
    h.call('modifyOrder', {
      symbol: 'BTCUSDT',
      orderId: String(o.orderId),
      side: 'BUY',
      quantity: '0.01',
      price: '59100',
    });
    assert.deepEqual(tags(h.ev()), ['AMENDMENT/NEW']);
    h.clearEvents();
    h.market.trade('BTCUSDT', ['59100']);
    assert.deepEqual(tags(h.ev()), ['TRADE_LITE', 'TRADE/FILLED', 'ACCOUNT_UPDATE:ORDER']);
    assert.equal((h.ev()[1].o as Obj).m, true);
    assert.equal(h.ev('TRADE_LITE')[0].m, true);
    h.clearEvents();
    const c = h.call('newOrder', limit('SELL', '0.01', '61000'));
    h.call('cancelOrder', { symbol: 'BTCUSDT', orderId: String(c.orderId) });
    assert.deepEqual(tags(h.ev()), ['NEW/NEW', 'CANCELED/CANCELED']);
  });

  test('partial fill: a reduce-only order larger than the position fills what it can, then expires', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    h.clearEvents();
    h.call('newOrder', limit('SELL', '0.03', '59000', { reduceOnly: 'true' }));
    assert.deepEqual(tags(h.ev()), [
      'NEW/NEW',
      'TRADE_LITE',
      'TRADE/PARTIALLY_FILLED',
      'ACCOUNT_UPDATE:ORDER',
      'EXPIRED/EXPIRED',
    ]);
    const trade = h.ev('ORDER_TRADE_UPDATE')[1].o as Obj;
    assert.equal(trade.l, '0.01');
    assert.equal(trade.R, true);
    assert.equal(trade.rp, '-0.001');
    const acc = h.ev('ACCOUNT_UPDATE')[0].a as { P: Obj[] };
    assert.equal(acc.P[0].pa, '0');
    assert.equal(acc.P[0].ep, '0');
  });

  test('events go to the account that traded only', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'), 'key-B');
    assert.equal(h.ev(undefined, KEY).length, 0);
    assert.equal(h.ev(undefined, 'key-B').length, 4);
  });

  test('a listener calling back into the engine sees updated state and cannot reorder events', () => {
    const h = harness();
    const seen: string[] = [];
    let placed = false;
    h.engine.onUserEvent((key, e) => {
      seen.push(e.e === 'ORDER_TRADE_UPDATE' ? `${(e.o as Obj).i}:${(e.o as Obj).x}` : e.e);
      if (e.e === 'ORDER_TRADE_UPDATE' && (e.o as Obj).X === 'FILLED' && !placed) {
        placed = true;
        // the position is already there when the event arrives
        const p = h.engine.positionRiskV3(key, {}) as Obj[];
        assert.equal(p[0].positionAmt, '0.010');
        h.engine.newOrder(key, market('SELL', '0.01'));
      }
    });
    h.engine.onUserEvent(() => {
      throw new Error('a broken listener');
    });
    const first = h.call('newOrder', market('BUY', '0.01'));
    const ids = seen.filter((s) => s.includes(':')).map((s) => s.split(':')[0]);
    // all events of the first order come before any of the second
    const firstId = String(first.orderId);
    const lastOfFirst = ids.lastIndexOf(firstId);
    const firstOfSecond = ids.findIndex((i) => i !== firstId);
    assert.ok(firstOfSecond > lastOfFirst);
    assert.equal(seen.length, 8);
    assert.deepEqual(h.call<Obj[]>('positionRiskV3'), []);
  });

  test('a tick the market emits while the engine reads it is processed after the operation', () => {
    const h = harness();
    const resting = h.call('newOrder', limit('BUY', '0.01', '59000'));
    const m = h.market;
    const original = m.bookTicker.bind(m);
    let fired = false;
    m.bookTicker = (symbol: string) => {
      if (!fired) {
        fired = true;
        m.trade('BTCUSDT', ['58900'], { bid: '60000', ask: '60000.1' });
      }
      return original(symbol);
    };
    h.clearEvents();
    const mk = h.call('newOrder', market('BUY', '0.01'));
    const order = h.ev('ORDER_TRADE_UPDATE').map((e) => `${(e.o as Obj).i}:${(e.o as Obj).x}`);
    assert.deepEqual(order, [`${mk.orderId}:NEW`, `${mk.orderId}:TRADE`, `${resting.orderId}:TRADE`]);
    assert.equal(h.call<Obj[]>('positionRiskV3')[0].positionAmt, '0.020');
  });

  test('ACCOUNT_CONFIG_UPDATE on leverage change', () => {
    const h = harness();
    h.market.clock.advance(5);
    h.call('setLeverage', { symbol: 'ETHUSDT', leverage: '7' });
    assert.deepEqual(h.ev('ACCOUNT_CONFIG_UPDATE'), [
      { e: 'ACCOUNT_CONFIG_UPDATE', E: T0 + 5, T: T0 + 5, ac: { s: 'ETHUSDT', l: 7 } },
    ]);
  });

  test('ALGO_UPDATE fields of §11.9', () => {
    const h = harness();
    h.call('newAlgoOrder', {
      algoType: 'CONDITIONAL',
      symbol: 'BTCUSDT',
      side: 'SELL',
      type: 'STOP',
      quantity: '0.01',
      price: '58000',
      triggerPrice: '59000',
      clientAlgoId: 'sl-1',
    });
    const e = h.ev('ALGO_UPDATE')[0];
    assert.deepEqual(Object.keys(e), ['e', 'T', 'E', 'o']);
    assert.deepEqual(e.o, {
      caid: 'sl-1',
      aid: (e.o as Obj).aid,
      at: 'CONDITIONAL',
      o: 'STOP',
      s: 'BTCUSDT',
      S: 'SELL',
      ps: 'BOTH',
      f: 'GTC',
      q: '0.01',
      X: 'NEW',
      ai: '',
      ap: '0.00000',
      aq: '0.00000',
      act: '0',
      tp: '59000',
      p: '58000',
      V: 'EXPIRE_MAKER',
      wt: 'CONTRACT_PRICE',
      pm: 'NONE',
      cp: false,
      pP: false,
      R: false,
      tt: 0,
      gtd: 0,
      rm: '',
    });
  });
});
