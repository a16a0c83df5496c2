import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness, limit, market } from './testkit.ts';

type Obj = Record<string, unknown>;

function pos(h: ReturnType<typeof harness>, side = 'BOTH'): Obj | undefined {
  return h.call<Obj[]>('positionRiskV3', { symbol: 'BTCUSDT' }).find((r) => r.positionSide === side);
}

describe('positions (one-way)', () => {
  test('entry price is the weighted average on increase and unchanged on reduce; realized PnL on reduce', () => {
    const h = harness({ maker: '0', taker: '0' });
    h.market.set('BTCUSDT', '60000', { ask: '60000' });
    h.call('newOrder', market('BUY', '0.01'));
    h.market.set('BTCUSDT', '61000', { ask: '61000' });
    h.call('newOrder', market('BUY', '0.03'));
    let p = pos(h);
    assert.equal(p?.positionAmt, '0.040');
    assert.equal(p?.entryPrice, '60750');
    // reduce at 62000: realized (62000 − 60750) × 0.01 = 12.5
    h.market.set('BTCUSDT', '62000', { bid: '62000' });
    h.call('newOrder', market('SELL', '0.01'));
    p = pos(h);
    assert.equal(p?.positionAmt, '0.030');
    assert.equal(p?.entryPrice, '60750');
    assert.equal(p?.unRealizedProfit, '37.50000000');
    const t = h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' });
    assert.equal(t[2].realizedPnl, '12.50000000');
    assert.equal(h.call<Obj[]>('balance')[0].balance, '10012.50000000');
  });

  test('flip: closes the old side with realized PnL, opens the rest at the fill price', () => {
    const h = harness({ maker: '0', taker: '0' });
    h.market.set('BTCUSDT', '60000', { ask: '60000' });
    h.call('newOrder', market('BUY', '0.01'));
    h.market.set('BTCUSDT', '59000', { bid: '59000' });
    h.call('newOrder', market('SELL', '0.03'));
    const p = pos(h);
    assert.equal(p?.positionAmt, '-0.020');
    assert.equal(p?.entryPrice, '59000');
    assert.equal(p?.notional, '-1180.00000000');
    const rp = h.call<Obj[]>('income', { incomeType: 'REALIZED_PNL' });
    assert.deepEqual(
      rp.map((r) => r.income),
      ['-10.00000000'],
    );
    // short profit when the mark falls
    h.market.set('BTCUSDT', '58000');
    assert.equal(pos(h)?.unRealizedProfit, '20.00000000');
    // close exactly: position row disappears from v3, entry resets
    h.market.set('BTCUSDT', '58000', { ask: '58000' });
    h.call('newOrder', market('BUY', '0.02'));
    assert.equal(pos(h), undefined);
    const v2 = h.call<Obj[]>('positionRiskV2', { symbol: 'BTCUSDT' })[0];
    assert.equal(v2.positionAmt, '0.000');
    assert.equal(v2.entryPrice, '0.0');
    assert.equal(h.call<Obj[]>('balance')[0].balance, '10010.00000000');
  });

  test('commission: taker rate on taker fills, maker rate on maker fills; wallet pays it', () => {
    const h = harness();
    h.market.set('BTCUSDT', '50000', { ask: '50000' });
    h.call('newOrder', market('BUY', '0.01'));
    // 500 × 0.0005 = 0.25
    assert.equal(h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' })[0].commission, '0.25000000');
    h.call('newOrder', { ...limit('SELL', '0.01', '51000') });
    h.market.trade('BTCUSDT', ['51000']);
    // 510 × 0.0002 = 0.102; realized 10
    const t = h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' })[1];
    assert.equal(t.commission, '0.10200000');
    assert.equal(t.maker, true);
    assert.equal(h.call<Obj[]>('balance')[0].balance, '10009.64800000');
    const c = h.call<Obj[]>('commissionRate', { symbol: 'BTCUSDT' });
    assert.deepEqual(c, { symbol: 'BTCUSDT', makerCommissionRate: '0.0002', takerCommissionRate: '0.0005' });
  });

  test('break-even price includes the opening commission', () => {
    const h = harness({ taker: '0.0005' });
    h.market.set('BTCUSDT', '60000', { ask: '60000' });
    h.call('newOrder', market('BUY', '0.01'));
    // fee 0.3 over 0.01 → 30 per unit
    assert.equal(pos(h)?.breakEvenPrice, '60030');
  });

  test('reduceOnly: rejected when it would open or increase (-2022), capped at the position otherwise', () => {
    const h = harness();
    h.fails('newOrder', market('SELL', '0.01', { reduceOnly: 'true' }), -2022);
    h.call('newOrder', market('BUY', '0.01'));
    h.fails('newOrder', market('BUY', '0.01', { reduceOnly: 'true' }), -2022);
    const r = h.call('newOrder', market('SELL', '0.05', { reduceOnly: 'true', newOrderRespType: 'RESULT' }));
    assert.equal(r.executedQty, '0.010');
    assert.equal(r.status, 'EXPIRED');
    assert.equal(pos(h), undefined);
  });

  test('resting reduce-only orders expire when the position is gone', () => {
    const h = harness();
    h.call('newOrder', market('BUY', '0.01'));
    const ro = h.call('newOrder', limit('SELL', '0.01', '61000', { reduceOnly: 'true' }));
    h.call('newOrder', market('SELL', '0.01'));
    const q = h.call('queryOrder', { symbol: 'BTCUSDT', orderId: String(ro.orderId) });
    assert.equal(q.status, 'EXPIRED');
    const last = h.ev('ORDER_TRADE_UPDATE').at(-1)?.o as Obj;
    assert.equal(last.er, '4');
    assert.equal(last.R, true);
  });

  test('leverage: 1..125 (-4028), maxNotional limit (-2027), ACCOUNT_CONFIG_UPDATE', () => {
    const h = harness({ balance: '1000000' });
    const e = h.fails('setLeverage', { symbol: 'BTCUSDT', leverage: '126' }, -4028);
    assert.equal(e.message, 'Leverage 126 is not valid');
    h.fails('setLeverage', { symbol: 'BTCUSDT', leverage: '0' }, -4028);
    h.fails('setLeverage', { symbol: 'BTCUSDT' }, -1102);
    h.fails('setLeverage', { symbol: 'NOPE', leverage: '5' }, -1121);
    const r = h.call('setLeverage', { symbol: 'BTCUSDT', leverage: '125' });
    assert.deepEqual(r, { leverage: 125, maxNotionalValue: '50000', symbol: 'BTCUSDT' });
    const cfg = h.ev('ACCOUNT_CONFIG_UPDATE')[0];
    assert.deepEqual(cfg.ac, { s: 'BTCUSDT', l: 125 });
    // 1 BTC = 60000 > 50000 allowed at 125x
    h.fails('newOrder', market('BUY', '1'), -2027);
    h.call('newOrder', market('BUY', '0.5'));
    h.call('setLeverage', { symbol: 'BTCUSDT', leverage: '20' });
    h.call('newOrder', market('BUY', '1'));
    h.fails('setLeverage', { symbol: 'BTCUSDT', leverage: '125' }, -2027);
  });

  test('isolated margin: isolatedWallet per position, margin type switch rules', () => {
    const h = harness();
    assert.deepEqual(h.call('setMarginType', { symbol: 'BTCUSDT', marginType: 'ISOLATED' }), {
      code: 200,
      msg: 'success',
    });
    h.fails('setMarginType', { symbol: 'BTCUSDT', marginType: 'ISOLATED' }, -4046);
    h.fails('setMarginType', { symbol: 'BTCUSDT', marginType: 'HALF' }, -1130);
    h.call('setLeverage', { symbol: 'BTCUSDT', leverage: '10' });
    h.market.set('BTCUSDT', '60000', { ask: '60000' });
    h.call('newOrder', market('BUY', '0.01'));
    const p = h.call<Obj[]>('positionRiskV2', { symbol: 'BTCUSDT' })[0];
    assert.equal(p.marginType, 'isolated');
    assert.equal(p.isolatedWallet, '60.00000000');
    assert.equal(p.isolatedMargin, '60.00000000');
    assert.notEqual(p.liquidationPrice, '0');
    const liq = Number(p.liquidationPrice);
    assert.ok(liq > 54000 && liq < 60000, `liquidation ${liq}`);
    const b = h.call<Obj[]>('balance')[0];
    assert.equal(b.crossWalletBalance, '9939.70000000');
    h.fails('setMarginType', { symbol: 'BTCUSDT', marginType: 'CROSSED' }, -4048);
    h.fails('setLeverage', { symbol: 'BTCUSDT', leverage: '5' }, -4161);
    h.call('newOrder', market('SELL', '0.01'));
    h.call('newOrder', limit('BUY', '0.01', '59000'));
    h.fails('setMarginType', { symbol: 'BTCUSDT', marginType: 'CROSSED' }, -4047);
    h.call('cancelAllOpen', { symbol: 'BTCUSDT' });
    h.call('setMarginType', { symbol: 'BTCUSDT', marginType: 'CROSSED' });
  });

  test('cross liquidation price of a long is below entry, of a short above', () => {
    const h = harness({ balance: '1000' });
    h.market.set('BTCUSDT', '60000', { ask: '60000', bid: '60000' });
    h.call('newOrder', market('BUY', '0.1'));
    const l = Number(pos(h)?.liquidationPrice);
    assert.ok(l > 40000 && l < 60000, `long liquidation ${l}`);
    h.call('newOrder', market('SELL', '0.2'));
    const s = Number(pos(h)?.liquidationPrice);
    assert.ok(s > 60000 && s < 80000, `short liquidation ${s}`);
  });
});

describe('hedge mode', () => {
  test('position mode switch: -4059 no change, -4067 open orders, -4068 positions', () => {
    const h = harness();
    assert.deepEqual(h.call('getPositionMode'), { dualSidePosition: false });
    h.fails('setPositionMode', { dualSidePosition: 'false' }, -4059);
    h.call('newOrder', limit('BUY', '0.01', '59000'));
    h.fails('setPositionMode', { dualSidePosition: 'true' }, -4067);
    h.call('cancelAllOpen', { symbol: 'BTCUSDT' });
    h.call('newOrder', market('BUY', '0.01'));
    h.fails('setPositionMode', { dualSidePosition: 'true' }, -4068);
    h.call('newOrder', market('SELL', '0.01'));
    assert.deepEqual(h.call('setPositionMode', { dualSidePosition: 'true' }), { code: 200, msg: 'success' });
    assert.deepEqual(h.call('getPositionMode'), { dualSidePosition: true });
    assert.equal(h.call('accountConfig').dualSidePosition, true);
  });

  test('LONG and SHORT positions live side by side; closing sides reduce, over-closing -2022', () => {
    const h = harness({ maker: '0', taker: '0' });
    h.call('setPositionMode', { dualSidePosition: 'true' });
    h.market.set('BTCUSDT', '60000', { ask: '60000', bid: '60000' });
    h.call('newOrder', market('BUY', '0.02', { positionSide: 'LONG' }));
    h.call('newOrder', market('SELL', '0.01', { positionSide: 'SHORT' }));
    assert.equal(pos(h, 'LONG')?.positionAmt, '0.020');
    assert.equal(pos(h, 'SHORT')?.positionAmt, '-0.010');
    h.fails('newOrder', market('SELL', '0.03', { positionSide: 'LONG' }), -2022);
    h.fails('newOrder', market('BUY', '0.02', { positionSide: 'SHORT' }), -2022);
    h.market.set('BTCUSDT', '61000', { ask: '61000', bid: '61000' });
    h.call('newOrder', market('SELL', '0.02', { positionSide: 'LONG' }));
    assert.equal(pos(h, 'LONG'), undefined);
    assert.equal(pos(h, 'SHORT')?.unRealizedProfit, '-10.00000000');
    assert.equal(h.call<Obj[]>('income', { incomeType: 'REALIZED_PNL' })[0].income, '20.00000000');
    // v2 rows: LONG and SHORT for every symbol, no BOTH
    const rows = h.call<Obj[]>('positionRiskV2');
    assert.equal(rows.length, 6);
    assert.deepEqual([...new Set(rows.map((r) => r.positionSide))], ['LONG', 'SHORT']);
    assert.deepEqual(h.engine.stats()['key-A'].positions, { BTCUSDT: '-0.010' });
    assert.deepEqual(h.engine.stats()['key-A'].positionsBySide, { 'BTCUSDT:SHORT': '-0.010' });
  });

  test('stats: LONG 0.1 and SHORT 0.1 net to nothing under positions but show in positionsBySide', () => {
    const h = harness({ maker: '0', taker: '0' });
    h.call('setPositionMode', { dualSidePosition: 'true' });
    h.market.set('BTCUSDT', '60000', { ask: '60000', bid: '60000' });
    h.call('newOrder', market('BUY', '0.1', { positionSide: 'LONG' }));
    h.call('newOrder', market('SELL', '0.1', { positionSide: 'SHORT' }));
    const s = h.engine.stats()['key-A'];
    assert.deepEqual(s.positions, {});
    assert.deepEqual(s.positionsBySide, { 'BTCUSDT:LONG': '0.100', 'BTCUSDT:SHORT': '-0.100' });
  });
});
