// `startTrader`: a trader process. It keeps a local kline book current from the aggregator, runs
// a strategy on every relevant update, passes each intent through pre-trade risk, and sends it
// directly (its own order tracker on the Binance client) or through the order gateway.
//
// Nothing is evaluated until every subscribed topic's snapshot is in (bans and positions
// first): a strategy never decides on a book without the positions and bans that go with it.
// After a reconnect or a resync the same holds until the snapshots are back; then every symbol
// is evaluated once.

import { performance } from 'node:perf_hooks';
import type { FuturesApi } from '../core/binance/endpoints.ts';
import { RulesBook } from '../core/binance/filters.ts';
import type { BinanceRest } from '../core/binance/rest.ts';
import { UserStream } from '../core/binance/user-stream.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { AggregatorClient, type ClientRecord } from '../core/protocol/client.ts';
import type { KlineBarRow } from '../core/protocol/topics.ts';
import { KlineBook } from './book.ts';
import { GatewayClient } from './gateway-client.ts';
import { clientOrderId, intentId, prepareOrder, tagsCollide } from './orders.ts';
import { PreTradeRisk, type RiskLimits } from './risk.ts';
import {
  type BalanceView,
  type Intent,
  loadStrategy,
  type MarketView,
  type PositionView,
  type Strategy,
  type StrategyParams,
} from './strategy.ts';
import { OrderTracker, type TrackedOrder } from './tracker.ts';

export interface TraderOptions {
  /** This trader's name (prefix of its client order ids; at most 10 characters of it are used). */
  name: string;
  aggregator: { url: string; token: string; localAddress?: string };
  /** An aggregator client to use instead of connecting one (not closed by close()). */
  client?: AggregatorClient;
  /** Direct sending, or through the gateway. */
  mode: 'direct' | 'gateway';
  /**
   * Direct mode: the account's REST client and typed API. Gateway mode: optional, an unsigned
   * client is enough (only public klines are read, to re-fill gaps).
   */
  rest?: BinanceRest;
  api?: Pick<FuturesApi, 'klines'> & Partial<FuturesApi>;
  /** Direct mode: the user-data stream base (ws://… or wss://…); absent = no user stream. */
  userStreamWs?: string;
  gateway?: { url: string; token: string };
  /** A Strategy, or a built-in name / module path for loadStrategy. */
  strategy: Strategy | string;
  strategyParams?: StrategyParams;
  /** Only these symbols (default every symbol the aggregator has). */
  symbols?: string[];
  /** Bars per symbol (default 45). */
  bars?: number;
  limits?: Partial<RiskLimits>;
  /** Reconciliation with the exchange (direct mode; default 60 s; 0 = only at start). */
  reconcileMs?: number;
  orphanPolicy?: 'adopt' | 'cancel';
  journalPath?: string;
  /** Exchange time (default: the REST client's synced clock, else Date.now). */
  now?: () => number;
  logger?: Logger;
}

export interface TraderStatus {
  name: string;
  mode: 'direct' | 'gateway';
  strategy: string;
  connected: boolean;
  symbols: number;
  positions: Array<{ symbol: string; amt: number; entryPrice: number; unrealizedPnl: number }>;
  /** Unrealized PnL over the positions (USDT). */
  pnl: number;
  orders: Record<string, number>;
  refusals: Record<string, number>;
  evaluations: number;
  /** Evaluations that threw (the trader goes on; each message is logged once). */
  strategyErrors: number;
  intents: number;
  sent: number;
  decisionMs: { p50: number; p99: number; n: number };
  book: KlineBook['stats'];
  refills: number;
  /** Every initial (or resubscribed) snapshot is in: the strategy runs. */
  ready: boolean;
}

export interface RunningTrader {
  readonly name: string;
  readonly book: KlineBook;
  readonly risk: PreTradeRisk;
  readonly strategy: Strategy;
  readonly client: AggregatorClient;
  /** Direct mode's tracker. */
  readonly tracker: OrderTracker | undefined;
  readonly view: MarketView;
  status(): TraderStatus;
  /** Orders this trader sent (tracker or gateway), newest last. */
  orders(): TrackedOrder[];
  /** Runs the reconciliation now (direct mode). */
  reconcile(): Promise<unknown>;
  close(): Promise<void>;
  /** Hooks for tests and the benchmark. */
  onDecision?: (intent: Intent, ms: number) => void;
}

interface PosRec {
  amt: number;
  entryPrice: number;
  unrealizedPnl: number;
  ts: number;
}

const BAR_TOPIC = 'kline.1m';
const WINDOW_TOPIC = 'kline.1m.window';
/** Subscribed in this order: bans and positions before any market data. */
const ACCOUNT_TOPICS = ['position', 'balance', 'orders.open'];
const MARKET_TOPICS = [WINDOW_TOPIC, BAR_TOPIC, 'book'];
const ALL_TOPICS = ['risk.ban', ...ACCOUNT_TOPICS, ...MARKET_TOPICS];

export async function startTrader(opts: TraderOptions): Promise<RunningTrader> {
  const log = opts.logger ?? createLogger(`trader:${opts.name}`);
  const strategy =
    typeof opts.strategy === 'string'
      ? await loadStrategy(opts.strategy, opts.strategyParams)
      : opts.strategy;
  const now = opts.now ?? (opts.rest ? () => opts.rest!.now() : Date.now);
  const positions = new Map<string, PosRec>();
  /** Symbols whose last position record is not flat (the universe's flats are not walked). */
  const nonFlat = new Set<string>();
  const balances = new Map<string, BalanceView>();
  const exchangeOpen = new Map<string, number>();
  const bans = new Map<string, { active: boolean; until: number }>();
  let refills = 0;
  const pendingRefill = new Set<string>();

  const client =
    opts.client ??
    new AggregatorClient({
      url: opts.aggregator.url,
      token: opts.aggregator.token,
      now,
      localAddress: opts.aggregator.localAddress,
    });

  const book = new KlineBook({
    interval: '1m',
    capacity: opts.bars ?? 45,
    onGap: (symbol) => {
      if (!pendingRefill.has(symbol)) {
        pendingRefill.add(symbol);
        queueMicrotask(() => void refill(symbol));
      }
    },
  });

  // ---- sending
  let tracker: OrderTracker | undefined;
  let gateway: GatewayClient | undefined;
  let rules: RulesBook | undefined;
  const risk = new PreTradeRisk(opts.limits, log);
  if (opts.mode === 'direct') {
    if (!opts.api?.newOrder) throw new TypeError('direct mode needs api (FuturesApi)');
    const api = opts.api as FuturesApi;
    rules = await RulesBook.load(api);
    tracker = new OrderTracker({
      api,
      trader: opts.name,
      log,
      journalPath: opts.journalPath,
      orphanPolicy: opts.orphanPolicy,
      // An opening taker follow-up is refused on a ban (closes pass); a sent one counts toward
      // the order rate.
      beforeFollowUp: (maker) => risk.followUp(maker, view),
    });
  } else {
    if (!opts.gateway) throw new TypeError('gateway mode needs gateway { url, token }');
    gateway = new GatewayClient({ ...opts.gateway, trader: opts.name, log });
    const info = await gateway.info();
    if (info?.name !== undefined && tagsCollide(info.name, opts.name)) {
      gateway.close();
      throw new TypeError(
        `trader name ${opts.name} would share the gateway's client order id prefix (gateway ${info.name})`,
      );
    }
  }

  const scratch: PositionView = { amt: 0, entryPrice: 0, unrealizedPnl: 0, ts: 0 };
  const view: MarketView = {
    book,
    position(symbol) {
      const p = positions.get(symbol);
      const ts = p?.ts ?? 0;
      const extra = tracker ? tracker.pendingFills(symbol) : gateway!.pendingFills(symbol);
      scratch.amt = (p?.amt ?? 0) + extra;
      if (Math.abs(scratch.amt) < 1e-12) scratch.amt = 0;
      scratch.entryPrice = p?.entryPrice ?? 0;
      scratch.unrealizedPnl = p?.unrealizedPnl ?? 0;
      scratch.ts = ts;
      return scratch;
    },
    balance: (asset) => balances.get(asset),
    activeOrders: (symbol) => (tracker ? tracker.active(symbol) : gateway!.active(symbol)),
    openingOrders: (symbol) => (tracker ? tracker.activeOpening(symbol) : gateway!.activeOpening(symbol)),
    openSymbols() {
      // Every position the account shows (any symbol, not only the book's), and every symbol
      // with an opening order under way.
      const out = tracker ? tracker.activeOpeningSymbols() : gateway!.activeOpeningSymbols();
      for (const s of nonFlat) if (view.position(s).amt !== 0) out.add(s);
      for (const s of tracker ? tracker.pendingSymbols() : gateway!.pendingSymbols())
        if (view.position(s).amt !== 0) out.add(s);
      return out;
    },
    exchangeOpenOrders: (symbol) => exchangeOpen.get(symbol) ?? 0,
    banned(symbol) {
      const b = bans.get(symbol);
      return b?.active === true && (b.until === 0 || b.until > now());
    },
    now,
  };

  // ---- decisions
  const lat = new Float64Array(4096);
  let latN = 0;
  let evaluations = 0;
  let intents = 0;
  let sent = 0;
  let t0 = 0;
  const running: { onDecision?: RunningTrader['onDecision'] } = {};

  const emit = (intent: Intent): void => {
    intents++;
    const iid = intentId(intent);
    const id = clientOrderId(opts.name, iid);
    if (tracker ? tracker.get(id) !== undefined : gateway!.has(iid)) return; // same decision: never twice
    const bars = book.get(intent.symbol);
    const price = intent.refPrice ?? bars?.closeAt(0) ?? Number.NaN;
    const verdict = risk.check(intent, price, view);
    if (!verdict.ok) return;
    if (tracker) {
      const prepared = prepareOrder(
        intent,
        rules!,
        { bid: bars?.bid, ask: bars?.ask, last: price > 0 ? price : undefined },
        id,
      );
      if (!prepared.ok) {
        risk.refuse('not-placeable', `${intent.symbol}: ${prepared.code} ${prepared.reason}`);
        return;
      }
      // The caps again on the order as it will be sent: rounded quantity × book price.
      const mid = bars ? (bars.bid + bars.ask) / 2 : Number.NaN;
      const again = risk.checkPrepared(intent, Number(prepared.params.quantity), mid > 0 ? mid : price, view);
      if (!again.ok) return;
      const o = tracker.submit(prepared.params, {
        intentKey: iid,
        maker: intent.style.kind === 'maker' ? intent.style : undefined,
      });
      if (!o) return;
    } else {
      gateway!.send(intent, { bid: bars?.bid, ask: bars?.ask, last: price });
    }
    risk.sent();
    sent++;
    const ms = performance.now() - t0;
    lat[latN++ % lat.length] = ms;
    running.onDecision?.(intent, ms);
    log.info(
      { symbol: intent.symbol, action: intent.action, side: intent.side, reason: intent.reason },
      'intent sent',
    );
  };

  const dirty = new Set<string>();
  let strategyErrors = 0;
  const strategyErrorsSeen = new Set<string>();
  // Held until every subscribed topic's snapshot is in (again, after a reconnect or a resync).
  let subscribed = false;
  let ready = false;
  const evaluateDirty = (): void => {
    if (!subscribed || !ALL_TOPICS.every((t) => client.isLive(t))) {
      ready = false;
      return;
    }
    if (!ready) {
      // Everything is known now: every symbol once.
      ready = true;
      for (const s of book.symbols()) dirty.add(s);
    }
    for (const s of dirty) {
      if (opts.symbols && !symbolSet!.has(s)) continue;
      evaluations++;
      try {
        strategy.evaluate(s, view, emit);
      } catch (err) {
        // A strategy's bug must not take the trader (and its open orders' tracking) down.
        strategyErrors++;
        const msg = err instanceof Error ? err.message : String(err);
        if (!strategyErrorsSeen.has(msg) && strategyErrorsSeen.size < 100) {
          strategyErrorsSeen.add(msg);
          log.error({ symbol: s, err }, 'strategy threw (logged once per message; counted in status)');
        }
      }
    }
    dirty.clear();
  };
  const symbolSet = opts.symbols ? new Set(opts.symbols) : undefined;

  const onRecords = (topic: string, records: ClientRecord[]): void => {
    t0 = performance.now();
    switch (topic) {
      case WINDOW_TOPIC:
        for (const r of records) {
          book.window(r.key, (r.data as { bars: KlineBarRow[] }).bars, r.ts);
          dirty.add(r.key);
        }
        break;
      case BAR_TOPIC:
        for (const r of records) {
          book.delta(r.key, (r.data as { bars: KlineBarRow[] }).bars, r.ts);
          dirty.add(r.key);
        }
        break;
      case 'book':
        for (const r of records) {
          const d = r.data as { bidPrice: string; askPrice: string; time: number };
          book.tick(r.key, Number(d.bidPrice), Number(d.askPrice), d.time);
          dirty.add(r.key);
        }
        break;
      case 'position':
        for (const r of records) {
          const d = r.data as {
            symbol: string;
            positionAmt: string;
            entryPrice?: string;
            unRealizedProfit?: string;
          };
          // One-way mode (positionSide BOTH), as the demo and the gateway trade.
          if (!r.key.endsWith(':BOTH')) continue;
          const prev = positions.get(d.symbol);
          if (prev && prev.ts > r.ts) continue;
          const amt = Number(d.positionAmt);
          if (amt !== 0) nonFlat.add(d.symbol);
          else nonFlat.delete(d.symbol);
          positions.set(d.symbol, {
            amt,
            entryPrice: Number(d.entryPrice ?? 0),
            unrealizedPnl: Number(d.unRealizedProfit ?? 0),
            ts: r.ts,
          });
          if (tracker) tracker.positionSeen(d.symbol, r.ts);
          else gateway!.positionSeen(d.symbol, r.ts);
          dirty.add(d.symbol);
        }
        break;
      case 'balance':
        for (const r of records) {
          const d = r.data as { walletBalance: string; availableBalance?: string };
          balances.set(r.key, {
            wallet: Number(d.walletBalance),
            available: Number(d.availableBalance ?? d.walletBalance),
            ts: r.ts,
          });
        }
        break;
      case 'orders.open':
        for (const r of records) {
          const d = r.data as { orders: unknown[]; algo: unknown[] };
          exchangeOpen.set(r.key, d.orders.length + d.algo.length);
        }
        break;
      case 'risk.ban':
        for (const r of records) {
          const d = r.data as { active: boolean; until: number };
          bans.set(r.key, { active: d.active, until: d.until });
        }
        break;
    }
    evaluateDirty();
  };
  const onSnapshot = (topic: string, records: ClientRecord[]): void => {
    if (topic === 'risk.ban') bans.clear();
    onRecords(topic, records);
  };
  const onHold = (): void => {
    ready = false;
  };
  client.on('snapshot', onSnapshot);
  client.on('update', onRecords);
  client.on('close', onHold);
  client.on('gap', onHold);
  client.on('error', (err) => log.debug({ err: err.message }, 'aggregator connection'));

  async function refill(symbol: string): Promise<void> {
    pendingRefill.delete(symbol);
    const b = book.get(symbol);
    if (!b) return;
    refills++;
    const w = client.get<{ bars: KlineBarRow[] }>(WINDOW_TOPIC, symbol);
    if (w) book.window(symbol, w.data.bars, w.ts);
    if (b.missing().length === 0 || !opts.api) return;
    try {
      const rows = await opts.api.klines({ symbol, interval: '1m', limit: book.capacity });
      const ts = now();
      // The forming bar is kept from deltas and ticks; REST fills the closed ones.
      const closed = rows.filter((k) => k.openTime < b.newest);
      book.window(
        symbol,
        closed.map((k) => [
          k.openTime,
          k.open,
          k.high,
          k.low,
          k.close,
          k.volume,
          k.closeTime,
          '0',
          0,
          '0',
          '0',
          '0',
        ]) as KlineBarRow[],
        Math.min(ts, b.barsTs),
      );
    } catch (err) {
      log.warn({ symbol, err: String(err) }, 'gap re-fill by REST failed');
    }
  }

  // ---- start: reconcile, user stream, aggregator
  let userStream: UserStream | undefined;
  let reconcileTimer: NodeJS.Timeout | undefined;
  if (tracker) {
    tracker.restore();
    const r = await tracker.reconcile();
    if (r.adopted + r.cancelled > 0) log.info(r, 'reconciled with the exchange at start');
    if (opts.userStreamWs && opts.rest) {
      userStream = new UserStream({ rest: opts.rest, wsBase: opts.userStreamWs, log, deleteOnClose: false });
      userStream.on('event', (ev) => tracker!.onUserEvent(ev));
      userStream.on('gap', () => void tracker!.reconcile().catch(() => {}));
      userStream.on('error', (err) => log.debug({ err: err.message }, 'user stream'));
      await userStream.start();
    }
    const every = opts.reconcileMs ?? 60_000;
    if (every > 0)
      reconcileTimer = setInterval(() => {
        tracker!.reconcile().catch((err) => log.warn({ err: String(err) }, 'reconcile failed'));
      }, every);
  }
  await client.connect();
  const subOpts = opts.symbols ? { symbols: opts.symbols } : {};
  // Bans first, then the account, then market data; nothing is evaluated before all are in.
  // Positions are not filtered by --symbols: every position counts toward max positions.
  const subs = [
    client.subscribe('risk.ban'),
    client.subscribe(ACCOUNT_TOPICS),
    client.subscribe(MARKET_TOPICS, subOpts),
  ];
  subscribed = true;
  await Promise.all(subs);
  evaluateDirty();

  const trader: RunningTrader = {
    name: opts.name,
    book,
    risk,
    strategy,
    client,
    tracker,
    view,
    status() {
      const ps: TraderStatus['positions'] = [];
      let pnl = 0;
      for (const [symbol, p] of positions) {
        const amt = view.position(symbol).amt;
        if (amt === 0) continue;
        ps.push({ symbol, amt, entryPrice: p.entryPrice, unrealizedPnl: p.unrealizedPnl });
        pnl += p.unrealizedPnl;
      }
      const n = Math.min(latN, lat.length);
      const sorted = Array.from(lat.subarray(0, n)).sort((a, b) => a - b);
      const q = (x: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(x * n))]);
      return {
        name: opts.name,
        mode: opts.mode,
        strategy: strategy.name,
        connected: client.connected,
        symbols: book.size,
        positions: ps,
        pnl,
        orders: tracker ? tracker.counts() : gateway!.counts(),
        refusals: risk.refusalCounts(),
        evaluations,
        strategyErrors,
        intents,
        sent,
        decisionMs: { p50: q(0.5), p99: q(0.99), n },
        book: { ...book.stats },
        refills,
        ready,
      };
    },
    orders: () => (tracker ? tracker.list() : gateway!.list()),
    reconcile: () => (tracker ? tracker.reconcile() : Promise.resolve(undefined)),
    async close() {
      clearInterval(reconcileTimer);
      tracker?.close();
      gateway?.close();
      await userStream?.close();
      client.off('snapshot', onSnapshot);
      client.off('update', onRecords);
      client.off('close', onHold);
      client.off('gap', onHold);
      if (!opts.client) await client.close();
    },
  };
  Object.defineProperty(trader, 'onDecision', {
    get: () => running.onDecision,
    set: (f) => {
      running.onDecision = f;
    },
  });
  return trader;
}
