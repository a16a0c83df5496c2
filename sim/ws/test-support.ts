// Test support for the WebSocket side: a fake market and engine the tests drive by hand, a
// simulator harness on a plain node:http server (127.0.0.1, port 0), and a client that waits for
// messages by predicate with a deadline (never a fixed sleep).

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ClientOptions, WebSocket } from 'ws';
import { ExchangeClock } from '../clock.ts';
import type {
  BookTicker,
  KlineInterval,
  KlineRow,
  MarketListener,
  MarketTrade,
  MarketView,
  SymbolSpec,
  UserEvent,
  UserEventListener,
} from '../contracts.ts';
import { createListenKeys, type ListenKeyStore } from './listen-keys.ts';
import { attachStreams, type StreamOptions, type StreamsHandle } from './streams.ts';

export type Level = [string, string];

interface SymState {
  bids: Level[];
  asks: Level[];
  updateId: number;
  last: string;
  mark: string;
  trades: MarketTrade[];
  klines: Map<KlineInterval, KlineRow[]>;
  ticker: Record<string, unknown>;
}

function specOf(symbol: string): SymbolSpec {
  return {
    symbol,
    baseAsset: symbol.replace(/USDT$/, ''),
    quoteAsset: 'USDT',
    tickSize: '0.1',
    minPrice: '0.1',
    maxPrice: '1000000',
    stepSize: '0.001',
    minQty: '0.001',
    maxQty: '1000',
    marketStepSize: '0.001',
    marketMinQty: '0.001',
    marketMaxQty: '100',
    minNotional: '5',
    maxNumOrders: 200,
    multiplierUp: '1.05',
    multiplierDown: '0.95',
    multiplierDecimal: '4',
    pricePrecision: 1,
    quantityPrecision: 3,
    maintMarginPercent: '2.5',
    requiredMarginPercent: '5',
    onboardDate: 0,
    initialPrice: '100',
    beta: 1,
    vol: 0.001,
  };
}

/** A market whose state the test sets; counts the calls that cost something. */
export class FakeMarket implements MarketView {
  readonly clock: ExchangeClock;
  readonly symbols: string[];
  readonly state = new Map<string, SymState>();
  private readonly listeners = new Set<MarketListener>();
  private nextTradeId = 1000;
  calls = { depth: 0, klines: 0, ticker24h: 0, premiumIndex: 0 };

  constructor(clock: ExchangeClock, symbols = ['BTCUSDT', 'ETHUSDT']) {
    this.clock = clock;
    this.symbols = symbols;
    for (const [i, s] of symbols.entries()) {
      const base = 100 * (i + 1);
      this.state.set(s, {
        bids: [
          [`${base - 1}`, '1.000'],
          [`${base - 2}`, '2.000'],
          [`${base - 3}`, '3.000'],
        ],
        asks: [
          [`${base + 1}`, '1.500'],
          [`${base + 2}`, '2.500'],
          [`${base + 3}`, '3.500'],
        ],
        updateId: 5000 * (i + 1),
        last: `${base}`,
        mark: `${base}.5`,
        trades: [],
        klines: new Map(),
        ticker: {
          symbol: s,
          priceChange: '1.0',
          priceChangePercent: '1.000',
          weightedAvgPrice: `${base}`,
          lastPrice: `${base}`,
          lastQty: '0.010',
          openPrice: `${base - 1}`,
          highPrice: `${base + 5}`,
          lowPrice: `${base - 5}`,
          volume: '10.000',
          quoteVolume: `${base * 10}`,
          openTime: 0,
          closeTime: 86_399_999,
          firstId: 1,
          lastId: 10,
          count: 10,
        },
      });
    }
  }

  private st(symbol: string): SymState {
    const s = this.state.get(symbol);
    if (!s) throw new Error(`unknown symbol ${symbol}`);
    return s;
  }

  specs(): SymbolSpec[] {
    return this.symbols.map(specOf);
  }
  spec(symbol: string): SymbolSpec | undefined {
    return this.state.has(symbol) ? specOf(symbol) : undefined;
  }
  exchangeInfo(): unknown {
    return {};
  }
  lastPrice(symbol: string): string {
    return this.st(symbol).last;
  }
  markPrice(symbol: string): string {
    return this.st(symbol).mark;
  }
  indexPrice(symbol: string): string {
    return this.st(symbol).mark;
  }
  bookTicker(symbol: string): BookTicker {
    const s = this.st(symbol);
    return {
      symbol,
      bidPrice: s.bids[0][0],
      bidQty: s.bids[0][1],
      askPrice: s.asks[0][0],
      askQty: s.asks[0][1],
      time: this.clock.now(),
    };
  }
  depth(symbol: string, limit: number) {
    this.calls.depth++;
    const s = this.st(symbol);
    const now = this.clock.now();
    return {
      lastUpdateId: s.updateId,
      E: now,
      T: now,
      bids: s.bids.slice(0, limit).map((l): Level => [l[0], l[1]]),
      asks: s.asks.slice(0, limit).map((l): Level => [l[0], l[1]]),
    };
  }
  klines(symbol: string, interval: KlineInterval, opts: { limit: number }): KlineRow[] {
    this.calls.klines++;
    const rows = this.st(symbol).klines.get(interval) ?? [];
    return rows.slice(-opts.limit);
  }
  ticker24h(symbol: string): Record<string, unknown> {
    this.calls.ticker24h++;
    return { ...this.st(symbol).ticker };
  }
  premiumIndex(symbol: string): Record<string, unknown> {
    this.calls.premiumIndex++;
    const s = this.st(symbol);
    return {
      symbol,
      markPrice: s.mark,
      indexPrice: s.last,
      estimatedSettlePrice: s.last,
      lastFundingRate: '0.00010000',
      interestRate: '0.00010000',
      nextFundingTime: this.clock.now() + 3_600_000,
      time: this.clock.now(),
    };
  }
  fundingHistory(): Record<string, unknown>[] {
    return [];
  }
  recentTrades(symbol: string, limit: number): MarketTrade[] {
    return this.st(symbol).trades.slice(-limit);
  }
  onTick(listener: MarketListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  onFunding(): () => void {
    return () => {};
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  /** Replaces a side of the book (or both); bumps the update id. */
  setBook(symbol: string, book: { bids?: Level[]; asks?: Level[] }): number {
    const s = this.st(symbol);
    if (book.bids) s.bids = book.bids;
    if (book.asks) s.asks = book.asks;
    s.updateId++;
    return s.updateId;
  }

  setKlines(symbol: string, interval: KlineInterval, rows: KlineRow[]): void {
    this.st(symbol).klines.set(interval, rows);
  }

  setTicker(symbol: string, patch: Record<string, unknown>): void {
    Object.assign(this.st(symbol).ticker, patch);
  }

  setMark(symbol: string, mark: string): void {
    this.st(symbol).mark = mark;
  }

  /** Prints `trades` trades at `price` (default the last price), then emits the tick. */
  tick(
    symbol: string,
    opts: { trades?: number; price?: string } = {},
  ): { time: number; trades: MarketTrade[] } {
    const s = this.st(symbol);
    const time = this.clock.now();
    const trades: MarketTrade[] = [];
    const price = opts.price ?? s.last;
    for (let i = 0; i < (opts.trades ?? 0); i++) {
      const t: MarketTrade = {
        id: this.nextTradeId++,
        symbol,
        price,
        qty: '0.010',
        quoteQty: (Number(price) * 0.01).toFixed(3),
        time,
        isBuyerMaker: i % 2 === 0,
      };
      trades.push(t);
      s.trades.push(t);
    }
    s.last = price;
    const book = this.bookTicker(symbol);
    for (const l of [...this.listeners]) l({ symbol, time, trades, last: s.last, mark: s.mark, book });
    return { time, trades };
  }
}

export class FakeEngine {
  private readonly listeners = new Set<UserEventListener>();
  onUserEvent(listener: UserEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(apiKey: string, event: UserEvent): void {
    for (const l of [...this.listeners]) l(apiKey, event);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: test messages are arbitrary JSON
export type Msg = any;

interface Waiter {
  pred: (m: Msg) => boolean;
  resolve: (r: { msg: Msg; before: Msg[] }) => void;
}

/** A WebSocket client that records every message and waits for them by predicate. */
export class TestClient {
  readonly log: Msg[] = [];
  /** Index in `log` of the first message not consumed by take(). */
  private cursor = 0;
  private waiter: Waiter | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;
  pings = 0;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? `<binary ${String(data)}>` : String(data);
      let msg: Msg;
      try {
        msg = JSON.parse(text);
      } catch {
        msg = { unparsed: text };
      }
      this.log.push(msg);
      this.check();
    });
    ws.on('ping', () => {
      this.pings++;
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    });
  }

  private check(): void {
    const w = this.waiter;
    if (!w) return;
    for (let i = this.cursor; i < this.log.length; i++) {
      if (w.pred(this.log[i])) {
        const before = this.log.slice(this.cursor, i);
        this.cursor = i + 1;
        this.waiter = undefined;
        w.resolve({ msg: this.log[i], before });
        return;
      }
    }
  }

  /**
   * Waits for the next message (after the ones already taken) matching `pred`; returns it and the
   * messages skipped on the way. Rejects after `ms`.
   */
  take(pred: (m: Msg) => boolean = () => true, ms = 3000): Promise<{ msg: Msg; before: Msg[] }> {
    if (this.waiter) throw new Error('one take() at a time');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(
          new Error(
            `no matching message within ${ms} ms; got ${JSON.stringify(this.log.slice(this.cursor))}`,
          ),
        );
      }, ms);
      this.waiter = {
        pred,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      this.check();
    });
  }

  async next(pred: (m: Msg) => boolean = () => true, ms = 3000): Promise<Msg> {
    return (await this.take(pred, ms)).msg;
  }

  send(data: unknown): void {
    this.ws.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data));
  }

  /** Sends a request and waits for the reply carrying its id. */
  async request(req: { method: string; params?: unknown; id: number }): Promise<Msg> {
    this.send(req);
    return this.next((m) => m && typeof m === 'object' && m.id === req.id && ('result' in m || 'error' in m));
  }

  async waitClosed(ms = 3000): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.closed, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate();
  }
}

export interface Sim {
  clock: ExchangeClock;
  market: FakeMarket;
  engine: FakeEngine;
  listenKeys: ListenKeyStore;
  server: Server;
  streams: StreamsHandle;
  url: string;
  logs: string[];
  connect(path: string, opts?: ClientOptions): Promise<TestClient>;
  /** Resolves with the HTTP status of a refused upgrade; rejects if the upgrade succeeds. */
  refused(path: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startSim(options: StreamOptions = {}): Promise<Sim> {
  const clock = new ExchangeClock({ virtual: true });
  const market = new FakeMarket(clock);
  const engine = new FakeEngine();
  const listenKeys = createListenKeys(clock);
  const server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const logs: string[] = [];
  const streams = attachStreams(
    server,
    { market, engine, listenKeys, clock, log: (m) => logs.push(m) },
    { timerScale: 0.1, ...options },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: TestClient[] = [];

  return {
    clock,
    market,
    engine,
    listenKeys,
    server,
    streams,
    url,
    logs,
    async connect(path: string, opts?: ClientOptions): Promise<TestClient> {
      const ws = new WebSocket(url + path, opts);
      const client = new TestClient(ws);
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) =>
          reject(new Error(`upgrade refused: ${res.statusCode}`)),
        );
        ws.once('error', reject);
      });
      return client;
    },
    refused(path: string): Promise<number> {
      const ws = new WebSocket(url + path);
      return new Promise((resolve, reject) => {
        ws.once('open', () => {
          ws.terminate();
          reject(new Error(`upgrade to ${path} succeeded`));
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          ws.terminate();
        });
        ws.on('error', () => {});
      });
    },
    async stop(): Promise<void> {
      for (const c of clients) c.close();
      await streams.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
