import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientFrame, ErrorFrame, PubFrame, ServerFrame, SubFrame } from './frames.ts';
import {
  canPublish,
  canSubscribe,
  KLINE_INTERVALS,
  keyMismatch,
  matchesSymbols,
  symbolOfKey,
  TOPICS,
  topicSpec,
} from './topics.ts';

const T = 1720736417660;

// Binance's own shapes (reference/binance-fapi.md §7.6, §7.7, §10.2, §10.5, §7.3).
const bookTicker = {
  symbol: 'BTCUSDT',
  bidPrice: '4.00000000',
  bidQty: '431.00000000',
  askPrice: '4.00000200',
  askQty: '9.00000000',
  time: 1589437530011,
};
const kline = (open: number) => [
  open,
  '0.01634790',
  '0.80000000',
  '0.01575800',
  '0.01577100',
  '148976.11427815',
  open + 59_999,
  '2434.19055334',
  308,
  '1756.87402397',
  '28.46694368',
  '17928899.62484339',
];
const positionRisk = {
  symbol: 'ADAUSDT',
  positionSide: 'BOTH',
  positionAmt: '30',
  entryPrice: '0.385',
  breakEvenPrice: '0.385077',
  markPrice: '0.41047590',
  unRealizedProfit: '0.76427700',
  liquidationPrice: '0',
  isolatedMargin: '0',
  notional: '12.31427700',
  marginAsset: 'USDT',
  isolatedWallet: '0',
  initialMargin: '0.61571385',
  maintMargin: '0.08004280',
  positionInitialMargin: '0.61571385',
  openOrderInitialMargin: '0',
  adl: 2,
  bidNotional: '0',
  askNotional: '0',
  updateTime: T,
};
const asset = {
  asset: 'USDT',
  walletBalance: '23.72469206',
  unrealizedProfit: '0.00000000',
  marginBalance: '23.72469206',
  maintMargin: '0.00000000',
  initialMargin: '0.00000000',
  positionInitialMargin: '0.00000000',
  openOrderInitialMargin: '0.00000000',
  crossWalletBalance: '23.72469206',
  crossUnPnl: '0.00000000',
  availableBalance: '23.72469206',
  maxWithdrawAmount: '23.72469206',
  updateTime: 1625474304765,
};
const symbolRow = {
  symbol: 'XAUUSDT',
  pair: 'XAUUSDT',
  contractType: 'TRADIFI_PERPETUAL',
  status: 'TRADING',
  pricePrecision: 2,
  filters: [
    { tickSize: '0.01', maxPrice: '200000', minPrice: '0.01', filterType: 'PRICE_FILTER' },
    { filterType: 'MIN_NOTIONAL', notional: '5' },
  ],
  orderTypes: ['LIMIT', 'MARKET'],
};

function ok(topic: string, rec: unknown): boolean {
  return topicSpec(topic)!.record.safeParse(rec).success;
}

describe('protocol topics', () => {
  it('lists the fixed topics and every kline interval (plain and window)', () => {
    for (const t of ['book', 'position', 'balance', 'orders.open', 'symbols', 'volume', 'risk.ban', 'health'])
      assert.ok(TOPICS.includes(t), t);
    for (const iv of KLINE_INTERVALS) {
      assert.equal(topicSpec(`kline.${iv}`)?.family, 'kline');
      assert.equal(topicSpec(`kline.${iv}.window`)?.family, 'kline.window');
    }
    assert.equal(topicSpec('kline.2m'), undefined);
    assert.equal(topicSpec('klines'), undefined);
    assert.equal(topicSpec('__proto__'), undefined);
  });

  it("accepts Binance's own objects as record data, string decimals unchanged", () => {
    assert.ok(ok('book', { key: 'BTCUSDT', ts: bookTicker.time, data: bookTicker }));
    assert.ok(
      ok('book', { key: 'BTCUSDT', ts: 1, data: { ...bookTicker, lastUpdateId: 1027024 } }),
      'extra fields pass',
    );
    assert.ok(ok('kline.1m', { key: 'BTCUSDT', ts: T, data: { bars: [kline(T - 60_000), kline(T)] } }));
    assert.ok(
      ok('kline.1h.window', { key: 'BTCUSDT', ts: T, data: { bars: [kline(1), kline(2), kline(3)] } }),
    );
    assert.ok(ok('position', { key: 'ADAUSDT:BOTH', ts: T, data: positionRisk }));
    assert.ok(ok('balance', { key: 'USDT', ts: asset.updateTime, data: asset }));
    assert.ok(ok('symbols', { key: 'XAUUSDT', ts: T, data: symbolRow }));
    assert.ok(
      ok('orders.open', {
        key: 'BTCUSDT',
        ts: T,
        data: {
          orders: [
            { symbol: 'BTCUSDT', orderId: 1, clientOrderId: 'a', side: 'BUY', type: 'LIMIT', status: 'NEW' },
          ],
          algo: [{ symbol: 'BTCUSDT', algoId: 2, clientAlgoId: 'b', side: 'SELL', algoStatus: 'NEW' }],
        },
      }),
    );
    assert.ok(
      ok('volume', {
        key: 'BTCUSDT',
        ts: T,
        data: { symbol: 'BTCUSDT', quoteVolume: '123.4', volumeSurge: '1.5', fundingRate: '-0.0001' },
      }),
    );
    assert.ok(
      ok('risk.ban', {
        key: 'ALL',
        ts: T,
        data: { symbol: 'ALL', active: true, reason: '24h loss', window: '24h', pnl: '-1800.5', until: 0 },
      }),
    );
    assert.ok(ok('health', { key: 'reader-book-1', ts: T, data: { status: 'ok', time: T, errors: 0 } }));
    assert.ok(
      ok('book', { key: '币安人生USDT', ts: 1, data: { ...bookTicker, symbol: '币安人生USDT' } }),
      'non-Latin symbols',
    );
    assert.ok(
      ok('book', { key: 'BTCUSDT', ts: 1, data: { ...bookTicker, bidPrice: '2.8E-4' } }),
      'exponent decimals',
    );
  });

  it('refuses numbers for decimals, bad shapes, bad keys and bad timestamps', () => {
    const book = (over: object, rec: object = {}) => ({
      key: 'BTCUSDT',
      ts: 1,
      data: { ...bookTicker, ...over },
      ...rec,
    });
    assert.equal(ok('book', book({ bidPrice: 4.0 })), false, 'a decimal as a number');
    assert.equal(ok('book', book({ bidPrice: '4,0' })), false);
    assert.equal(ok('book', book({ bidPrice: '' })), false);
    assert.equal(ok('book', book({ time: '1' })), false);
    assert.equal(ok('book', book({}, { ts: -1 })), false);
    assert.equal(ok('book', book({}, { ts: 1.5 })), false);
    assert.equal(ok('book', book({}, { ts: 2 ** 60 })), false);
    assert.equal(ok('book', book({}, { key: '' })), false);
    assert.equal(ok('book', book({}, { key: 'BTC USDT' })), false);
    assert.equal(ok('book', book({}, { key: 'BTC:USDT' })), false);
    assert.equal(ok('book', book({}, { key: 'A\u0001B' })), false, 'control characters');
    assert.equal(ok('book', book({}, { key: 'x'.repeat(41) })), false);
    assert.equal(ok('book', { key: 'BTCUSDT', ts: 1 }), false, 'no data');
    assert.equal(ok('book', { key: 'BTCUSDT', ts: 1, data: [] }), false);
    const { askQty: _, ...noAsk } = bookTicker;
    assert.equal(ok('book', { key: 'BTCUSDT', ts: 1, data: noAsk }), false);
    assert.equal(
      ok('kline.1m', { key: 'B', ts: 1, data: { bars: [kline(2), kline(1)] } }),
      false,
      'descending bars',
    );
    assert.equal(
      ok('kline.1m', { key: 'B', ts: 1, data: { bars: [kline(1), kline(2), kline(3)] } }),
      false,
      '3 bars',
    );
    assert.equal(
      ok('kline.1m', { key: 'B', ts: 1, data: { bars: [kline(1).slice(0, 11)] } }),
      false,
      '11 slots',
    );
    assert.equal(ok('kline.1m', { key: 'B', ts: 1, data: { bars: [] } }), false);
    assert.equal(ok('position', { key: 'ADAUSDT', ts: T, data: positionRisk }), false, 'key without side');
    assert.equal(
      ok('position', { key: 'ADAUSDT:BOTH', ts: T, data: { ...positionRisk, positionSide: 'UP' } }),
      false,
    );
    assert.equal(ok('risk.ban', { key: 'ALL', ts: 1, data: { symbol: 'ALL', reason: 'x' } }), false);
    assert.equal(ok('health', { key: 'has space', ts: 1, data: { status: 'ok', time: 1 } }), false);
    assert.equal(ok('health', { key: 'c', ts: 1, data: { status: 'fine', time: 1 } }), false);
  });

  it('checks that the key names what the data is about', () => {
    const book = topicSpec('book')!;
    assert.equal(keyMismatch(book, 'BTCUSDT', bookTicker), null);
    assert.match(keyMismatch(book, 'ETHUSDT', bookTicker) ?? '', /data.symbol BTCUSDT/);
    const pos = topicSpec('position')!;
    assert.equal(keyMismatch(pos, 'ADAUSDT:BOTH', positionRisk), null);
    assert.notEqual(keyMismatch(pos, 'ADAUSDT:LONG', positionRisk), null);
    assert.notEqual(keyMismatch(topicSpec('balance')!, 'BNB', asset), null);
    const orders = topicSpec('orders.open')!;
    assert.notEqual(keyMismatch(orders, 'BTCUSDT', { orders: [{ symbol: 'ETHUSDT' }], algo: [] }), null);
    assert.equal(keyMismatch(topicSpec('kline.1m')!, 'ANY', { bars: [] }), null);
  });

  it('gives each role its permissions: collectors never read account data; only admins ban', () => {
    const book = topicSpec('book')!;
    const position = topicSpec('position')!;
    const ban = topicSpec('risk.ban')!;
    assert.ok(canPublish('collector', book) && canSubscribe('collector', book));
    assert.ok(!canPublish('trader', book) && canSubscribe('trader', book));
    for (const t of ['position', 'balance', 'orders.open']) {
      const s = topicSpec(t)!;
      assert.ok(s.account);
      assert.ok(!canSubscribe('collector', s), `collector may not read ${t}`);
      assert.ok(canSubscribe('trader', s) && canSubscribe('admin', s));
      assert.ok(canPublish('collector', s) && !canPublish('trader', s));
    }
    assert.ok(canPublish('admin', position));
    assert.ok(!canPublish('collector', ban) && !canPublish('trader', ban) && canPublish('admin', ban));
    assert.ok(canSubscribe('collector', ban) && canSubscribe('trader', ban));
  });

  it('filters keys by symbol: positions by their symbol, ALL bans always, assets never filtered', () => {
    const set = new Set(['BTCUSDT']);
    assert.equal(symbolOfKey(topicSpec('position')!, 'BTCUSDT:LONG'), 'BTCUSDT');
    assert.ok(matchesSymbols(topicSpec('position')!, 'BTCUSDT:LONG', set));
    assert.ok(!matchesSymbols(topicSpec('position')!, 'ETHUSDT:LONG', set));
    assert.ok(matchesSymbols(topicSpec('risk.ban')!, 'ALL', set));
    assert.ok(!matchesSymbols(topicSpec('risk.ban')!, 'ETHUSDT', set));
    assert.ok(matchesSymbols(topicSpec('balance')!, 'USDT', set));
    assert.ok(matchesSymbols(topicSpec('health')!, 'aggregator', set));
    assert.ok(matchesSymbols(topicSpec('book')!, 'ETHUSDT', null));
  });
});

describe('protocol frames', () => {
  it('parses every client frame of DESIGN.md §5', () => {
    for (const f of [
      { op: 'pub', topic: 'book', src: 'reader-1', records: [{ key: 'BTCUSDT', ts: 1, data: {} }] },
      { op: 'sub', topics: ['book', 'kline.1m'] },
      { op: 'sub', topics: ['book'], symbols: ['BTCUSDT'] },
      { op: 'unsub', topics: ['book'] },
      { op: 'cursor', name: 'kline.1m', size: 200 },
      { op: 'ping', id: 'x' },
      { op: 'ping', id: 7 },
      { op: 'inspect', topic: 'position', key: 'BTCUSDT:BOTH' },
    ])
      assert.ok(ClientFrame.safeParse(f).success, JSON.stringify(f));
    assert.equal(PubFrame.safeParse({ op: 'pub', topic: 'book', src: 'r', records: [] }).success, false);
    assert.equal(
      PubFrame.safeParse({ op: 'pub', topic: 'book', src: 'has space', records: [{}] }).success,
      false,
    );
    assert.equal(SubFrame.safeParse({ op: 'sub', topics: [] }).success, false);
    assert.equal(SubFrame.safeParse({ op: 'sub', topics: ['book'], symbols: [] }).success, false);
    assert.equal(ClientFrame.safeParse({ op: 'cursor', name: 'c', size: 0 }).success, false);
    assert.equal(ClientFrame.safeParse({ op: 'hello' }).success, false);
  });

  it('parses every server frame', () => {
    for (const f of [
      { op: 'hello', v: 1, role: 'trader', time: T, maxFrameBytes: 1, maxRecordsPerFrame: 1 },
      { op: 'snapshot', topic: 'book', seq: 0, records: [] },
      { op: 'upd', topic: 'book', seq: 3, records: [{ key: 'BTCUSDT', ts: 1, data: bookTicker }] },
      { op: 'cursor', name: 'c', value: 3, lap: 0, id: 1 },
      { op: 'pong', id: 'x', time: T },
      { op: 'ack', id: 2, accepted: 1, stale: 0, rejected: 0 },
      { op: 'error', code: 'bad_json', msg: 'not valid JSON', ref: null },
      { op: 'inspect', topic: 'book', keys: 1, sources: {} },
    ])
      assert.ok(ServerFrame.safeParse(f).success, JSON.stringify(f));
    assert.equal(ErrorFrame.safeParse({ op: 'error', code: 'nope', msg: '', ref: null }).success, false);
  });
});
