// Binance's official USDⓈ-M connector (@binance/derivatives-trading-usds-futures) against the
// simulator, with nothing changed but its base URLs: REST `basePath` = sim.restUrl (for
// https://fapi.binance.com) and WebSocket streams `wsURL` = sim.wsUrl (for wss://fstream.binance.com).
//
// The connector builds the 2026 routes itself: `websocketStreams.connect()` opens three sockets,
// `${wsURL}/market/stream?streams=…`, `${wsURL}/public/stream?streams=…` and
// `${wsURL}/private/stream?streams=…`, so the base must be the bare origin (no route). Streams are
// then added with live SUBSCRIBE messages on the matching socket; `userData(listenKey)` SUBSCRIBEs
// the listenKey itself on the /private socket.
//
// Those SUBSCRIBE ids are 32-character hex strings (the typed API takes only string ids). Binance's
// USDⓈ-M page calls the id an "unsigned INT", but production fstream accepts string ids: both
// official SDKs (this one, and binance-connector-python, which sends UUIDs and raises on any error
// reply) subscribe that way on USDⓈ-M, and only the Options streams, which do answer
// "request ID must be an unsigned integer", were switched to integer ids. The simulator accepts
// string ids as production fstream does, so the first WebSocket test below subscribes live; the
// second names its streams at connect() (in the URLs) and does not depend on the live SUBSCRIBE.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  DerivativesTradingUsdsFutures,
  DerivativesTradingUsdsFuturesRestAPI as Rest,
  DerivativesTradingUsdsFuturesWebsocketStreams as Streams,
} from '@binance/derivatives-trading-usds-futures';
import { type RunningSim, startSim } from '../sim/index.ts';
import { control } from './helpers/rest.ts';

// The connector logs every connect/disconnect at info level; keep the test output readable.
process.env.LOG_LEVEL ??= 'warn';

type Connection = Streams.WebsocketStreamsConnection;
type Json = Record<string, any>;

const SYMBOL = 'BTCUSDT';
const WAIT_MS = 10_000;

function alnum(n: number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(n)].map((b) => abc[b % abc.length]).join('');
}

function clientId(tag: string): string {
  return `tp${tag}${alnum(12)}`;
}

/** Messages as they arrive; `next` resolves with the first (past or future) match, or fails at its deadline. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters = new Set<{
    pred: (x: T) => boolean;
    resolve: (x: T) => void;
    reject: (e: Error) => void;
  }>();
  private failure: Error | undefined;

  push(x: T): void {
    this.items.push(x);
    for (const w of [...this.waiters]) {
      if (w.pred(x)) {
        this.waiters.delete(w);
        w.resolve(x);
      }
    }
  }

  /** Makes every pending and future `next` fail with `err` (e.g. the server refused a subscription). */
  fail(err: Error): void {
    this.failure ??= err;
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      w.reject(err);
    }
  }

  next(pred: (x: T) => boolean, what: string, ms = WAIT_MS): Promise<T> {
    const hit = this.items.find(pred);
    if (hit !== undefined) return Promise.resolve(hit);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const w = {
        pred,
        resolve: (x: T) => {
          clearTimeout(timer);
          resolve(x);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`no ${what} within ${ms} ms`));
      }, ms);
      this.waiters.add(w);
    });
  }
}

/** Calls `fn` until `ok(result)`, at most `ms`; returns the accepted result. */
async function pollUntil<T>(
  fn: () => Promise<T>,
  ok: (x: T) => boolean,
  what: string,
  ms = WAIT_MS,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const x = await fn();
    if (ok(x)) return x;
    if (Date.now() > end) assert.fail(`${what}: not reached within ${ms} ms (last: ${JSON.stringify(x)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function filtersOf(symbolInfo: Json): Record<string, Json> {
  return Object.fromEntries((symbolInfo.filters as Json[]).map((f) => [f.filterType, f]));
}

describe('official Binance USDⓈ-M connector against the simulator (base URLs only)', () => {
  const account = { apiKey: alnum(64), apiSecret: alnum(64) };
  let sim: RunningSim;
  let client: DerivativesTradingUsdsFutures;
  const open = new Set<Connection>();

  const wsConnections = async (): Promise<number> =>
    (await control(sim.restUrl, 'GET', '/sim/stats')).ws.connections;

  /** Connects the connector's streams (three sockets: /market, /public, /private) and tracks them. */
  async function connect(stream?: string[]): Promise<Connection> {
    const conn = await client.websocketStreams.connect(stream ? { stream } : {});
    open.add(conn);
    return conn;
  }

  /** The connector's disconnect closes each socket after its own 1 s drain check; wait until the server saw it. */
  async function disconnect(conn: Connection): Promise<void> {
    if (!open.delete(conn)) return;
    await conn.disconnect();
    await pollUntil(wsConnections, (n) => n === 0, 'all WebSocket connections closed');
  }

  before(async () => {
    sim = await startSim({ port: 0, symbols: 20, accounts: [account] });
    await control(sim.restUrl, 'POST', '/sim/price', { symbol: SYMBOL, price: '65000.0' });
    client = new DerivativesTradingUsdsFutures({
      configurationRestAPI: { apiKey: account.apiKey, apiSecret: account.apiSecret, basePath: sim.restUrl },
      configurationWebsocketStreams: { wsURL: sim.wsUrl },
    });
  });

  after(async () => {
    for (const conn of [...open]) await disconnect(conn).catch(() => {});
    await sim.close();
  });

  test('market data over REST: exchange info filters, klines, book ticker', async () => {
    const infoRes = await client.restAPI.exchangeInformation();
    assert.equal(infoRes.status, 200);
    const weight = infoRes.rateLimits?.find((r) => r.rateLimitType === 'REQUEST_WEIGHT');
    assert.equal(weight?.interval, 'MINUTE');
    assert.ok((weight?.count ?? 0) >= 1, 'X-MBX-USED-WEIGHT-1M parsed by the connector');
    const info = (await infoRes.data()) as Json;
    const btc = (info.symbols as Json[]).find((s) => s.symbol === SYMBOL);
    assert.ok(btc, 'BTCUSDT listed');
    assert.equal(btc.status, 'TRADING');
    assert.equal(btc.contractType, 'PERPETUAL');
    const f = filtersOf(btc);
    assert.equal(f.PRICE_FILTER.tickSize, '0.10');
    assert.equal(f.LOT_SIZE.stepSize, '0.001');
    assert.equal(f.MIN_NOTIONAL.notional, '100');

    const klines = await (
      await client.restAPI.klineCandlestickData({
        symbol: SYMBOL,
        interval: Rest.KlineCandlestickDataIntervalEnum.INTERVAL_1m,
        limit: 5,
      })
    ).data();
    assert.equal(klines.length, 5);
    for (const [i, row] of klines.entries()) {
      assert.equal(row.length, 12);
      const [openTime, o, h, l, c, , closeTime] = row;
      assert.equal(Number(openTime) % 60_000, 0);
      assert.equal(Number(closeTime), Number(openTime) + 59_999);
      if (i > 0) assert.equal(Number(openTime), Number(klines[i - 1][0]) + 60_000);
      for (const p of [o, h, l, c]) assert.equal(typeof p, 'string');
      assert.ok(Number(h) >= Math.max(Number(o), Number(c)) && Number(l) <= Math.min(Number(o), Number(c)));
    }

    const book = (await (await client.restAPI.symbolOrderBookTicker({ symbol: SYMBOL })).data()) as Json;
    assert.equal(book.symbol, SYMBOL);
    assert.ok(Number(book.bidPrice) > 0 && Number(book.bidPrice) < Number(book.askPrice));
    assert.ok(Number(book.bidQty) > 0 && Number(book.askQty) > 0);
  });

  test('account over REST: balance v2 and v3, positionRisk v2 and v3', async () => {
    for (const res of [
      await client.restAPI.futuresAccountBalanceV3(),
      await client.restAPI.futuresAccountBalanceV2(),
    ]) {
      const usdt = (await res.data()).find((b) => b.asset === 'USDT');
      assert.ok(usdt, 'USDT balance listed');
      assert.equal(Number(usdt.balance), 10_000);
      assert.equal(Number(usdt.availableBalance), 10_000);
    }
    const v2 = await (await client.restAPI.positionInformationV2({ symbol: SYMBOL })).data();
    assert.equal(v2.length, 1);
    assert.equal(v2[0].symbol, SYMBOL);
    assert.equal(v2[0].positionSide, 'BOTH');
    assert.equal(Number(v2[0].positionAmt), 0);
    // v3 lists only symbols with a position or open orders.
    const v3 = await (await client.restAPI.positionInformationV3()).data();
    assert.ok(!v3.some((p) => p.symbol === SYMBOL && Number(p.positionAmt) !== 0));
  });

  test('trading over REST: resting LIMIT, open orders, cancel, MARKET fill, user trades, COMMISSION income', async () => {
    const book = (await (await client.restAPI.symbolOrderBookTicker({ symbol: SYMBOL })).data()) as Json;
    const restPrice = Math.floor(Number(book.bidPrice) * 0.97 * 10) / 10;
    const limitId = clientId('L');
    const placed = await client.restAPI.newOrder({
      symbol: SYMBOL,
      side: Rest.NewOrderSideEnum.BUY,
      type: Rest.NewOrderTypeEnum.LIMIT,
      timeInForce: Rest.NewOrderTimeInForceEnum.GTC,
      quantity: 0.002,
      price: restPrice,
      newClientOrderId: limitId,
    });
    const orders = placed.rateLimits?.filter((r) => r.rateLimitType === 'ORDERS') ?? [];
    assert.deepEqual(orders.map((r) => `${r.intervalNum}${r.interval}`).sort(), ['10SECOND', '1MINUTE']);
    const limit = await placed.data();
    assert.equal(limit.clientOrderId, limitId);
    assert.equal(limit.status, 'NEW');
    assert.equal(limit.type, 'LIMIT');
    assert.equal(Number(limit.price), restPrice);
    assert.equal(limit.origQty, '0.002');

    const openOrders = await (await client.restAPI.currentAllOpenOrders({ symbol: SYMBOL })).data();
    assert.deepEqual(
      openOrders.map((o) => [o.clientOrderId, o.status]),
      [[limitId, 'NEW']],
    );

    const cancelled = await (
      await client.restAPI.cancelOrder({ symbol: SYMBOL, orderId: limit.orderId as number })
    ).data();
    assert.equal(cancelled.status, 'CANCELED');
    assert.equal(cancelled.clientOrderId, limitId);
    assert.deepEqual(await (await client.restAPI.currentAllOpenOrders({ symbol: SYMBOL })).data(), []);

    const marketId = clientId('M');
    const market = await (
      await client.restAPI.newOrder({
        symbol: SYMBOL,
        side: Rest.NewOrderSideEnum.BUY,
        type: Rest.NewOrderTypeEnum.MARKET,
        quantity: 0.002,
        newClientOrderId: marketId,
        newOrderRespType: Rest.NewOrderNewOrderRespTypeEnum.RESULT,
      })
    ).data();
    assert.equal(market.clientOrderId, marketId);
    assert.equal(market.status, 'FILLED');
    assert.equal(market.executedQty, '0.002');
    // avgPrice is in Binance's RESULT answer but not in the connector's NewOrderResponse type.
    assert.ok(Number((market as Json).avgPrice) > 0);

    // Binance fills asynchronously: the trade shows up in userTrades shortly after.
    const trades = await pollUntil(
      async () =>
        (await client.restAPI.accountTradeList({ symbol: SYMBOL, orderId: market.orderId as number })).data(),
      (t) => t.length > 0,
      'the MARKET fill in userTrades',
    );
    const qty = trades.reduce((s, t) => s + Number(t.qty), 0);
    assert.equal(qty.toFixed(3), '0.002');
    for (const t of trades) {
      assert.equal(t.symbol, SYMBOL);
      assert.equal(t.side, 'BUY');
      assert.equal(t.buyer, true);
      assert.equal(t.maker, false);
      assert.equal(t.commissionAsset, 'USDT');
      assert.ok(Number(t.commission) > 0);
    }

    const income = await pollUntil(
      async () =>
        (
          await client.restAPI.getIncomeHistory({
            symbol: SYMBOL,
            incomeType: Rest.GetIncomeHistoryIncomeTypeEnum.COMMISSION,
          })
        ).data(),
      (rows) => rows.length >= trades.length,
      'COMMISSION income rows',
    );
    for (const t of trades) {
      const row = income.find((r) => String(r.tradeId) === String(t.id));
      assert.ok(row, `COMMISSION row for trade ${t.id}`);
      assert.equal(row.incomeType, 'COMMISSION');
      assert.equal(row.asset, 'USDT');
      assert.equal(Number(row.income), -Number(t.commission));
    }

    const pos = await (await client.restAPI.positionInformationV3({ symbol: SYMBOL })).data();
    assert.equal(pos.length, 1);
    assert.equal(pos[0].positionAmt, '0.002');
    assert.equal(pos[0].positionSide, 'BOTH');
  });

  test('WebSocket through connect() and live SUBSCRIBE, as the connector does by default: kline stream and ORDER_TRADE_UPDATE', async () => {
    const listenKey = (await (await client.restAPI.startUserDataStream()).data()).listenKey;
    assert.match(listenKey ?? '', /^[A-Za-z0-9]{64}$/);
    const conn = await connect();
    try {
      const klines = new Inbox<Json>();
      const user = new Inbox<Json>();
      // The connector ignores the answers to its SUBSCRIBE; an error answer means the streams below
      // never arrive, so fail at once with it.
      conn.on('message', (raw: string) => {
        const msg = JSON.parse(raw) as Json;
        if (msg.error === undefined) return;
        const err = new Error(`server refused the connector's SUBSCRIBE: ${raw}`);
        klines.fail(err);
        user.fail(err);
      });
      conn
        .klineCandlestickStreams({
          symbol: SYMBOL,
          interval: Streams.KlineCandlestickStreamsIntervalEnum.INTERVAL_1m,
        })
        .on('message', (d) => klines.push(d as Json));
      conn.userData(listenKey as string).on('message', (d) => user.push(d as Json));

      const k = await klines.next((m) => m.e === 'kline', 'kline event on /market');
      assert.equal(k.s, SYMBOL);
      assert.equal(k.k.i, '1m');

      const id = clientId('W');
      const book = (await (await client.restAPI.symbolOrderBookTicker({ symbol: SYMBOL })).data()) as Json;
      const order = await (
        await client.restAPI.newOrder({
          symbol: SYMBOL,
          side: Rest.NewOrderSideEnum.BUY,
          type: Rest.NewOrderTypeEnum.LIMIT,
          timeInForce: Rest.NewOrderTimeInForceEnum.GTC,
          quantity: 0.002,
          price: Math.floor(Number(book.bidPrice) * 0.97 * 10) / 10,
          newClientOrderId: id,
        })
      ).data();
      try {
        const ev = await user.next(
          (m) => m.e === 'ORDER_TRADE_UPDATE' && m.o?.c === id,
          'ORDER_TRADE_UPDATE on /private',
        );
        assert.equal(ev.o.X, 'NEW');
        assert.equal(ev.o.s, SYMBOL);
      } finally {
        await client.restAPI.cancelOrder({ symbol: SYMBOL, orderId: order.orderId as number });
      }
    } finally {
      await disconnect(conn);
    }
  });

  test('WebSocket with the streams named at connect(): kline and bookTicker streams, ORDER_TRADE_UPDATE, keepalive', async () => {
    const listenKey = (await (await client.restAPI.startUserDataStream()).data()).listenKey as string;
    assert.equal((await client.restAPI.keepaliveUserDataStream()).status, 200);
    // connect({ stream }) puts the names in each route's URL (/market, /public, /private ?streams=…);
    // each route delivers only its own kind, so the data does not depend on the live SUBSCRIBE.
    const conn = await connect([
      `${SYMBOL.toLowerCase()}@kline_1m`,
      `${SYMBOL.toLowerCase()}@bookTicker`,
      listenKey,
    ]);
    try {
      const klines = new Inbox<Json>();
      conn
        .klineCandlestickStreams({
          symbol: SYMBOL,
          interval: Streams.KlineCandlestickStreamsIntervalEnum.INTERVAL_1m,
        })
        .on('message', (d) => klines.push(d as Json));
      const books = new Inbox<Json>();
      conn.individualSymbolBookTickerStreams({ symbol: SYMBOL }).on('message', (d) => books.push(d as Json));
      const user = new Inbox<Json>();
      conn.userData(listenKey).on('message', (d) => user.push(d as Json));

      const k = await klines.next((m) => m.e === 'kline', 'kline event on /market');
      assert.equal(k.s, SYMBOL);
      assert.equal(k.k.s, SYMBOL);
      assert.equal(k.k.i, '1m');
      assert.equal(typeof k.k.x, 'boolean');
      assert.equal(Number(k.k.T), Number(k.k.t) + 59_999);
      const b = await books.next((m) => m.e === 'bookTicker', 'bookTicker event on /public');
      assert.equal(b.s, SYMBOL);
      assert.ok(Number(b.b) > 0 && Number(b.b) < Number(b.a));

      const id = clientId('U');
      const book = (await (await client.restAPI.symbolOrderBookTicker({ symbol: SYMBOL })).data()) as Json;
      const order = await (
        await client.restAPI.newOrder({
          symbol: SYMBOL,
          side: Rest.NewOrderSideEnum.BUY,
          type: Rest.NewOrderTypeEnum.LIMIT,
          timeInForce: Rest.NewOrderTimeInForceEnum.GTC,
          quantity: 0.002,
          price: Math.floor(Number(book.bidPrice) * 0.97 * 10) / 10,
          newClientOrderId: id,
        })
      ).data();
      const placed = await user.next(
        (m) => m.e === 'ORDER_TRADE_UPDATE' && m.o?.c === id,
        'ORDER_TRADE_UPDATE (NEW)',
      );
      assert.equal(placed.o.s, SYMBOL);
      assert.equal(placed.o.S, 'BUY');
      assert.equal(placed.o.o, 'LIMIT');
      assert.equal(placed.o.x, 'NEW');
      assert.equal(placed.o.X, 'NEW');
      assert.equal(String(placed.o.i), String(order.orderId));

      await client.restAPI.cancelOrder({ symbol: SYMBOL, orderId: order.orderId as number });
      const gone = await user.next(
        (m) => m.e === 'ORDER_TRADE_UPDATE' && m.o?.c === id && m.o.X === 'CANCELED',
        'ORDER_TRADE_UPDATE (CANCELED)',
      );
      assert.equal(gone.o.x, 'CANCELED');
    } finally {
      await disconnect(conn);
    }
    assert.equal((await client.restAPI.closeUserDataStream()).status, 200);
  });
});
