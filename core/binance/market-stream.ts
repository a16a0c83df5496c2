// Binance USDⓈ-M market streams over WebSocket, kept alive (reference §1.2, §12; anchors §3.4).
//
// - Routing (2026 layout): book streams (`@bookTicker`, `!bookTicker`, `@depth…`, `@rpiDepth…`)
//   go to `/public`, everything else to `/market`. A stream on the wrong route is acknowledged
//   and then silently never delivers, so the client routes by itself; one connection per route,
//   more when a route holds more than `maxStreamsPerConnection` (Binance: 1024) streams.
// - Combined form `<base>/<route>/stream?streams=a/b`: every frame names its stream. Streams added
//   later go through the live SUBSCRIBE/UNSUBSCRIBE protocol with ids and acknowledgements,
//   batched and paced under Binance's 10 incoming messages per second per connection (our pings
//   count too). The connection's subscriptions are reconciled against what is wanted, so a
//   subscribe/unsubscribe racing a reconnect cannot be lost.
// - Failures: a closed or errored socket, no pong within `pongTimeoutMs` of our ping, no data for
//   longer than the stream kinds' `stallMs` (a connection that stays open and stops delivering is
//   Binance's "silent stall"), or an unanswered SUBSCRIBE all end the socket; it is reopened with
//   exponential backoff and jitter and every wanted stream is subscribed again. Once the new
//   socket carries all of them, 'reconnect' and 'gap' are emitted: the data between `from` (the
//   last frame of the lost socket) and `to` is lost and the caller resyncs by REST.
// - Binance cuts a connection at 24 h. Before that (`maxLifetimeMs`) a second socket is opened
//   with the same streams; both deliver for `overlapMs` through a duplicate filter (same frame =
//   same bytes), then the old one is closed: no gap, 'reconnect' with reason 'lifetime'.
// - Times in events come from `now` (default Date.now), the internal timers from Date.now.

import { EventEmitter } from 'node:events';
import { type RawData, WebSocket } from 'ws';
import { createLogger, type Logger } from '../log.ts';
import {
  type BackoffOptions,
  backoffDelay,
  backoffOptions,
  clear,
  closeSocket,
  DEFAULT_MAX_LIFETIME_MS,
  errorOf,
  pingStep,
  RecentFrames,
  rawText,
} from './ws-util.ts';

export type StreamRoute = 'public' | 'market';

export type StreamKind =
  | 'bookTicker'
  | 'allBookTicker'
  | 'partialDepth'
  | 'diffDepth'
  | 'rpiDepth'
  | 'aggTrade'
  | 'markPrice'
  | 'markPrice1s'
  | 'allMarkPrice'
  | 'allMarkPrice1s'
  | 'kline'
  | 'continuousKline'
  | 'miniTicker'
  | 'allMiniTicker'
  | 'ticker'
  | 'allTicker'
  | 'forceOrder'
  | 'allForceOrder'
  | 'compositeIndex'
  | 'contractInfo'
  | 'assetIndex'
  | 'allAssetIndex'
  | 'tradingSession'
  | 'other';

/** The kind of a stream name (Binance's names; `other` for anything unrecognised). */
export function streamKind(name: string): StreamKind {
  switch (name) {
    case '!bookTicker':
      return 'allBookTicker';
    case '!markPrice@arr':
      return 'allMarkPrice';
    case '!markPrice@arr@1s':
      return 'allMarkPrice1s';
    case '!miniTicker@arr':
      return 'allMiniTicker';
    case '!ticker@arr':
      return 'allTicker';
    case '!forceOrder@arr':
      return 'allForceOrder';
    case '!contractInfo':
      return 'contractInfo';
    case '!assetIndex@arr':
      return 'allAssetIndex';
    case 'tradingSession':
      return 'tradingSession';
  }
  const [, type = '', speed] = name.split('@');
  if (type === 'bookTicker') return 'bookTicker';
  if (type === 'depth') return 'diffDepth';
  if (/^depth(5|10|20)$/.test(type)) return 'partialDepth';
  if (type === 'rpiDepth') return 'rpiDepth';
  if (type === 'aggTrade') return 'aggTrade';
  if (type === 'markPrice') return speed === '1s' ? 'markPrice1s' : 'markPrice';
  if (type.startsWith('kline_')) return 'kline';
  if (type.startsWith('continuousKline_')) return 'continuousKline';
  if (type === 'miniTicker') return 'miniTicker';
  if (type === 'ticker') return 'ticker';
  if (type === 'forceOrder') return 'forceOrder';
  if (type === 'compositeIndex') return 'compositeIndex';
  if (type === 'assetIndex') return 'assetIndex';
  return 'other';
}

const PUBLIC_KINDS = new Set<StreamKind>([
  'bookTicker',
  'allBookTicker',
  'partialDepth',
  'diffDepth',
  'rpiDepth',
]);

/** The 2026 route a stream belongs to: /public for book data, /market for the rest. */
export function streamRoute(name: string): StreamRoute {
  return PUBLIC_KINDS.has(streamKind(name)) ? 'public' : 'market';
}

/** Stream names carry lower-case symbols (`BTCUSDT@aggTrade` → `btcusdt@aggTrade`). */
export function normalizeStream(name: string): string {
  const s = name.trim();
  if (s.startsWith('!')) return s;
  const at = s.indexOf('@');
  return at < 0 ? s : s.slice(0, at).toLowerCase() + s.slice(at);
}

/**
 * Default silence (ms) after which a connection counts as stalled, for the kinds Binance pushes
 * on a fixed cadence whatever the market does. Others (book tickers, trades, depth, klines of a
 * quiet symbol) may legitimately be silent; their connections rely on ping/pong liveness unless
 * `stallMs` says otherwise.
 */
export const DEFAULT_STALL_MS: Readonly<Partial<Record<StreamKind, number>>> = {
  markPrice: 15_000,
  markPrice1s: 10_000,
  allMarkPrice: 15_000,
  allMarkPrice1s: 10_000,
  allTicker: 15_000,
  allMiniTicker: 15_000,
  allBookTicker: 20_000,
};

export interface MarketStreamOptions {
  /** 'wss://fstream.binance.com', or the simulator's ws url. */
  wsBase: string;
  /** Local address to connect from (egress IP). */
  localAddress?: string;
  /**
   * Silence after which a connection is considered stalled and replaced: a number for every
   * stream kind, or per kind (merged over DEFAULT_STALL_MS; 0 disables a kind). A connection's
   * threshold is the smallest among its streams' kinds (any frame proves it alive).
   */
  stallMs?: number | Partial<Record<StreamKind, number>>;
  /** Our ping period (default 30 s). */
  pingIntervalMs?: number;
  /** No frame at all for this long after a ping → dead (default 10 s). */
  pongTimeoutMs?: number;
  /** Rotate a connection before Binance's 24 h cut (default 23 h 50 m). */
  maxLifetimeMs?: number;
  /** How long old and new sockets both deliver during a rotation (default 2 s). */
  overlapMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Binance: 1024. */
  maxStreamsPerConnection?: number;
  /** Outgoing messages (SUBSCRIBE, UNSUBSCRIBE, pings) per second per connection (default 8; Binance cuts above 10). */
  maxMessagesPerSecond?: number;
  /** Names per SUBSCRIBE/UNSUBSCRIBE message (default 200). */
  batchSize?: number;
  /** Budget for the `streams=` part of the connect URL; the rest is subscribed after opening (default 4000 chars). */
  maxUrlStreamsLength?: number;
  /** An unanswered SUBSCRIBE/UNSUBSCRIBE after this long ends the socket; also subscribe()'s deadline (default 10 s). */
  requestTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Clock of the times in 'gap' events (default Date.now). */
  now?: () => number;
  log?: Logger;
}

export interface MarketReconnect {
  route: StreamRoute;
  connection: number;
  /** What ended the previous socket ('stall: …', 'closed 1006', 'pong timeout', 'lifetime', …). */
  reason: string;
  /** How long the connection delivered nothing (0 for a rotation). */
  downMs: number;
}

export interface MarketGap {
  route: StreamRoute;
  connection: number;
  /** Last frame received before the loss (`now` clock). */
  from: number;
  /** When every stream was subscribed again. */
  to: number;
  reason: string;
  /** The streams that were live before and may have lost data. */
  streams: string[];
}

export interface MarketStreamEvents {
  message: [stream: string, data: unknown];
  reconnect: [info: MarketReconnect];
  gap: [gap: MarketGap];
  error: [err: Error];
}

export interface ConnectionInfo {
  id: number;
  route: StreamRoute;
  state: 'open' | 'connecting' | 'down';
  /** Streams wanted on this connection. */
  streams: string[];
  /** Streams the server has acknowledged on the current socket. */
  live: string[];
  rotating: boolean;
}

/** A SUBSCRIBE/UNSUBSCRIBE the server refused (its `{"error":{"code","msg"}}`). */
export class StreamRequestError extends Error {
  constructor(
    readonly method: string,
    readonly streams: string[],
    readonly code: number | undefined,
    msg: string,
  ) {
    super(`${method} ${streams.join(',')} refused: ${code ?? '?'} ${msg}`);
    this.name = 'StreamRequestError';
  }
}

type Method = 'SUBSCRIBE' | 'UNSUBSCRIBE';

interface Sock {
  id: number;
  ws: WebSocket;
  conn: Conn;
  open: boolean;
  dead: boolean;
  killReason?: string;
  lastError?: string;
  openedAt: number;
  lastDataAt: number;
  lastSeenAt: number;
  lastPingAt: number;
  /** Time of the ping still unanswered (0 = none). */
  pingSentAt: number;
  gotData: boolean;
  /** Acknowledged by the server. */
  server: Set<string>;
  /** Last in-flight request per name: what the server will have once it is acknowledged. */
  expected: Map<string, { present: boolean; id: number }>;
  inflight: Map<number, { method: Method; names: string[]; sentAt: number }>;
  /** Send times within the last second (rate limit). */
  sent: number[];
  pumpTimer?: NodeJS.Timeout;
  checkTimer?: NodeJS.Timeout;
  lifetimeTimer?: NodeJS.Timeout;
}

interface Outage {
  reason: string;
  /** When the socket was lost (Date.now). */
  downAt: number;
  /** Last frame of the lost socket (`now` clock). */
  from: number;
  streams: Set<string>;
}

interface Conn {
  id: number;
  route: StreamRoute;
  desired: Set<string>;
  active?: Sock;
  standby?: Sock;
  closed: boolean;
  attempt: number;
  rotateAttempt: number;
  reconnectTimer?: NodeJS.Timeout;
  rotateTimer?: NodeJS.Timeout;
  overlapTimer?: NodeJS.Timeout;
  forgetTimer?: NodeJS.Timeout;
  recent?: RecentFrames;
  outage?: Outage;
  stallMs?: number | null;
}

interface Waiter {
  kind: 'subscribe' | 'unsubscribe';
  items: Array<{ name: string; conn?: Conn }>;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class MarketStream extends EventEmitter<MarketStreamEvents> {
  private readonly base: string;
  private readonly o: {
    pingIntervalMs: number;
    pongTimeoutMs: number;
    maxLifetimeMs: number;
    overlapMs: number;
    maxStreams: number;
    maxMps: number;
    batch: number;
    urlBudget: number;
    requestTimeoutMs: number;
    handshakeTimeoutMs: number;
  };
  private readonly stallTable: Partial<Record<StreamKind, number>>;
  private readonly stallAll: number | undefined;
  private readonly backoff: BackoffOptions;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly conns = new Set<Conn>();
  private readonly byName = new Map<string, Conn>();
  private readonly waiters = new Set<Waiter>();
  private nextConnId = 1;
  private nextSockId = 1;
  private nextRequestId = 1;
  private closed = false;

  constructor(private readonly opts: MarketStreamOptions) {
    super();
    this.base = opts.wsBase.replace(/\/+$/, '');
    this.o = {
      pingIntervalMs: opts.pingIntervalMs ?? 30_000,
      pongTimeoutMs: opts.pongTimeoutMs ?? 10_000,
      maxLifetimeMs: opts.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS,
      overlapMs: opts.overlapMs ?? 2_000,
      maxStreams: Math.max(1, Math.min(1024, opts.maxStreamsPerConnection ?? 1024)),
      maxMps: Math.max(1, opts.maxMessagesPerSecond ?? 8),
      batch: Math.max(1, opts.batchSize ?? 200),
      urlBudget: opts.maxUrlStreamsLength ?? 4000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 10_000,
    };
    if (typeof opts.stallMs === 'number') {
      this.stallAll = opts.stallMs > 0 ? opts.stallMs : undefined;
      this.stallTable = {};
    } else {
      this.stallTable = { ...DEFAULT_STALL_MS, ...opts.stallMs };
    }
    this.backoff = backoffOptions(opts.backoff);
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? createLogger('binance.market-stream');
  }

  // ---- public API ------------------------------------------------------------------------------

  /**
   * Adds streams (routed and spread over connections). Resolves when the server carries every
   * one of them (acknowledged, or named in the URL of an open connection); rejects when one is
   * refused (it is then dropped) or on `requestTimeoutMs` (the streams stay wanted and keep being
   * retried; unsubscribe to give up).
   */
  subscribe(streams: string | string[]): Promise<void> {
    const names = this.names(streams);
    if (this.closed) return Promise.reject(new Error('MarketStream is closed'));
    const touched = new Set<Conn>();
    const created = new Set<Conn>();
    for (const name of names) {
      if (this.byName.has(name)) continue;
      const route = streamRoute(name);
      let conn: Conn | undefined;
      for (const c of this.conns) {
        if (c.route === route && !c.closed && c.desired.size < this.o.maxStreams) {
          conn = c;
          break;
        }
      }
      if (!conn) {
        conn = {
          id: this.nextConnId++,
          route,
          desired: new Set(),
          closed: false,
          attempt: 0,
          rotateAttempt: 0,
        };
        this.conns.add(conn);
        created.add(conn);
      }
      conn.desired.add(name);
      conn.stallMs = undefined;
      this.byName.set(name, conn);
      touched.add(conn);
    }
    for (const conn of touched) {
      if (created.has(conn)) this.openSock(conn, 'active');
      else this.pumpConn(conn);
    }
    return this.wait(
      'subscribe',
      names.map((name) => ({ name })),
    );
  }

  /** Removes streams. Resolves when the server acknowledged (or the connection was closed because it became empty). */
  unsubscribe(streams: string | string[]): Promise<void> {
    const names = this.names(streams);
    const items: Array<{ name: string; conn?: Conn }> = [];
    const touched = new Set<Conn>();
    for (const name of names) {
      const conn = this.byName.get(name);
      if (!conn) continue;
      this.byName.delete(name);
      conn.desired.delete(name);
      conn.stallMs = undefined;
      items.push({ name, conn });
      touched.add(conn);
    }
    for (const conn of touched) {
      if (conn.desired.size === 0) void this.closeConn(conn);
      else this.pumpConn(conn);
    }
    return this.wait('unsubscribe', items);
  }

  /** Every stream wanted. */
  streams(): string[] {
    return [...this.byName.keys()];
  }

  /** The connections and their state (for monitoring and tests). */
  connections(): ConnectionInfo[] {
    return [...this.conns].map((c) => ({
      id: c.id,
      route: c.route,
      state: c.active?.open ? 'open' : c.active ? 'connecting' : 'down',
      streams: [...c.desired],
      live: c.active?.open ? [...c.active.server] : [],
      rotating: c.standby !== undefined,
    }));
  }

  /** Stops everything: timers, sockets; pending subscribe/unsubscribe promises reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('MarketStream is closed');
    for (const w of [...this.waiters]) this.settle(w, err);
    await Promise.all([...this.conns].map((c) => this.closeConn(c)));
    this.byName.clear();
  }

  // ---- connections -----------------------------------------------------------------------------

  private names(streams: string | string[]): string[] {
    const list = (Array.isArray(streams) ? streams : [streams]).map(normalizeStream).filter((s) => s !== '');
    return [...new Set(list)];
  }

  private openSock(conn: Conn, role: 'active' | 'standby'): void {
    if (conn.closed || this.closed) return;
    const names = [...conn.desired];
    if (names.length === 0) {
      void this.closeConn(conn);
      return;
    }
    const inUrl: string[] = [];
    let len = 0;
    for (const n of names) {
      if (inUrl.length > 0 && len + n.length + 1 > this.o.urlBudget) break;
      inUrl.push(n);
      len += n.length + 1;
    }
    const url = `${this.base}/${conn.route}/stream?streams=${inUrl.join('/')}`;
    const ws = new WebSocket(url, {
      localAddress: this.opts.localAddress,
      handshakeTimeout: this.o.handshakeTimeoutMs,
      perMessageDeflate: false,
    });
    const sock: Sock = {
      id: this.nextSockId++,
      ws,
      conn,
      open: false,
      dead: false,
      openedAt: 0,
      lastDataAt: 0,
      lastSeenAt: 0,
      lastPingAt: 0,
      pingSentAt: 0,
      gotData: false,
      server: new Set(),
      expected: new Map(),
      inflight: new Map(),
      sent: [],
    };
    if (role === 'active') conn.active = sock;
    else conn.standby = sock;
    ws.on('open', () => this.onOpen(sock, inUrl));
    ws.on('message', (data) => this.onFrame(sock, data));
    ws.on('pong', () => {
      sock.lastSeenAt = Date.now();
      sock.pingSentAt = 0;
    });
    ws.on('error', (err) => {
      sock.lastError = err.message;
    });
    ws.on('close', (code, reason) => {
      const why = reason.toString();
      this.onDown(
        sock,
        sock.killReason ??
          `closed ${code}${why ? ` ${why}` : ''}${sock.lastError ? ` (${sock.lastError})` : ''}`,
      );
    });
  }

  private onOpen(sock: Sock, inUrl: string[]): void {
    if (sock.dead) return;
    const conn = sock.conn;
    const t = Date.now();
    sock.open = true;
    sock.openedAt = t;
    sock.lastSeenAt = t;
    sock.lastPingAt = t;
    for (const n of inUrl) sock.server.add(n);
    const stall = this.stallFor(conn);
    const every = Math.max(20, Math.min(250, stall !== undefined ? stall / 4 : 250));
    sock.checkTimer = setInterval(() => this.check(sock), every);
    if (sock === conn.active) this.armLifetime(sock);
    this.log.debug({ route: conn.route, connection: conn.id, socket: sock.id }, 'market stream open');
    this.pump(sock);
    this.checkSynced(conn);
    this.checkWaiters();
  }

  private onFrame(sock: Sock, data: RawData): void {
    if (sock.dead) return;
    const t = Date.now();
    sock.lastSeenAt = t;
    const text = rawText(data);
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.emitError(new Error(`market stream: unparsable frame: ${text.slice(0, 200)}`));
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    const m = msg as Record<string, unknown>;
    const conn = sock.conn;
    if (typeof m.stream === 'string' && 'data' in m) {
      sock.lastDataAt = t;
      if (!sock.gotData) {
        sock.gotData = true;
        if (sock === conn.active) conn.attempt = 0;
      }
      if (!conn.desired.has(m.stream)) return;
      if (conn.recent && !conn.recent.add(text)) return;
      this.emit('message', m.stream, m.data);
      return;
    }
    if ('id' in m && ('result' in m || 'error' in m)) {
      this.onReply(sock, m);
      return;
    }
    if ('error' in m) {
      const e = (m.error ?? {}) as { code?: number; msg?: string };
      this.emitError(new Error(`market stream error: ${e.code ?? '?'} ${e.msg ?? ''}`));
    }
  }

  private onReply(sock: Sock, m: Record<string, unknown>): void {
    const id = typeof m.id === 'number' ? m.id : -1;
    const req = sock.inflight.get(id);
    if (!req) return;
    sock.inflight.delete(id);
    for (const n of req.names) if (sock.expected.get(n)?.id === id) sock.expected.delete(n);
    const conn = sock.conn;
    if (m.error !== undefined && m.error !== null) {
      const e = m.error as { code?: number; msg?: string };
      const err = new StreamRequestError(req.method, req.names, e.code, e.msg ?? '');
      if (req.method === 'SUBSCRIBE') {
        // Refused names would be refused again on every reconnect: drop them.
        for (const n of req.names) {
          if (this.byName.get(n) === conn) {
            this.byName.delete(n);
            conn.desired.delete(n);
          }
        }
        conn.stallMs = undefined;
        for (const w of [...this.waiters]) {
          if (w.kind === 'subscribe' && w.items.some((i) => req.names.includes(i.name))) this.settle(w, err);
        }
        if (conn.desired.size === 0) void this.closeConn(conn);
      }
      this.emitError(err);
    } else if (req.method === 'SUBSCRIBE') {
      for (const n of req.names) sock.server.add(n);
    } else {
      for (const n of req.names) sock.server.delete(n);
    }
    this.pump(sock);
    this.checkSynced(conn);
    this.checkWaiters();
  }

  /** Periodic: stall, unanswered requests, ping and pong. */
  private check(sock: Sock): void {
    if (sock.dead || !sock.open) return;
    const t = Date.now();
    const stall = this.stallFor(sock.conn);
    const quietFor = t - Math.max(sock.lastDataAt, sock.openedAt);
    if (stall !== undefined && quietFor > stall) {
      this.kill(sock, `stall: no data for ${quietFor} ms`);
      return;
    }
    for (const r of sock.inflight.values()) {
      if (t - r.sentAt > this.o.requestTimeoutMs) {
        this.kill(sock, `${r.method} unanswered for ${t - r.sentAt} ms`);
        return;
      }
    }
    const step = pingStep(sock, t, this.o);
    if (typeof step === 'object') this.kill(sock, step.kill);
    else if (step) {
      // A ping counts toward Binance's incoming-message limit.
      while (sock.sent.length > 0 && t - sock.sent[0] >= 1000) sock.sent.shift();
      sock.sent.push(t);
    }
  }

  private kill(sock: Sock, reason: string): void {
    if (sock.dead) return;
    sock.killReason ??= reason;
    sock.ws.terminate();
  }

  private onDown(sock: Sock, reason: string): void {
    if (sock.dead) return;
    sock.dead = true;
    this.clearSock(sock);
    const wasOpen = sock.open;
    sock.open = false;
    const conn = sock.conn;
    if (conn.closed || this.closed) return;
    if (sock === conn.standby) {
      conn.standby = undefined;
      conn.overlapTimer = clear(conn.overlapTimer);
      conn.recent = undefined;
      const delay = backoffDelay(conn.rotateAttempt++, this.backoff);
      this.log.warn(
        { route: conn.route, connection: conn.id, reason, retryMs: delay },
        'rotation socket failed',
      );
      const active = conn.active;
      if (active) conn.rotateTimer = setTimeout(() => this.rotate(active), delay);
      return;
    }
    if (sock !== conn.active) return;
    conn.active = undefined;
    if (wasOpen) {
      const live = [...sock.server].filter((n) => conn.desired.has(n));
      const lastFrame = sock.lastDataAt || sock.openedAt;
      if (!conn.outage) {
        conn.outage = {
          reason,
          downAt: Date.now(),
          from: this.now() - (Date.now() - lastFrame),
          streams: new Set(live),
        };
      } else {
        for (const n of live) conn.outage.streams.add(n);
      }
    }
    const standby = conn.standby;
    if (standby && !standby.dead) {
      // Mid-rotation: the new socket takes over at once.
      conn.standby = undefined;
      conn.active = standby;
      conn.overlapTimer = clear(conn.overlapTimer);
      conn.rotateAttempt = 0;
      this.armLifetime(standby);
      conn.forgetTimer = clear(conn.forgetTimer);
      conn.forgetTimer = setTimeout(() => {
        conn.forgetTimer = undefined;
        conn.recent = undefined;
      }, this.o.overlapMs);
      this.log.warn({ route: conn.route, connection: conn.id, reason }, 'market stream lost during rotation');
      this.checkSynced(conn);
      this.checkWaiters();
      return;
    }
    conn.recent = undefined;
    const delay = backoffDelay(conn.attempt++, this.backoff);
    this.log.warn({ route: conn.route, connection: conn.id, reason, retryMs: delay }, 'market stream down');
    conn.reconnectTimer = clear(conn.reconnectTimer);
    conn.reconnectTimer = setTimeout(() => {
      conn.reconnectTimer = undefined;
      this.openSock(conn, 'active');
    }, delay);
    this.checkWaiters();
  }

  private clearSock(sock: Sock): void {
    sock.pumpTimer = clear(sock.pumpTimer);
    if (sock.checkTimer) clearInterval(sock.checkTimer);
    sock.checkTimer = undefined;
    sock.lifetimeTimer = clear(sock.lifetimeTimer);
  }

  /** Closes a socket on purpose (no reconnect). Resolves when it is closed. */
  private retire(sock: Sock): Promise<void> {
    sock.dead = true;
    sock.open = false;
    this.clearSock(sock);
    return closeSocket(sock.ws);
  }

  private async closeConn(conn: Conn): Promise<void> {
    if (conn.closed) return;
    conn.closed = true;
    this.conns.delete(conn);
    for (const n of conn.desired) if (this.byName.get(n) === conn) this.byName.delete(n);
    conn.reconnectTimer = clear(conn.reconnectTimer);
    conn.rotateTimer = clear(conn.rotateTimer);
    conn.overlapTimer = clear(conn.overlapTimer);
    conn.forgetTimer = clear(conn.forgetTimer);
    conn.recent = undefined;
    const socks = [conn.active, conn.standby].filter((s): s is Sock => s !== undefined);
    conn.active = undefined;
    conn.standby = undefined;
    this.checkWaiters();
    await Promise.all(socks.map((s) => this.retire(s)));
  }

  // ---- rotation before the 24 h cut ------------------------------------------------------------

  /** Schedules the rotation of the active socket (its age counts from its own opening). */
  private armLifetime(sock: Sock): void {
    sock.lifetimeTimer = clear(sock.lifetimeTimer);
    if (!sock.open) return;
    const life = this.o.maxLifetimeMs * (1 - 0.01 * Math.random());
    sock.lifetimeTimer = setTimeout(() => this.rotate(sock), Math.max(0, sock.openedAt + life - Date.now()));
  }

  private rotate(sock: Sock): void {
    const conn = sock.conn;
    conn.rotateTimer = clear(conn.rotateTimer);
    if (conn.closed || sock.dead || !sock.open || sock !== conn.active || conn.standby) return;
    this.log.info({ route: conn.route, connection: conn.id }, 'market stream rotation');
    conn.forgetTimer = clear(conn.forgetTimer);
    conn.recent = new RecentFrames();
    this.openSock(conn, 'standby');
  }

  private finishRotation(conn: Conn): void {
    conn.overlapTimer = undefined;
    const next = conn.standby;
    if (conn.closed || !next?.open) return;
    const old = conn.active;
    conn.active = next;
    conn.standby = undefined;
    conn.rotateAttempt = 0;
    this.armLifetime(next);
    if (old) void this.retire(old);
    // Frames of the old socket may still be due on the new one for a moment.
    conn.forgetTimer = setTimeout(() => {
      conn.forgetTimer = undefined;
      conn.recent = undefined;
    }, this.o.overlapMs);
    this.emit('reconnect', { route: conn.route, connection: conn.id, reason: 'lifetime', downMs: 0 });
  }

  // ---- subscriptions ---------------------------------------------------------------------------

  private pumpConn(conn: Conn): void {
    if (conn.active) this.pump(conn.active);
    if (conn.standby) this.pump(conn.standby);
    this.checkWaiters();
  }

  private effective(sock: Sock, name: string): boolean {
    const e = sock.expected.get(name);
    return e ? e.present : sock.server.has(name);
  }

  /** Sends what it takes to make the server's set equal the wanted set, within the rate limit. */
  private pump(sock: Sock): void {
    if (!sock.open || sock.dead || sock.pumpTimer) return;
    const conn = sock.conn;
    for (;;) {
      const unsub: string[] = [];
      for (const n of sock.server) if (!conn.desired.has(n) && this.effective(sock, n)) unsub.push(n);
      for (const [n, e] of sock.expected)
        if (e.present && !sock.server.has(n) && !conn.desired.has(n)) unsub.push(n);
      const sub: string[] = [];
      if (unsub.length === 0) for (const n of conn.desired) if (!this.effective(sock, n)) sub.push(n);
      if (unsub.length === 0 && sub.length === 0) return;
      const t = Date.now();
      while (sock.sent.length > 0 && t - sock.sent[0] >= 1000) sock.sent.shift();
      if (sock.sent.length >= this.o.maxMps) {
        const wait = sock.sent[0] + 1000 - t + 1;
        sock.pumpTimer = setTimeout(() => {
          sock.pumpTimer = undefined;
          this.pump(sock);
        }, wait);
        return;
      }
      const method: Method = unsub.length > 0 ? 'UNSUBSCRIBE' : 'SUBSCRIBE';
      const names = (unsub.length > 0 ? unsub : sub).slice(0, this.o.batch);
      const id = this.nextRequestId++;
      sock.inflight.set(id, { method, names, sentAt: t });
      for (const n of names) sock.expected.set(n, { present: method === 'SUBSCRIBE', id });
      sock.sent.push(t);
      try {
        sock.ws.send(JSON.stringify({ method, params: names, id }));
      } catch (err) {
        this.kill(sock, `send failed: ${errorOf(err).message}`);
        return;
      }
    }
  }

  private synced(sock: Sock): boolean {
    if (!sock.open) return false;
    for (const n of sock.conn.desired) if (!sock.server.has(n)) return false;
    return true;
  }

  private checkSynced(conn: Conn): void {
    const a = conn.active;
    if (a && conn.outage && this.synced(a)) {
      const o = conn.outage;
      conn.outage = undefined;
      const to = this.now();
      this.log.info(
        { route: conn.route, connection: conn.id, reason: o.reason },
        'market stream resubscribed',
      );
      this.emit('reconnect', {
        route: conn.route,
        connection: conn.id,
        reason: o.reason,
        downMs: Date.now() - o.downAt,
      });
      const streams = [...o.streams].filter((n) => conn.desired.has(n));
      if (streams.length > 0) {
        this.emit('gap', {
          route: conn.route,
          connection: conn.id,
          from: o.from,
          to,
          reason: o.reason,
          streams,
        });
      }
    }
    const s = conn.standby;
    if (s && !conn.overlapTimer && this.synced(s)) {
      conn.overlapTimer = setTimeout(() => this.finishRotation(conn), this.o.overlapMs);
    }
  }

  private stallFor(conn: Conn): number | undefined {
    if (conn.stallMs !== undefined) return conn.stallMs ?? undefined;
    let min: number | undefined;
    for (const n of conn.desired) {
      const v = this.stallAll ?? this.stallTable[streamKind(n)];
      if (v !== undefined && v > 0 && (min === undefined || v < min)) min = v;
    }
    conn.stallMs = min ?? null;
    return min;
  }

  // ---- promises of subscribe/unsubscribe -------------------------------------------------------

  private wait(kind: Waiter['kind'], items: Waiter['items']): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        kind,
        items,
        resolve,
        reject,
        timer: setTimeout(
          () => this.settle(w, new Error(`${kind} not confirmed within ${this.o.requestTimeoutMs} ms`)),
          this.o.requestTimeoutMs,
        ),
      };
      this.waiters.add(w);
      this.checkWaiters();
    });
  }

  private settle(w: Waiter, err?: Error): void {
    if (!this.waiters.delete(w)) return;
    clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve();
  }

  private checkWaiters(): void {
    for (const w of [...this.waiters]) {
      const done = w.items.every(({ name, conn }) => {
        if (w.kind === 'subscribe') {
          const c = this.byName.get(name);
          return !c || (c.active?.open === true && c.active.server.has(name));
        }
        if (!conn || conn.closed || this.byName.has(name)) return true;
        const a = conn.active;
        return !a?.open || !a.server.has(name);
      });
      if (done) this.settle(w);
    }
  }

  private emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.log.warn({ err: err.message }, 'market stream error');
  }
}
