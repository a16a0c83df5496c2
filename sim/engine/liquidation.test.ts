import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness, limit, market } from './testkit.ts';

type Obj = Record<string, any>;

function position(h: ReturnType<typeof harness>, side = 'BOTH'): Obj | undefined {
  return h.call<Obj[]>('positionRiskV3', { symbol: 'BTCUSDT' }).find((r) => r.positionSide === side);
}

/** Opens a position at 60000 with no fees and returns its liquidation price. */
function open(h: ReturnType<typeof harness>, side: 'BUY' | 'SELL', qty: string): number {
  h.market.set('BTCUSDT', '60000', { bid: '60000', ask: '60000' });
  h.call('newOrder', market(side, qty));
  const lp = Number(position(h)?.liquidationPrice);
  assert.ok(lp > 0, 'has a liquidation price');
  h.clearEvents();
  return lp;
}

const tickUp = (p: number) => (Math.ceil(p * 10) / 10 + 0.1).toFixed(1);
const tickDown = (p: number) => (Math.floor(p * 10) / 10 - 0.1).toFixed(1);

describe('liquidation', () => {
  test('cross long: untouched just above the liquidation price, liquidated at it by an autoclose order', () => {
    const h = harness({ balance: '1000', maker: '0', taker: '0' });
    const lp = open(h, 'BUY', '0.1');
    h.market.markTo('BTCUSDT', tickUp(lp));
    assert.equal(position(h)?.positionAmt, '0.100', 'one tick above: still open');
    assert.deepEqual(h.ev('ORDER_TRADE_UPDATE'), []);
    assert.equal(h.ev('MARGIN_CALL').length, 1, 'but the margin ratio is high');
    h.clearEvents();

    h.market.markTo('BTCUSDT', tickDown(lp));
    assert.equal(position(h), undefined, 'gone from positionRisk');
    const [nw, calc] = h.ev('ORDER_TRADE_UPDATE').map((e) => e.o as Obj);
    assert.match(nw.c, /^autoclose-\d+$/);
    assert.deepEqual(
      [nw.o, nw.ot, nw.x, nw.X, nw.S, nw.f],
      ['LIQUIDATION', 'LIQUIDATION', 'NEW', 'NEW', 'SELL', 'IOC'],
    );
    assert.deepEqual(
      [calc.x, calc.X, calc.l, calc.z, calc.c, calc.i],
      ['CALCULATED', 'FILLED', '0.1', '0.1', nw.c, nw.i],
    );
    const fill = Number(calc.L);
    // The fill is the liquidation price on the tick grid, not the (lower) mark: the loss is capped.
    assert.ok(fill <= lp && fill > lp - 0.1, `${fill} ≈ ${lp}`);
    const realized = (fill - 60000) * 0.1;
    assert.equal(Number(calc.rp), Number(realized.toFixed(8)));
    const au = h.ev('ACCOUNT_UPDATE') as Obj[];
    assert.equal(au.length, 1);
    assert.equal(au[0].a.m, 'ORDER');
    assert.deepEqual(
      au[0].a.P.map((p: Obj) => [p.s, p.pa, p.ps]),
      [['BTCUSDT', '0', 'BOTH']],
    );
    assert.equal(Number(au[0].a.B[0].wb).toFixed(4), (1000 + realized).toFixed(4));
    // No TRADE_LITE for a liquidation (it is not a TRADE execution).
    assert.deepEqual(h.ev('TRADE_LITE'), []);

    const income = h.call<Obj[]>('income', {});
    assert.deepEqual(
      income.map((r) => [r.incomeType, Number(r.income).toFixed(4)]),
      [['REALIZED_PNL', realized.toFixed(4)]],
    );
    const fo = h.call<Obj[]>('forceOrders', { symbol: 'BTCUSDT' });
    assert.equal(fo.length, 1);
    assert.deepEqual(
      [fo[0].orderId, fo[0].clientOrderId, fo[0].status, fo[0].side, fo[0].executedQty, fo[0].type],
      [nw.i, nw.c, 'FILLED', 'SELL', '0.100', 'LIMIT'],
    );
    assert.deepEqual(h.call('forceOrders', { autoCloseType: 'ADL' }), []);
    h.fails('forceOrders', { autoCloseType: 'X' }, -1130);
    const trades = h.call<Obj[]>('userTrades', { symbol: 'BTCUSDT' });
    assert.equal(trades.at(-1)?.orderId, nw.i);
    // A later tick does nothing more.
    h.clearEvents();
    h.market.markTo('BTCUSDT', '40000');
    assert.deepEqual(h.ev(), []);
  });

  test('a gap far through the liquidation price still fills at it', () => {
    const h = harness({ balance: '1000', maker: '0', taker: '0' });
    const lp = open(h, 'BUY', '0.1');
    h.market.markTo('BTCUSDT', '30000');
    const calc = h.ev('ORDER_TRADE_UPDATE')[1].o as Obj;
    assert.ok(Number(calc.L) > lp - 0.1 && Number(calc.L) <= lp);
    assert.ok(Number(h.call<Obj[]>('balance')[0].balance) > 0, 'the wallet never goes negative');
  });

  test('cross short: liquidated when the mark rises to the liquidation price; its open orders expire (er 5)', () => {
    const h = harness({ balance: '1000', maker: '0', taker: '0' });
    const lp = open(h, 'SELL', '0.1');
    h.call('newOrder', limit('SELL', '0.01', '70000'));
    h.clearEvents();
    h.market.markTo('BTCUSDT', tickDown(lp));
    assert.equal(position(h)?.positionAmt, '-0.100');
    h.market.markTo('BTCUSDT', tickUp(lp));
    assert.equal(position(h), undefined);
    const otu = h.ev('ORDER_TRADE_UPDATE').map((e) => e.o as Obj);
    assert.deepEqual(
      otu.map((o) => [o.o, o.x, o.X, o.er]),
      [
        ['LIMIT', 'EXPIRED', 'EXPIRED', '5'],
        ['LIQUIDATION', 'NEW', 'NEW', '0'],
        ['LIQUIDATION', 'CALCULATED', 'FILLED', '0'],
      ],
    );
    assert.equal(otu[1].S, 'BUY');
    assert.ok(Number(otu[2].L) >= lp && Number(otu[2].L) < lp + 0.1);
    assert.deepEqual(h.call('openOrders', { symbol: 'BTCUSDT' }), []);
  });

  test('isolated: the whole isolated margin is lost, the rest as INSURANCE_CLEAR; the cross wallet is kept', () => {
    const h = harness({ balance: '10000', maker: '0', taker: '0' });
    h.call('setLeverage', { symbol: 'BTCUSDT', leverage: '10' });
    h.call('setMarginType', { symbol: 'BTCUSDT', marginType: 'ISOLATED' });
    const lp = open(h, 'SELL', '0.1'); // isolated wallet 600
    assert.ok(lp > 60000 && lp < 66000, `${lp}`);
    h.market.markTo('BTCUSDT', tickDown(lp));
    assert.equal(position(h)?.positionAmt, '-0.100');
    h.market.markTo('BTCUSDT', tickUp(lp));
    assert.equal(position(h), undefined);
    const au = h.ev('ACCOUNT_UPDATE') as Obj[];
    assert.deepEqual(
      au.map((e) => e.a.m),
      ['ORDER', 'INSURANCE_CLEAR'],
    );
    assert.equal(au[0].a.P[0].mt, 'isolated');
    const income = h.call<Obj[]>('income', {});
    assert.deepEqual(
      income.map((r) => r.incomeType),
      ['REALIZED_PNL', 'INSURANCE_CLEAR'],
    );
    const total = income.reduce((s, r) => s + Number(r.income), 0);
    assert.equal(total.toFixed(6), '-600.000000');
    assert.equal(au[1].a.B[0].bc, income[1].income.replace(/0+$/, '').replace(/\.$/, ''));
    assert.equal(h.call<Obj[]>('balance')[0].balance, '9400.00000000');
  });

  test('hedge mode: only the side that reached its price is liquidated', () => {
    const h = harness({ balance: '1000', maker: '0', taker: '0' });
    h.call('setPositionMode', { dualSidePosition: 'true' });
    h.market.set('BTCUSDT', '60000', { bid: '60000', ask: '60000' });
    h.call('newOrder', market('BUY', '0.1', { positionSide: 'LONG' }));
    h.call('newOrder', market('SELL', '0.01', { positionSide: 'SHORT' }));
    h.clearEvents();
    h.market.markTo('BTCUSDT', '55000');
    assert.equal(position(h, 'LONG')?.positionAmt, '0.100');
    h.market.markTo('BTCUSDT', '45000');
    assert.equal(position(h, 'LONG'), undefined);
    assert.equal(position(h, 'SHORT')?.positionAmt, '-0.010');
    assert.equal(h.ev('ORDER_TRADE_UPDATE').filter((e) => (e.o as Obj).x === 'CALCULATED').length, 1);
  });
});

describe('MARGIN_CALL', () => {
  test('once when the cross margin ratio reaches 80 %, again only after it fell back', () => {
    const h = harness({ balance: '1000', maker: '0', taker: '0' });
    const lp = open(h, 'BUY', '0.1');
    // margin balance = 1000 + 0.1 × (mark − 60000); mm ≈ 0.1 × mark × mmr. Find a mark with ratio ≈ 0.9.
    const ratioAt = (mark: number) => {
      h.market.set('BTCUSDT', String(mark));
      const a = h.call<Obj>('accountV3');
      return Number(a.totalMaintMargin) / Number(a.totalMarginBalance);
    };
    let high = lp + 1;
    while (ratioAt(high) < 0.85) high += 1;
    assert.ok(high < lp + 200, 'the 80 % line is just above the liquidation price');
    h.market.markTo('BTCUSDT', '59000');
    assert.deepEqual(h.ev('MARGIN_CALL'), []);
    h.market.markTo('BTCUSDT', String(high));
    const calls = h.ev('MARGIN_CALL');
    assert.equal(calls.length, 1);
    const mc = calls[0] as Obj;
    assert.equal(typeof mc.E, 'number');
    assert.ok('cw' in mc);
    assert.deepEqual(
      mc.p.map((p: Obj) => [p.s, p.ps, p.pa, p.mt, p.iw, p.mp]),
      [['BTCUSDT', 'BOTH', '0.1', 'CROSSED', '0', String(high)]],
    );
    assert.ok(Number(mc.p[0].up) < 0 && Number(mc.p[0].mm) > 0);
    h.market.markTo('BTCUSDT', String(high - 0.5));
    assert.equal(h.ev('MARGIN_CALL').length, 1, 'not again while still above the line');
    h.market.markTo('BTCUSDT', '59000');
    h.market.markTo('BTCUSDT', String(high));
    assert.equal(h.ev('MARGIN_CALL').length, 2, 'again after a new crossing');
    assert.equal(position(h)?.positionAmt, '0.100', 'a margin call does not close anything');
  });
});
