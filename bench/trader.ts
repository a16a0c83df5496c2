// fleet bench trader: the trader's three numbers.
//
// 1. checksPerMinute: the demo strategy's condition checks on one core over 200 symbols × 45 bars
//    (a KlineBook filled with synthetic bars, no position, nothing triggering), for --seconds.
//    The predecessor's fleet scanned 15 million symbol-condition pairs a minute across many
//    servers; target ≥ 60 million a minute here.
// 2. decisionP50Ms / decisionP99Ms: from the aggregator client's delivery of a kline.1m update
//    (the trader's client emits it) to the order's request headers being written to the socket
//    (undici's `undici:client:sendHeaders` diagnostics channel): parse → book → strategy → risk →
//    rounding → tracker record → signing → socket. One +1.5 % forming bar per symbol, published
//    by the bench (as a reader would), one symbol at a time, after WARMUP decisions that compile
//    the path. Target p99 ≤ 2 ms.
// 3. endToEndP50Ms / endToEndP99Ms: in a local stack (the simulator and the aggregator each in
//    its own process, the trader in this one), from a scripted price jump (POST /sim/price +1.5 %) to
//    the order arriving at the simulator (the first bytes of its POST /fapi/v1/order through a
//    byte-forwarding proxy in front of the simulator). The book data reaches the aggregator through
//    a small in-bench collector that reads every book ticker (GET /fapi/v1/ticker/bookTicker, all
//    symbols) once per plannedBookFreshnessMs and publishes them in one frame, as the book readers
//    of `fleet stack` together do; it is reported beside that planned freshness (functions/plan.ts
//    with the stack's default replicas).
//
// Options: --seconds 3 (checks phase), --decisions 150, --jumps 20.

import diagnostics_channel from 'node:diagnostics_channel';
import { connect, createServer, type Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { FuturesApi } from '../core/binance/endpoints.ts';
import { createClient } from '../core/binance/rest.ts';
import { createLogger } from '../core/log.ts';
import { AggregatorClient } from '../core/protocol/client.ts';
import type { KlineBarRow } from '../core/protocol/topics.ts';
import { DEFAULT_ACCOUNT } from '../sim/index.ts';
import { KlineBook } from '../trader/book.ts';
import { createStrategy } from '../trader/strategies/demo.ts';
import type { MarketView } from '../trader/strategy.ts';
import { startTrader } from '../trader/trader.ts';
import { percentile, round3 } from './load.ts';
import { startAggregatorProcess, startSimProcess, stopProcess } from './processes.ts';

const COLLECTOR = 'bench-collector-token-0123456789';
const TRADER = 'bench-trader-token-0123456789';
const M = 60_000;
const WARMUP = 5;
const progress = (msg: string) => {
  if (process.env.BENCH_VERBOSE) console.error(`bench trader: ${msg}`);
};

function checksPhase(seconds: number): { checksPerMinute: number; symbols: number; bars: number } {
  const SYMBOLS = 200;
  const BARS = 45;
  const book = new KlineBook({ capacity: BARS });
  const t0 = Math.floor(Date.now() / M) * M - (BARS - 1) * M;
  const names: string[] = [];
  for (let s = 0; s < SYMBOLS; s++) {
    const name = `S${s}USDT`;
    names.push(name);
    const bars: KlineBarRow[] = [];
    for (let i = 0; i < BARS; i++) {
      const c = String(100 + s + Math.sin(i) * 0.3);
      bars.push([t0 + i * M, c, c, c, c, '1', t0 + i * M + M - 1, '0', 1, '0', '0', '0']);
    }
    book.window(name, bars, Date.now());
  }
  const flat = { amt: 0, entryPrice: 0, unrealizedPnl: 0, ts: 0 };
  const view: MarketView = {
    book,
    position: () => flat,
    balance: () => undefined,
    activeOrders: () => 0,
    exchangeOpenOrders: () => 0,
    banned: () => false,
    now: Date.now,
  };
  const strategy = createStrategy({});
  let emitted = 0;
  const emit = () => {
    emitted++;
  };
  let checks = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  while (performance.now() < deadline) {
    for (let r = 0; r < 100; r++)
      for (let i = 0; i < SYMBOLS; i++) checks += strategy.evaluate(names[i], view, emit);
  }
  const elapsed = performance.now() - start;
  if (emitted !== 0) throw new Error('the checks phase must not trigger');
  return { checksPerMinute: Math.round((checks / elapsed) * M), symbols: SYMBOLS, bars: BARS };
}

async function plannedBookFreshness(): Promise<{ ms: number; note: string }> {
  try {
    const { plan } = await import('../functions/plan.ts');
    const { DEFAULT_REPLICAS } = await import('../cli/stack.ts');
    const p = plan({ replicas: DEFAULT_REPLICAS, symbols: 200, fastSymbols: 20 });
    const book = p.freshness.find((f) => f.topic === 'book');
    if (book) return { ms: book.plannedMs, note: `functions/plan.ts, stack default replicas (${book.note})` };
  } catch {
    // planner not available
  }
  return { ms: 250, note: 'constant: 1000 ms / 4 book replicas (planner not available)' };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: { seconds: { type: 'string' }, decisions: { type: 'string' }, jumps: { type: 'string' } },
    strict: true,
  });
  const seconds = Number(values.seconds ?? 3);
  const decisions = Number(values.decisions ?? 150);
  const jumps = Number(values.jumps ?? 20);
  const checks = checksPhase(seconds);
  progress(`checks ${checks.checksPerMinute}/min`);
  const freshness = await plannedBookFreshness();
  progress(`planned book freshness ${freshness.ms} ms`);

  // ---- the local stack
  const silent = createLogger('bench', 'silent');
  // The simulator in its own process; the trader reaches it through a byte-forwarding proxy here
  // that stamps each order request's first bytes (its arrival at the simulator, less a loopback hop).
  const simProc = await startSimProcess(['--symbols', '200', '--weight-limit', '1000000000']);
  const sim = { restUrl: simProc.origin };
  let arrivedAt = 0;
  let arrivalWaiter: (() => void) | undefined;
  const simPort = Number(new URL(simProc.origin).port);
  const proxy: Server = createServer((client) => {
    const upstream = connect(simPort, '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      if (chunk.toString('latin1', 0, 19) === 'POST /fapi/v1/order') {
        arrivedAt = performance.now();
        arrivalWaiter?.();
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  // The aggregator in its own process, as in production: its work does not run on the trader's
  // event loop between a delivery and the order.
  const aggProc = await startAggregatorProcess([`collector:${COLLECTOR}`, `trader:${TRADER}`]);
  const agg = { url: aggProc.origin, close: () => stopProcess(aggProc.child) };
  const rest = createClient({
    env: 'simulator',
    restUrl: proxyUrl,
    apiKey: DEFAULT_ACCOUNT.apiKey,
    apiSecret: DEFAULT_ACCOUNT.apiSecret,
    weightLimit: 1_000_000_000,
    ordersPer10s: 100_000,
    ordersPerMinute: 100_000,
    logger: silent,
  });
  const api = new FuturesApi(rest);
  const collector = new AggregatorClient({ url: agg.url, token: COLLECTOR, source: 'bench-collector' });
  await collector.connect();
  const info = await api.exchangeInfo();
  const symbols = info.symbols
    .filter((s) => s.status === 'TRADING')
    .map((s) => s.symbol)
    .slice(0, 200);
  const decisionSymbols = symbols.slice(0, Math.min(decisions, symbols.length - jumps));
  const jumpSymbols = symbols.slice(symbols.length - jumps);

  const klines = async (s: string, limit: number): Promise<KlineBarRow[]> => {
    const res = await request(`${sim.restUrl}/fapi/v1/klines?symbol=${s}&interval=1m&limit=${limit}`);
    return (await res.body.json()) as KlineBarRow[];
  };
  const publishBook = async () => {
    const res = await request(`${sim.restUrl}/fapi/v1/ticker/bookTicker`);
    const all = (await res.body.json()) as Array<{
      symbol: string;
      time: number;
      bidPrice: string;
      bidQty: string;
      askPrice: string;
      askQty: string;
    }>;
    await collector.publish(
      'book',
      all.map((b) => ({ key: b.symbol, ts: b.time, data: b })),
    );
  };
  // Windows, forming bars, flat positions.
  for (let i = 0; i < symbols.length; i += 20) {
    const batch = symbols.slice(i, i + 20);
    const rows = await Promise.all(batch.map((s) => klines(s, 46)));
    const ts = Date.now();
    await collector.publish(
      'kline.1m.window',
      batch.map((s, j) => ({ key: s, ts, data: { bars: rows[j].slice(0, -1) } })),
    );
    await collector.publish(
      'kline.1m',
      batch.map((s, j) => ({ key: s, ts, data: { bars: rows[j].slice(-2) } })),
    );
  }
  const now0 = Date.now();
  await collector.publish(
    'position',
    symbols.map((s) => ({
      key: `${s}:BOTH`,
      ts: now0,
      data: { symbol: s, positionSide: 'BOTH', positionAmt: '0', updateTime: now0 },
    })),
  );
  await publishBook();
  progress('published');

  // The trader's aggregator client, with the bench's delivery stamp registered first.
  const traderClient = new AggregatorClient({ url: agg.url, token: TRADER });
  let deliveredAt = 0;
  traderClient.on('update', (topic) => {
    if (topic === 'kline.1m' || topic === 'book') deliveredAt = performance.now();
  });
  let sentAt = 0;
  let sentWaiter: (() => void) | undefined;
  const onHeaders = (msg: unknown) => {
    const r = (msg as { request: { method: string; path: string } }).request;
    if (r.method === 'POST' && r.path.startsWith('/fapi/v1/order')) {
      sentAt = performance.now();
      sentWaiter?.();
    }
  };
  diagnostics_channel.subscribe('undici:client:sendHeaders', onHeaders);
  const limits = {
    maxOrderNotional: 1e9,
    maxSymbolNotional: 1e9,
    maxOpenPositions: 1e9,
    maxOrdersPerSecond: 1e9,
    maxOrdersPerMinute: 1e9,
    maxBookAgeMs: 60_000,
  };
  const trader = await startTrader({
    name: 'bench',
    aggregator: { url: agg.url, token: TRADER },
    client: traderClient,
    mode: 'direct',
    rest,
    api,
    strategy: 'demo',
    strategyParams: { quoteSize: 200 },
    limits,
    reconcileMs: 0,
    logger: silent,
  });
  progress('trader started');
  const deadline = Date.now() + 30_000;
  while (symbols.some((s) => (trader.book.get(s)?.depth() ?? 0) < 45)) {
    if (Date.now() > deadline) throw new Error('the trader book did not fill');
    await new Promise((r) => setTimeout(r, 10));
  }

  const waitFor = (set: (f: () => void) => void, ms: number) =>
    new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      set(() => {
        clearTimeout(t);
        resolve(true);
      });
    });

  progress('book filled');
  // ---- decision latency
  const dec: number[] = [];
  const order: number[] = [];
  for (const s of decisionSymbols) {
    // The bar the trader's book is forming now, 1.5 % above the last closed one.
    const b = trader.book.get(s)!;
    const t = b.newest;
    const prev = String(b.closeAt(1));
    const c = (b.closeAt(1) * 1.015).toPrecision(8);
    const closed: KlineBarRow = [t - M, prev, prev, prev, prev, '1', t - 1, '0', 1, '0', '0', '0'];
    const forming: KlineBarRow = [t, prev, c, prev, c, '1', t + M - 1, '0', 1, '0', '0', '0'];
    sentAt = 0;
    const got = waitFor((f) => {
      sentWaiter = f;
    }, 2000);
    await collector.publish('kline.1m', [{ key: s, ts: Date.now(), data: { bars: [closed, forming] } }]);
    if ((await got) && sentAt > 0 && deliveredAt > 0) {
      // The first WARMUP decisions compile the path (JIT) and open the connection: not counted.
      if (order.length >= WARMUP) dec.push(sentAt - deliveredAt);
      order.push(sentAt - deliveredAt);
    } else
      progress(
        `no order for ${s}: ${JSON.stringify({ ...trader.status(), book: undefined, change: trader.book.get(s)?.changePct(1) })}`,
      );
    sentWaiter = undefined;
    // One decision at a time: let the order's answer come back before the next one.
    const o = trader.orders().at(-1);
    if (o)
      await Promise.race([trader.tracker!.settled(o.clientOrderId), new Promise((r) => setTimeout(r, 2000))]);
  }
  dec.sort((a, b) => a - b);
  progress(
    `decisions ${dec.length}; slowest at ${order
      .map((v, i) => [i, v])
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([i, v]) => `#${i} ${v.toFixed(2)}`)
      .join(', ')}`,
  );

  // ---- end to end: price jump → collector → aggregator → trader → order at the simulator
  let readerOn = true;
  const reader = (async () => {
    while (readerOn) {
      const t = performance.now();
      await publishBook().catch(() => {});
      const wait = freshness.ms - (performance.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  const e2e: number[] = [];
  for (const s of jumpSymbols) {
    // Start at a random phase of the reader's period, as a market move would.
    await new Promise((r) => setTimeout(r, Math.random() * freshness.ms));
    const bt = await api.bookTicker(s);
    const price = ((Number(bt.bidPrice) + Number(bt.askPrice)) / 2) * 1.015;
    arrivedAt = 0;
    const got = waitFor((f) => {
      arrivalWaiter = f;
    }, 10_000);
    const t0 = performance.now();
    await request(`${sim.restUrl}/sim/price`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: s, price: price.toPrecision(10) }),
    }).then((r) => r.body.text());
    if (await got) e2e.push(arrivedAt - t0);
    arrivalWaiter = undefined;
  }
  readerOn = false;
  await reader;
  e2e.sort((a, b) => a - b);
  const status = trader.status();

  diagnostics_channel.unsubscribe('undici:client:sendHeaders', onHeaders);
  await trader.close();
  await traderClient.close();
  await collector.close();
  await rest.close();
  await agg.close();
  await new Promise((r) => proxy.close(r));
  await stopProcess(simProc.child);

  return {
    bench: 'trader',
    checksPerMinute: checks.checksPerMinute,
    checksTarget: 60_000_000,
    checksUniverse: `${checks.symbols} symbols × ${checks.bars} bars, demo strategy, one core`,
    predecessorChecksPerMinute: 15_000_000,
    decisionP50Ms: round3(percentile(dec, 50)),
    decisionP99Ms: round3(percentile(dec, 99)),
    decisionSamples: dec.length,
    decisionWarmup: WARMUP,
    decisionTargetP99Ms: 2,
    endToEndP50Ms: round3(percentile(e2e, 50)),
    endToEndP99Ms: round3(percentile(e2e, 99)),
    endToEndSamples: e2e.length,
    plannedBookFreshnessMs: freshness.ms,
    plannedBookFreshnessSource: freshness.note,
    endToEndNote:
      'simulator and aggregator each in its own process (order arrival stamped by a byte proxy in front of the simulator), trader in this one; book data by an in-bench collector reading all book tickers once per plannedBookFreshnessMs (as the book readers together do)',
    traderRefusals: status.refusals,
    traderOrders: status.orders,
  };
}
