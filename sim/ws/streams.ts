// The simulator's WebSocket side: Binance USDⓈ-M market streams (/public, /market and the legacy
// unrouted paths) and user-data streams (/private), on the simulator's HTTP server.
//
// Layout (reference §1.2, §11.2, §12):
//   /public/ws/<s1>/<s2>            /public/stream?streams=<s1>/<s2>      book streams
//   /market/ws/<s1>/<s2>            /market/stream?streams=<s1>/<s2>      other market data
//   /ws/<s1>/<s2>                   /stream?streams=<s1>/<s2>             legacy: /public data only
//   /private/ws?listenKey=K[&events=E1/E2]      /private/ws/<listenKey>
//   /private/stream?listenKey=K1&events=E1&listenKey=K2&events=E2        user data
// Any other upgrade on the server is answered 404 and its socket destroyed.
//
// A stream on the wrong route (or an unknown but well-formed name, or an unknown symbol) is
// acknowledged, listed, and never delivers, as Binance does. An invalid or expired listenKey at
// connect is accepted and silent (Binance completes the handshake for a bogus key).
//
// Work is proportional to subscriptions: active streams are indexed by name, tick-driven streams
// (bookTicker, aggTrade) are looked up per tick only when some exist, and the periodic ones run on
// one real-time timer per period that exists only while a stream of that period is subscribed.
// Payloads are serialized once per event and shared by all subscribers.

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type {
  EngineApi,
  KlineInterval,
  KlineRow,
  MarketTick,
  MarketView,
  SimClock,
  UserEvent,
} from '../contracts.ts';
import type { ListenKeyStore } from './listen-keys.ts';
import {
  aggTradePayload,
  bookTickerPayload,
  depthPayload,
  diffLevels,
  klinePayload,
  markPricePayload,
  miniTickerPayload,
  tickerPayload,
  tickerSignature,
} from './payloads.ts';
import {
  deliverable,
  isWellFormed,
  parsePrivateItem,
  parseStreamName,
  type Route,
  type StreamSpec,
  streamPeriod,
  streamRoute,
  streamSymbol,
} from './stream-names.ts';

export interface StreamOptions {
  /** Server ping period (Binance: 3 minutes). Also the period of the pong and lifetime checks. */
  pingIntervalMs?: number;
  /** A connection with no pong for this long is dropped (Binance: 10 minutes). */
  pongTimeoutMs?: number;
  /** Maximum connection life (Binance: 24 hours). */
  maxLifetimeMs?: number;
  /** Streams per connection (Binance: 1024). */
  maxStreams?: number;
  /** Incoming messages per second before the connection is dropped (Binance: 10). */
  maxMessagesPerSecond?: number;
  /** A socket whose unsent data exceeds this is terminated (default 4 MiB). */
  maxBufferedBytes?: number;
  /** Largest frame accepted from a client (default 64 KiB; larger closes with 1009). */
  maxPayloadBytes?: number;
  /** Multiplies every stream update period (tests shrink it; default 1). */
  timerScale?: number;
}

export interface StreamDeps {
  market: MarketView;
  engine: Pick<EngineApi, 'onUserEvent'>;
  listenKeys: ListenKeyStore;
  clock: SimClock;
  log?: (msg: string) => void;
}

export interface StreamsHandle {
  /** Stops everything: upgrade handling, timers, listeners, and terminates every socket. */
  close(): Promise<void>;
  /** Fault injection: terminates every socket; returns how many. */
  dropAll(): number;
  stats(): { connections: number; byRoute: Record<string, number> };
}

const DEFAULTS: Required<StreamOptions> = {
  pingIntervalMs: 3 * 60_000,
  pongTimeoutMs: 10 * 60_000,
  maxLifetimeMs: 24 * 3_600_000,
  maxStreams: 1024,
  maxMessagesPerSecond: 10,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxPayloadBytes: 64 * 1024,
  timerScale: 1,
};

const METHODS = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY'];

interface Target {
  route: Route;
  combined: boolean;
  names: string[];
}

interface Conn {
  id: number;
  ws: WebSocket;
  route: Route;
  combined: boolean;
  /** Everything subscribed, in order (LIST_SUBSCRIPTIONS), deliverable or not. */
  subs: Set<string>;
  /** /private: listenKey → allowed event types (null = all). */
  keys: Map<string, Set<string> | null>;
  /** Arrival times (ms) of recent incoming messages, for the per-second limit. */
  recent: number[];
  lastPong: number;
  openedAt: number;
  dead: boolean;
}

interface DepthBook {
  id: number;
  bids: Map<string, string>;
  asks: Map<string, string>;
}

interface KlineState {
  openTime?: number;
  closeTime?: number;
  lastRow?: KlineRow;
  sig?: string;
  closedSent?: boolean;
  /** Last trade id and count at the last emission (derives f/L: ids are sequential per symbol). */
  lastId?: number;
  lastN?: number;
}

/** A deliverable stream with at least one subscriber. */
interface Active {
  name: string;
  spec: StreamSpec;
  symbol?: string;
  period: number;
  conns: Set<Conn>;
  /** Subscribers that have received nothing yet (get the current state on the next period). */
  fresh: Set<Conn>;
  depth?: DepthBook;
  lastId?: number;
  kline?: KlineState;
  sigs?: Map<string, string>;
}

interface PeriodGroup {
  timer: NodeJS.Timeout;
  streams: Set<Active>;
}

function wrap(stream: string, raw: string): string {
  return `{"stream":${JSON.stringify(stream)},"data":${raw}}`;
}

/** A payload, raw and (computed once, when a combined subscriber needs it) wrapped. */
class Frame {
  private w: string | undefined;
  constructor(
    readonly stream: string,
    readonly raw: string,
  ) {}
  wrapped(): string {
    if (this.w === undefined) this.w = wrap(this.stream, this.raw);
    return this.w;
  }
}

function errorReply(code: number, msg: string, id: unknown): string {
  return JSON.stringify({ error: { code, msg }, id: id ?? null });
}

/** Line and column (1-based) of a JSON.parse failure, as far as V8's message tells. */
function jsonErrorPosition(text: string, err: unknown): { line: number; column: number } {
  const msg = err instanceof Error ? err.message : '';
  const m = /position (\d+)/.exec(msg);
  let pos = m ? Number(m[1]) : /end of JSON/i.test(msg) ? text.length : 0;
  if (pos > text.length) pos = text.length;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < pos; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: pos - lineStart + 1 };
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/**
 * Binance's docs call the id an unsigned int, but both official SDKs subscribe on USDⓈ-M with
 * string ids (32 hex characters, UUIDs) and production echoes them; so both are accepted.
 */
function isValidRequestId(v: unknown): boolean {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0;
  return typeof v === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(v);
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  if (socket.writable) {
    const body = `${status} ${text}`;
    socket.once('finish', () => socket.destroy());
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  } else {
    socket.destroy();
  }
}

/** Parses the upgrade URL; undefined = a path this server does not serve. */
function parseTarget(url: string, maxStreams: number): Target | 'too-many' | undefined {
  let u: URL;
  let segs: string[];
  try {
    u = new URL(url, 'http://sim.local');
    segs = u.pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  let route: Route = 'legacy';
  let i = 0;
  if (segs[0] === 'public' || segs[0] === 'market' || segs[0] === 'private') {
    route = segs[0];
    i = 1;
  }
  const mode = segs[i];
  const rest = segs.slice(i + 1);
  let names: string[];
  let combined: boolean;
  if (mode === 'ws') {
    names = rest;
    combined = false;
  } else if (mode === 'stream' && rest.length === 0) {
    names = u.searchParams
      .getAll('streams')
      .flatMap((s) => s.split('/'))
      .filter((s) => s !== '');
    combined = true;
  } else {
    return undefined;
  }
  if (route === 'private') {
    // listenKey / events pairs, in order: an `events` applies to the listenKey before it.
    const pairs: Array<{ key: string; events?: string[] }> = [];
    let pending: string[] | undefined;
    for (const [k, v] of u.searchParams) {
      if (k === 'listenKey') {
        pairs.push({ key: v, events: pending });
        pending = undefined;
      } else if (k === 'events') {
        const events = v.split('/').filter((s) => s !== '');
        const last = pairs.at(-1);
        if (last && last.events === undefined) last.events = events;
        else pending = events;
      }
    }
    for (const p of pairs) {
      if (p.key === '') continue;
      if (p.events === undefined) names.push(p.key);
      else for (const e of p.events) names.push(`${p.key}@${e}`);
    }
  }
  names = [...new Set(names)];
  if (names.length > maxStreams) return 'too-many';
  return { route, combined, names };
}

export function attachStreams(server: Server, deps: StreamDeps, options: StreamOptions = {}): StreamsHandle {
  const opts: Required<StreamOptions> = { ...DEFAULTS, ...options };
  const { market, engine, listenKeys, clock } = deps;
  const log = deps.log ?? (() => {});
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxPayloadBytes,
    clientTracking: false,
  });

  const conns = new Set<Conn>();
  const active = new Map<string, Active>();
  const groups = new Map<number, PeriodGroup>();
  /** listenKey → private connections listening to it. */
  const byListenKey = new Map<string, Set<Conn>>();
  /** Number of active tick-driven streams: zero means onTick does nothing. */
  let tickDriven = 0;
  let nextConnId = 1;
  let closing = false;

  // ---- sending ---------------------------------------------------------------------------------

  function send(conn: Conn, data: string): void {
    const ws = conn.ws;
    if (conn.dead || ws.readyState !== WebSocket.OPEN) return;
    ws.send(data);
    if (ws.bufferedAmount > opts.maxBufferedBytes) {
      log(`ws #${conn.id}: ${ws.bufferedAmount} bytes unsent, over the cap; terminating`);
      kill(conn);
    }
  }

  function kill(conn: Conn): void {
    conn.dead = true;
    conn.ws.terminate();
  }

  /**
   * Sends one payload to a stream's subscribers (raw or wrapped per connection). `freshRaw`
   * replaces it for subscribers that have received nothing yet; `onlyFresh` sends to those only.
   */
  function deliver(st: Active, raw: string, freshRaw?: string, onlyFresh = false): void {
    const plain = new Frame(st.name, raw);
    const first = freshRaw === undefined ? plain : new Frame(st.name, freshRaw);
    const targets = onlyFresh ? [...st.fresh] : st.conns;
    for (const c of targets) {
      const frame = st.fresh.has(c) ? first : plain;
      send(c, c.combined ? frame.wrapped() : frame.raw);
    }
    st.fresh.clear();
  }

  // ---- stream lifecycle ------------------------------------------------------------------------

  function scaled(period: number): number {
    return Math.max(1, Math.round(period * opts.timerScale));
  }

  function addToGroup(st: Active): void {
    let g = groups.get(st.period);
    if (!g) {
      const streams = new Set<Active>();
      const timer = setInterval(() => runPeriod(streams), scaled(st.period));
      timer.unref();
      g = { timer, streams };
      groups.set(st.period, g);
    }
    g.streams.add(st);
  }

  function removeFromGroup(st: Active): void {
    const g = groups.get(st.period);
    if (!g) return;
    g.streams.delete(st);
    if (g.streams.size === 0) {
      clearInterval(g.timer);
      groups.delete(st.period);
    }
  }

  function depthBook(symbol: string): DepthBook & { T: number } {
    const d = market.depth(symbol, 1000);
    return { id: d.lastUpdateId, T: d.T, bids: new Map(d.bids), asks: new Map(d.asks) };
  }

  function attachMarket(conn: Conn, name: string): void {
    const spec = parseStreamName(name);
    if (!spec || !deliverable(conn.route, streamRoute(spec))) return;
    const symbol = streamSymbol(spec);
    if (symbol !== undefined && !market.spec(symbol)) return;
    let st = active.get(name);
    if (!st) {
      st = { name, spec, symbol, period: streamPeriod(spec), conns: new Set(), fresh: new Set() };
      // The diff-depth baseline is the book at subscription time, so the first event continues
      // from a state the client can fetch over REST.
      if (spec.kind === 'diffDepth' && symbol) st.depth = depthBook(symbol);
      active.set(name, st);
      if (st.period === 0) tickDriven++;
      else addToGroup(st);
    }
    st.conns.add(conn);
    st.fresh.add(conn);
  }

  function detachMarket(conn: Conn, name: string): void {
    const st = active.get(name);
    if (!st?.conns.delete(conn)) return;
    st.fresh.delete(conn);
    if (st.conns.size > 0) return;
    active.delete(name);
    if (st.period === 0) tickDriven--;
    else removeFromGroup(st);
  }

  /** Recomputes a /private connection's listenKey filters from its subscriptions. */
  function rebuildKeys(conn: Conn): void {
    const next = new Map<string, Set<string> | null>();
    for (const s of conn.subs) {
      const item = parsePrivateItem(s);
      if (!item) continue;
      if (item.event === undefined) {
        next.set(item.listenKey, null);
        continue;
      }
      const cur = next.get(item.listenKey);
      if (cur === null) continue;
      if (cur) cur.add(item.event);
      else next.set(item.listenKey, new Set([item.event]));
    }
    for (const k of conn.keys.keys()) {
      if (next.has(k)) continue;
      const set = byListenKey.get(k);
      set?.delete(conn);
      if (set?.size === 0) byListenKey.delete(k);
    }
    for (const k of next.keys()) {
      if (conn.keys.has(k)) continue;
      const set = byListenKey.get(k);
      if (set) set.add(conn);
      else byListenKey.set(k, new Set([conn]));
    }
    conn.keys = next;
  }

  function subscribe(conn: Conn, names: string[]): void {
    let privateChanged = false;
    for (const name of names) {
      if (conn.subs.has(name)) continue;
      conn.subs.add(name);
      if (conn.route === 'private') privateChanged = true;
      else attachMarket(conn, name);
    }
    if (privateChanged) rebuildKeys(conn);
  }

  function unsubscribe(conn: Conn, names: string[]): void {
    let privateChanged = false;
    for (const name of names) {
      if (!conn.subs.delete(name)) continue;
      if (conn.route === 'private') privateChanged = true;
      else detachMarket(conn, name);
    }
    if (privateChanged) rebuildKeys(conn);
  }

  // ---- tick-driven streams ---------------------------------------------------------------------

  const tickNames = new Map<string, { bookTicker: string; aggTrade: string }>();

  function onTick(tick: MarketTick): void {
    if (tickDriven === 0) return;
    let names = tickNames.get(tick.symbol);
    if (!names) {
      const lower = tick.symbol.toLowerCase();
      names = { bookTicker: `${lower}@bookTicker`, aggTrade: `${lower}@aggTrade` };
      tickNames.set(tick.symbol, names);
    }
    try {
      const agg = active.get(names.aggTrade);
      if (agg && tick.trades.length > 0) {
        const E = clock.now();
        for (const t of tick.trades) deliver(agg, JSON.stringify(aggTradePayload(t, E)));
      }
      const one = active.get(names.bookTicker);
      const all = active.get('!bookTicker');
      if (one || all) {
        const u = market.depth(tick.symbol, 5).lastUpdateId;
        const raw = JSON.stringify(bookTickerPayload(tick.book, u, clock.now()));
        if (one) deliver(one, raw);
        if (all) deliver(all, raw);
      }
    } catch (err) {
      log(`ws: tick ${tick.symbol}: ${(err as Error).message}`);
    }
  }

  // ---- periodic streams ------------------------------------------------------------------------

  function runPeriod(streams: Set<Active>): void {
    for (const st of [...streams]) {
      if (st.conns.size === 0) continue;
      try {
        produce(st);
      } catch (err) {
        log(`ws: stream ${st.name}: ${(err as Error).message}`);
      }
    }
  }

  function produce(st: Active): void {
    const spec = st.spec;
    const E = clock.now();
    switch (spec.kind) {
      case 'partialDepth': {
        const d = market.depth(spec.symbol, spec.levels);
        const u = d.lastUpdateId;
        const prev = st.lastId;
        const changed = prev === undefined || prev < u;
        if (!changed && st.fresh.size === 0) return;
        // U..u spans the updates since the previous push, pu is the previous push's u.
        const U = prev !== undefined && prev < u ? prev + 1 : u;
        const pu = prev !== undefined && prev < u ? prev : u - 1;
        const raw = JSON.stringify(depthPayload(spec.symbol, E, d.T, U, u, pu, d.bids, d.asks));
        deliver(st, raw, undefined, !changed);
        st.lastId = u;
        return;
      }
      case 'diffDepth': {
        const prev = st.depth ?? depthBook(spec.symbol);
        const cur = depthBook(spec.symbol);
        st.depth = cur;
        if (cur.id === prev.id) return;
        const b = diffLevels(prev.bids, cur.bids, 'bids');
        const a = diffLevels(prev.asks, cur.asks, 'asks');
        const raw = JSON.stringify(depthPayload(spec.symbol, E, cur.T, prev.id + 1, cur.id, prev.id, b, a));
        // A subscriber's first event starts at the id of the book it joined on (U = that id),
        // so a REST snapshot taken after subscribing satisfies U <= lastUpdateId <= u.
        const freshRaw =
          st.fresh.size > 0
            ? JSON.stringify(depthPayload(spec.symbol, E, cur.T, prev.id, cur.id, prev.id - 1, b, a))
            : undefined;
        deliver(st, raw, freshRaw);
        return;
      }
      case 'markPrice':
        deliver(st, JSON.stringify(markPricePayload(market.premiumIndex(spec.symbol), E)));
        return;
      case 'allMarkPrice': {
        const arr = market.specs().map((s) => markPricePayload(market.premiumIndex(s.symbol), E));
        deliver(st, JSON.stringify(arr));
        return;
      }
      case 'ticker':
        deliver(st, JSON.stringify(tickerPayload(market.ticker24h(spec.symbol), E)));
        return;
      case 'miniTicker':
        deliver(st, JSON.stringify(miniTickerPayload(market.ticker24h(spec.symbol), E)));
        return;
      case 'allTicker':
      case 'allMiniTicker': {
        const build = spec.kind === 'allTicker' ? tickerPayload : miniTickerPayload;
        st.sigs ??= new Map();
        const all: Record<string, unknown>[] = [];
        const changed: Record<string, unknown>[] = [];
        for (const s of market.specs()) {
          const t = market.ticker24h(s.symbol);
          const p = build(t, E);
          all.push(p);
          const sig = tickerSignature(t);
          if (st.sigs.get(s.symbol) !== sig) {
            st.sigs.set(s.symbol, sig);
            changed.push(p);
          }
        }
        // Only changed tickers, as Binance; a new subscriber gets them all once.
        const allRaw = st.fresh.size > 0 ? JSON.stringify(all) : undefined;
        if (changed.length > 0) deliver(st, JSON.stringify(changed), allRaw);
        else if (allRaw !== undefined) deliver(st, allRaw, undefined, true);
        return;
      }
      case 'kline':
        produceKline(st, spec.symbol, spec.interval, E);
        return;
      default:
        return;
    }
  }

  /** Trade ids of a bar, derived from the newest trade (ids are sequential per symbol). */
  function klineIds(symbol: string, row: KlineRow, ks: KlineState): { f: number; L: number } {
    const n = row[8];
    if (n <= 0) return { f: -1, L: -1 };
    let L: number | undefined;
    const last = market.recentTrades(symbol, 1).at(-1);
    if (last && last.time >= row[0] && last.time <= row[6]) L = last.id;
    else if (ks.openTime === row[0] && ks.lastId !== undefined && ks.lastN !== undefined)
      L = ks.lastId + (n - ks.lastN);
    if (L === undefined) return { f: -1, L: -1 };
    return { f: L - n + 1, L };
  }

  function emitKline(
    st: Active,
    symbol: string,
    interval: KlineInterval,
    row: KlineRow,
    closed: boolean,
    E: number,
  ): string {
    st.kline ??= {};
    const ks = st.kline;
    const { f, L } = klineIds(symbol, row, ks);
    if (ks.openTime === row[0]) {
      ks.lastId = L >= 0 ? L : ks.lastId;
      ks.lastN = row[8];
    }
    return JSON.stringify(klinePayload(symbol, interval, row, closed, f, L, E));
  }

  function produceKline(st: Active, symbol: string, interval: KlineInterval, E: number): void {
    const rows = market.klines(symbol, interval, { limit: 2 });
    const last = rows.at(-1);
    if (!last) return;
    st.kline ??= {};
    const ks = st.kline;
    const now = clock.now();
    // The bar we have been showing as forming has ended: send it once more, closed.
    if (ks.openTime !== undefined && !ks.closedSent && (last[0] > ks.openTime || now > (ks.closeTime ?? 0))) {
      const row = rows.find((r) => r[0] === ks.openTime) ?? ks.lastRow;
      if (row) deliver(st, emitKline(st, symbol, interval, row, true, E));
      ks.closedSent = true;
    }
    if (now > last[6]) {
      // No forming bar (yet): a new subscriber still gets the latest one.
      if (st.fresh.size > 0) deliver(st, emitKline(st, symbol, interval, last, true, E), undefined, true);
      return;
    }
    if (last[0] !== ks.openTime) {
      st.kline = { openTime: last[0], closeTime: last[6], closedSent: false };
    }
    const cur = st.kline as KlineState;
    cur.lastRow = last;
    const sig = last.join(',');
    if (sig !== cur.sig) {
      cur.sig = sig;
      deliver(st, emitKline(st, symbol, interval, last, false, E));
    } else if (st.fresh.size > 0) {
      deliver(st, emitKline(st, symbol, interval, last, false, E), undefined, true);
    }
  }

  // ---- user data -------------------------------------------------------------------------------

  function onUserEvent(apiKey: string, event: UserEvent): void {
    if (byListenKey.size === 0) return;
    const key = listenKeys.keyOf(apiKey);
    if (key === undefined) return;
    const set = byListenKey.get(key);
    if (!set) return;
    let frame: Frame | undefined;
    for (const c of set) {
      const filter = c.keys.get(key);
      if (filter && !filter.has(event.e)) continue;
      frame ??= new Frame(key, JSON.stringify(event));
      send(c, c.combined ? frame.wrapped() : frame.raw);
    }
  }

  function onKeyExpired(_apiKey: string, key: string): void {
    const set = byListenKey.get(key);
    if (!set) return;
    byListenKey.delete(key);
    const raw = JSON.stringify({ e: 'listenKeyExpired', E: clock.now(), listenKey: key });
    for (const c of set) {
      const filter = c.keys.get(key);
      if (filter && !filter.has('listenKeyExpired')) continue;
      send(c, c.combined ? wrap(key, raw) : raw);
    }
  }

  // DELETE closes the stream: a private connection left without any live listenKey is closed.
  function onKeyClosed(_apiKey: string, key: string): void {
    const set = byListenKey.get(key);
    if (!set) return;
    byListenKey.delete(key);
    for (const c of set) {
      const anyLive = [...c.keys.keys()].some((k) => k !== key && listenKeys.owner(k) !== undefined);
      if (!anyLive && !c.dead) c.ws.close(1000, 'listenKey closed');
    }
  }

  // Simulator reset: every key is gone. Each private socket gets listenKeyExpired (as when a key
  // stops being valid on Binance) and is then closed, so clients reconnect with a new key.
  function onKeysReset(keys: Array<{ apiKey: string; listenKey: string }>): void {
    const affected = new Set<Conn>();
    for (const { listenKey } of keys) {
      for (const c of byListenKey.get(listenKey) ?? []) affected.add(c);
      onKeyExpired('', listenKey);
    }
    for (const c of affected) if (!c.dead) c.ws.close(1000, 'listenKey expired');
  }

  // ---- the client protocol ---------------------------------------------------------------------

  function reply(conn: Conn, data: string): void {
    send(conn, data);
  }

  function onMessage(conn: Conn, data: RawData): void {
    if (conn.dead) return;
    const now = Date.now();
    const recent = conn.recent;
    recent.push(now);
    while (recent.length > 0 && now - recent[0] >= 1000) recent.shift();
    if (recent.length > opts.maxMessagesPerSecond) {
      log(`ws #${conn.id}: more than ${opts.maxMessagesPerSecond} messages per second; disconnecting`);
      conn.dead = true;
      conn.ws.close(1008, 'Too many requests');
      return;
    }
    const text = rawToString(data);
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      const { line, column } = jsonErrorPosition(text, err);
      reply(conn, errorReply(3, `Invalid JSON: expected value at line ${line} column ${column}`, null));
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      reply(conn, errorReply(2, 'Invalid request: expected a JSON object', null));
      return;
    }
    const req = msg as Record<string, unknown>;
    const id = req.id ?? null;
    if (id !== null && !isValidRequestId(id)) {
      reply(conn, errorReply(2, 'Invalid request: request ID must be an unsigned integer or a string', null));
      return;
    }
    const method = req.method;
    if (method === undefined || method === null) {
      reply(conn, errorReply(2, 'Invalid request: missing field `method`', id));
      return;
    }
    if (typeof method !== 'string' || !METHODS.includes(method)) {
      const expected = METHODS.map((m) => `\`${m}\``).join(', ');
      reply(
        conn,
        errorReply(
          2,
          `Invalid request: unknown variant \`${String(method)}\`, expected one of ${expected}`,
          id,
        ),
      );
      return;
    }
    const params = req.params;
    switch (method) {
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        if (!Array.isArray(params)) {
          reply(conn, errorReply(2, 'Invalid request: missing field `params`', id));
          return;
        }
        if (!params.every((p): p is string => typeof p === 'string' && isWellFormed(p))) {
          reply(conn, errorReply(2, 'Invalid request: invalid stream', id));
          return;
        }
        if (method === 'SUBSCRIBE') {
          const added = new Set(params.filter((p) => !conn.subs.has(p))).size;
          if (conn.subs.size + added > opts.maxStreams) {
            reply(conn, errorReply(2, 'Invalid request: too many parameters', id));
            return;
          }
          subscribe(conn, params);
        } else {
          unsubscribe(conn, params);
        }
        reply(conn, JSON.stringify({ result: null, id }));
        return;
      }
      case 'LIST_SUBSCRIPTIONS':
        reply(conn, JSON.stringify({ result: [...conn.subs], id }));
        return;
      case 'SET_PROPERTY':
      case 'GET_PROPERTY': {
        const args = Array.isArray(params) ? params : [];
        const max = method === 'SET_PROPERTY' ? 2 : 1;
        if (args.length > max) {
          reply(conn, errorReply(2, 'Invalid request: too many parameters', id));
          return;
        }
        if (typeof args[0] !== 'string') {
          reply(conn, errorReply(2, 'Invalid request: property name must be a string', id));
          return;
        }
        if (args[0] !== 'combined') {
          reply(conn, errorReply(0, 'Unknown property', id));
          return;
        }
        if (method === 'GET_PROPERTY') {
          reply(conn, JSON.stringify({ result: conn.combined, id }));
          return;
        }
        if (typeof args[1] !== 'boolean') {
          reply(conn, errorReply(1, 'Invalid value type: expected Boolean', id));
          return;
        }
        conn.combined = args[1];
        reply(conn, JSON.stringify({ result: null, id }));
        return;
      }
    }
  }

  // ---- connections -----------------------------------------------------------------------------

  function onConnection(ws: WebSocket, target: Target): void {
    const now = Date.now();
    const conn: Conn = {
      id: nextConnId++,
      ws,
      route: target.route,
      combined: target.combined,
      subs: new Set(),
      keys: new Map(),
      recent: [],
      lastPong: now,
      openedAt: now,
      dead: false,
    };
    conns.add(conn);
    ws.on('message', (data) => {
      try {
        onMessage(conn, data);
      } catch (err) {
        log(`ws #${conn.id}: ${(err as Error).message}`);
      }
    });
    ws.on('pong', () => {
      conn.lastPong = Date.now();
    });
    ws.on('error', (err) => log(`ws #${conn.id}: ${err.message}`));
    ws.on('close', () => cleanup(conn));
    subscribe(conn, target.names);
    ensureHousekeeping();
  }

  function cleanup(conn: Conn): void {
    if (!conns.delete(conn)) return;
    conn.dead = true;
    const names = [...conn.subs];
    unsubscribe(conn, names);
    conn.subs.clear();
    for (const k of conn.keys.keys()) {
      const set = byListenKey.get(k);
      set?.delete(conn);
      if (set?.size === 0) byListenKey.delete(k);
    }
    conn.keys.clear();
    if (conns.size === 0) stopHousekeeping();
  }

  // One timer for pings, pong timeouts and the connection lifetime; runs only while connected.
  let housekeeping: NodeJS.Timeout | undefined;

  function ensureHousekeeping(): void {
    if (housekeeping) return;
    const period = Math.max(1, Math.min(opts.pingIntervalMs, opts.maxLifetimeMs, opts.pongTimeoutMs));
    let lastPing = Date.now();
    housekeeping = setInterval(() => {
      const now = Date.now();
      const ping = now - lastPing >= opts.pingIntervalMs;
      if (ping) lastPing = now;
      for (const c of conns) {
        if (c.dead || c.ws.readyState !== WebSocket.OPEN) continue;
        if (now - c.openedAt >= opts.maxLifetimeMs) {
          c.dead = true;
          c.ws.close(1000, 'Connection lifetime reached');
        } else if (now - c.lastPong >= opts.pongTimeoutMs) {
          log(`ws #${c.id}: no pong for ${now - c.lastPong} ms; dropping`);
          kill(c);
        } else if (ping) {
          c.ws.ping();
        }
      }
    }, period);
    housekeeping.unref();
  }

  function stopHousekeeping(): void {
    if (housekeeping) clearInterval(housekeeping);
    housekeeping = undefined;
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    if (closing) {
      rejectUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    const target = parseTarget(req.url ?? '/', opts.maxStreams);
    if (target === undefined) {
      rejectUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (target === 'too-many') {
      rejectUpgrade(socket, 400, 'Bad Request');
      return;
    }
    try {
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, target));
    } catch (err) {
      log(`ws: upgrade failed: ${(err as Error).message}`);
      socket.destroy();
    }
  }

  server.on('upgrade', onUpgrade);
  const offTick = market.onTick(onTick);
  const offUser = engine.onUserEvent(onUserEvent);
  const offExpired = listenKeys.onExpired(onKeyExpired);
  const offClosed = listenKeys.onClosed(onKeyClosed);
  const offReset = listenKeys.onReset(onKeysReset);

  return {
    async close(): Promise<void> {
      if (closing) return;
      closing = true;
      server.off('upgrade', onUpgrade);
      offTick();
      offUser();
      offExpired();
      offClosed();
      offReset();
      for (const g of groups.values()) clearInterval(g.timer);
      groups.clear();
      stopHousekeeping();
      const all = [...conns];
      for (const c of all) kill(c);
      for (const c of all) cleanup(c);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },

    dropAll(): number {
      const all = [...conns].filter((c) => !c.dead);
      for (const c of all) kill(c);
      return all.length;
    },

    stats() {
      const byRoute: Record<string, number> = { public: 0, market: 0, private: 0, legacy: 0 };
      let connections = 0;
      for (const c of conns) {
        if (c.dead) continue;
        byRoute[c.route]++;
        connections++;
      }
      return { connections, byRoute };
    },
  };
}
