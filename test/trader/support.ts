// Test and bench support for the trader: a simulator (virtual clock by default), an aggregator
// with one token per role, and a small collector that publishes what the readers will publish
// (kline.1m.window, kline.1m, book, position, balance) from the simulator's REST data.

import { request } from 'undici';
import type { RunningAggregator } from '../../aggregator/index.ts';
import { startTestAggregator, TOKENS } from '../../aggregator/test-support.ts';
import { FuturesApi } from '../../core/binance/endpoints.ts';
import { type BinanceRest, createClient } from '../../core/binance/rest.ts';
import { createLogger } from '../../core/log.ts';
import { AggregatorClient } from '../../core/protocol/client.ts';
import type { KlineBarRow } from '../../core/protocol/topics.ts';
import { DEFAULT_ACCOUNT, type RunningSim, startSim } from '../../sim/index.ts';

export { TOKENS };

/** Polls `cond` until it holds or the deadline passes (never a fixed sleep). */
export async function waitFor<T>(
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function simCall(sim: RunningSim, method: string, path: string, body?: unknown): Promise<any> {
  const res = await request(`${sim.restUrl}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return text === '' ? undefined : JSON.parse(text);
}

export interface Fixture {
  sim: RunningSim;
  agg: RunningAggregator;
  rest: BinanceRest;
  api: FuturesApi;
  collector: Collector;
  admin: AggregatorClient;
  close(): Promise<void>;
}

export async function startFixture(
  opts: { virtualClock?: boolean; symbols?: number } = {},
): Promise<Fixture> {
  const virtual = opts.virtualClock ?? true;
  const sim = await startSim({
    port: 0,
    symbols: opts.symbols ?? 20,
    virtualClock: virtual,
    // 20 s into the previous minute: behind wall time by 40-100 s, so a test may advance the
    // clock by a minute and still publish (the aggregator refuses records > 60 s in the future).
    startTime: virtual ? Math.floor(Date.now() / 60_000) * 60_000 - 40_000 : undefined,
  });
  const agg = await startTestAggregator();
  const rest = createClient({
    env: 'simulator',
    restUrl: sim.restUrl,
    apiKey: DEFAULT_ACCOUNT.apiKey,
    apiSecret: DEFAULT_ACCOUNT.apiSecret,
    logger: createLogger('rest', 'silent'),
  });
  const api = new FuturesApi(rest);
  const collector = new Collector(sim, agg.url, api);
  await collector.client.connect();
  const admin = new AggregatorClient({ url: agg.url, token: TOKENS.admin, source: 'test-admin' });
  await admin.connect();
  return {
    sim,
    agg,
    rest,
    api,
    collector,
    admin,
    async close() {
      await collector.client.close();
      await admin.close();
      await rest.close();
      await agg.close();
      await sim.close();
    },
  };
}

/** What the readers do, in a few lines: read the simulator by REST, publish to the aggregator. */
export class Collector {
  readonly client: AggregatorClient;
  constructor(
    private readonly sim: RunningSim,
    aggUrl: string,
    private readonly api: FuturesApi,
  ) {
    this.client = new AggregatorClient({ url: aggUrl, token: TOKENS.collector, source: 'test-collector' });
  }

  private now(): number {
    return this.sim.clock.now();
  }

  async klines(symbol: string, limit: number): Promise<KlineBarRow[]> {
    const res = await request(
      `${this.sim.restUrl}/fapi/v1/klines?symbol=${symbol}&interval=1m&limit=${limit}`,
    );
    return (await res.body.json()) as KlineBarRow[];
  }

  /** kline.1m.window (closed bars), kline.1m (last closed + forming) and book for the symbols. */
  async market(
    symbols: string[],
    o: { window?: boolean; book?: boolean; bookTime?: number } = {},
  ): Promise<void> {
    const win: Array<{ key: string; ts: number; data: unknown }> = [];
    const bars: Array<{ key: string; ts: number; data: unknown }> = [];
    const books: Array<{ key: string; ts: number; data: unknown }> = [];
    for (const s of symbols) {
      const rows = await this.klines(s, 46);
      const ts = this.now();
      if (o.window !== false) win.push({ key: s, ts, data: { bars: rows.slice(0, -1) } });
      bars.push({ key: s, ts, data: { bars: rows.slice(-2) } });
      if (o.book !== false) {
        const bt = await this.api.bookTicker(s);
        const time = o.bookTime ?? bt.time;
        books.push({
          key: s,
          ts: time,
          data: {
            symbol: s,
            bidPrice: bt.bidPrice,
            bidQty: bt.bidQty,
            askPrice: bt.askPrice,
            askQty: bt.askQty,
            time,
          },
        });
      }
    }
    if (win.length) await this.client.publish('kline.1m.window', win, { ack: true });
    if (books.length) await this.client.publish('book', books, { ack: true });
    await this.client.publish('kline.1m', bars, { ack: true });
  }

  /** position (flat ones explicitly) and balance from the account. */
  async account(symbols: string[]): Promise<void> {
    const rows = await this.api.positionRiskV3();
    const now = this.now();
    const recs = symbols.map((s) => {
      const r = rows.find((x) => x.symbol === s && x.positionSide === 'BOTH');
      const data = r
        ? { ...r }
        : {
            symbol: s,
            positionSide: 'BOTH',
            positionAmt: '0',
            entryPrice: '0',
            unRealizedProfit: '0',
            updateTime: now,
          };
      // The read's exchange time: a later read wins (and says which fills it includes).
      const ts = Math.max(Number(data.updateTime), now);
      return { key: `${s}:BOTH`, ts, data: { ...data, updateTime: ts } };
    });
    await this.client.publish('position', recs, { ack: true });
    const acct = await this.api.accountV3();
    await this.client.publish(
      'balance',
      acct.assets.map((a) => ({
        key: a.asset,
        ts: Math.max(a.updateTime, 1),
        data: { ...a, updateTime: Math.max(a.updateTime, 1) },
      })),
      { ack: true },
    );
  }

  /** Moves the price by pct % at once (POST /sim/price). Returns the new price. */
  async jump(symbol: string, pct: number): Promise<number> {
    const bt = await this.api.bookTicker(symbol);
    const mid = (Number(bt.bidPrice) + Number(bt.askPrice)) / 2;
    const price = mid * (1 + pct / 100);
    await simCall(this.sim, 'POST', '/sim/price', { symbol, price: price.toPrecision(10) });
    return price;
  }
}

export async function simPosition(sim: RunningSim, symbol: string): Promise<number> {
  const stats = await simCall(sim, 'GET', '/sim/stats');
  return Number(stats.accounts[DEFAULT_ACCOUNT.apiKey]?.positions?.[symbol] ?? 0);
}

export async function simOrders(sim: RunningSim): Promise<number> {
  const stats = await simCall(sim, 'GET', '/sim/stats');
  return Number(stats.accounts[DEFAULT_ACCOUNT.apiKey]?.orders ?? 0);
}
