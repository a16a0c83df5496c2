import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness, KEY2, limit, market, T0 } from './testkit.ts';

type Obj = Record<string, unknown>;

describe('income', () => {
  test('COMMISSION and REALIZED_PNL rows carry the trade id; tranIds unique per type', () => {
    const h = harness();
    h.market.set('BTCUSDT', '50000', { ask: '50000', bid: '50000' });
    h.call('newOrder', market('BUY', '0.01'));
    h.market.set('BTCUSDT', '51000', { ask: '51000', bid: '51000' });
    h.call('newOrder', market('SELL', '0.01'));
    const rows = h.call<Obj[]>('income');
    assert.deepEqual(
      rows.map((r) => [r.incomeType, r.income]),
      [
        ['COMMISSION', '-0.25000000'],
        ['REALIZED_PNL', '10.00000000'],
        ['COMMISSION', '-0.25500000'],
      ],
    );
    assert.deepEqual(Object.keys(rows[0]), [
      'symbol',
      'incomeType',
      'income',
      'asset',
      'info',
      'time',
      'tranId',
      'tradeId',
    ]);
    const trades = h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' });
    assert.equal(rows[0].tradeId, String(trades[0].id));
    assert.equal(rows[1].tradeId, String(trades[1].id));
    assert.equal(rows[0].asset, 'USDT');
    assert.equal(rows[0].symbol, 'BTCUSDT');
    const commissionIds = rows.filter((r) => r.incomeType === 'COMMISSION').map((r) => r.tranId);
    assert.equal(new Set(commissionIds).size, 2);
    assert.deepEqual(
      h.call<Obj[]>('income', { incomeType: 'REALIZED_PNL' }).map((r) => r.income),
      ['10.00000000'],
    );
    h.fails('income', { incomeType: 'PROFIT' }, -1130);
    h.fails('income', { symbol: 'NOPE' }, -1121);
    assert.equal(h.call<Obj[]>('income', {}, KEY2).length, 0);
  });

  test('FUNDING_FEE: positive rate, longs pay and shorts receive; ACCOUNT_UPDATE FUNDING_FEE with balance only', () => {
    const h = harness();
    h.market.set('BTCUSDT', '60000', { ask: '60000', bid: '60000' });
    h.call('newOrder', market('BUY', '0.1'));
    h.market.set('ETHUSDT', '3000', { ask: '3000', bid: '3000' });
    h.call('newOrder', { symbol: 'ETHUSDT', side: 'SELL', type: 'MARKET', quantity: '1' }, KEY2);
    const before = h.call<Obj[]>('balance')[0].balance as string;
    h.clearEvents();
    h.market.clock.advance(5000);
    h.market.funding({ BTCUSDT: '0.0001', ETHUSDT: '0.0001' }, T0 + 1000);
    // 0.1 × 60000 × 0.0001 = 0.6
    const rows = h.call<Obj[]>('income', { incomeType: 'FUNDING_FEE' });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].income, '-0.60000000');
    assert.equal(rows[0].tradeId, '');
    assert.equal(rows[0].time, T0 + 1000);
    assert.equal(Number(h.call<Obj[]>('balance')[0].balance), Number(before) - 0.6);
    const other = h.call<Obj[]>('income', { incomeType: 'FUNDING_FEE' }, KEY2);
    assert.equal(other[0].income, '0.30000000');
    const upd = h.ev('ACCOUNT_UPDATE')[0].a as { m: string; B: Obj[]; P: Obj[] };
    assert.equal(upd.m, 'FUNDING_FEE');
    assert.deepEqual(upd.P, []);
    assert.equal(upd.B[0].bc, '-0.6');
    // tranIds per type: a second funding continues the FUNDING_FEE sequence (shared by all accounts)
    h.market.funding({ BTCUSDT: '-0.0002' }, T0 + 2000);
    const rows2 = h.call<Obj[]>('income', { incomeType: 'FUNDING_FEE' });
    assert.equal(rows2[1].income, '1.20000000');
    assert.ok((rows2[1].tranId as number) > (rows2[0].tranId as number));
    assert.ok((rows2[1].tranId as number) > (other[0].tranId as number));
  });

  test('isolated funding updates the isolated wallet and reports the position', () => {
    const h = harness();
    h.call('setMarginType', { symbol: 'BTCUSDT', marginType: 'ISOLATED' });
    h.market.set('BTCUSDT', '60000', { ask: '60000', bid: '60000' });
    h.call('newOrder', market('BUY', '0.1'));
    h.clearEvents();
    h.market.funding({ BTCUSDT: '0.0001' });
    const upd = h.ev('ACCOUNT_UPDATE')[0].a as { P: Obj[] };
    assert.equal(upd.P.length, 1);
    assert.equal(upd.P[0].mt, 'isolated');
    assert.equal(upd.P[0].iw, '299.40000000');
  });

  test('paging: limit default 100 max 1000, page, time windows, last 7 days by default', () => {
    const h = harness({ maker: '0.0002' });
    // 60 round trips → 180 rows (2 commissions + 1 realized each), one second apart
    for (let i = 0; i < 60; i++) {
      h.call('newOrder', market('BUY', '0.01'));
      h.call('newOrder', market('SELL', '0.01'));
      h.market.clock.advance(1000);
    }
    const first = h.call<Obj[]>('income');
    assert.equal(first.length, 100);
    const second = h.call<Obj[]>('income', { page: '2' });
    assert.equal(second.length, 80);
    assert.ok((second[0].time as number) >= (first[99].time as number));
    assert.equal(h.call<Obj[]>('income', { limit: '5000' }).length, 180);
    assert.equal(h.call<Obj[]>('income', { limit: '7' }).length, 7);
    const win = h.call<Obj[]>('income', { startTime: String(T0 + 10_000), endTime: String(T0 + 11_000) });
    assert.equal(win.length, 6);
    assert.ok(win.every((r) => (r.time as number) >= T0 + 10_000 && (r.time as number) <= T0 + 11_000));
    // ascending: moving startTime past the last time pages forward
    const after = h.call<Obj[]>('income', { startTime: String((first[99].time as number) + 1) });
    assert.ok((after[0].time as number) > (first[99].time as number));
    h.fails('income', { startTime: '10', endTime: '5' }, -1023);
    h.fails('income', { page: '0' }, -1130);
    h.market.clock.advance(8 * 86_400_000);
    assert.equal(h.call<Obj[]>('income').length, 0);
    assert.equal(h.call<Obj[]>('income', { startTime: String(T0) }).length, 100);
  });

  test('a maker fill books the maker commission', () => {
    const h = harness();
    h.call('newOrder', limit('BUY', '0.01', '59000'));
    h.market.trade('BTCUSDT', ['59000']);
    assert.equal(h.call<Obj[]>('income')[0].income, '-0.11800000');
  });
});
