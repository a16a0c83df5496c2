// Binance USDⓈ-M user-data stream: the listenKey lifecycle and the /private socket, kept alive
// (reference §11; anchors §3.3-3.4: listenKey expiry and silent death are how fills get missed).
//
// - The key: POST /fapi/v1/listenKey (USER_STREAM) before every (re)connect. While a key is
//   active Binance answers the same key and extends it, so a reconnect after a short blip keeps
//   the key, and one after a long outage (key expired, or deleted by another client of the same
//   API key) gets a fresh one. PUT every `keepaliveMs` (30 min); a PUT answered -1125 (key
//   unknown), a PUT naming another key, or a `listenKeyExpired` event for our key replaces the
//   key and the socket.
// - The socket: `<wsBase>/private/ws?listenKey=K&events=E1/E2/…` with an explicit events list
//   (Binance production may deliver nothing without one) that always includes listenKeyExpired.
// - Liveness: a quiet account sends nothing, so silence proves nothing; we ping every
//   `pingIntervalMs` and a socket with no frame at all within `pongTimeoutMs` of a ping is
//   terminated. Closed, errored or dead sockets are replaced with exponential backoff and jitter.
// - 'gap' {from, to, reason, keyReplaced} whenever events may have been lost: the socket was down
//   or the key was replaced. Times are exchange time (RestCaller.now()); the caller resyncs
//   orders, positions and balances by REST for that window.
// - Binance cuts a connection at 24 h. Before that (`maxLifetimeMs`) a second socket on the same
//   key is opened; both deliver for `overlapMs` through a duplicate filter, then the old one is
//   closed: no gap.
//
// One key per API key: every UserStream (any process) of the same API key shares it, and a
// DELETE by one ends the others' streams (they recover with a new key and report a gap). So
// close() does NOT delete the key unless `deleteOnClose: true` (only when this is the API key's
// sole user); an undeleted key simply expires 60 min after its last keepalive.

import { EventEmitter } from 'node:events';
import { type RawData, WebSocket } from 'ws';
import { createLogger, type Logger } from '../log.ts';
import type { RestCaller } from './types.ts';
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

/** Every user-data event type a futures account can receive (reference §11.2). */
export const USER_EVENTS = [
  'ORDER_TRADE_UPDATE',
  'TRADE_LITE',
  'ACCOUNT_UPDATE',
  'MARGIN_CALL',
  'ACCOUNT_CONFIG_UPDATE',
  'ALGO_UPDATE',
  'STRATEGY_UPDATE',
  'GRID_UPDATE',
  'listenKeyExpired',
] as const;

export interface UserStreamOptions {
  rest: RestCaller;
  /** 'wss://fstream.binance.com', or the simulator's ws url. */
  wsBase: string;
  /** Event types to receive (default USER_EVENTS); listenKeyExpired is always added. */
  events?: readonly string[];
  /** PUT keepalive period (default 30 min). */
  keepaliveMs?: number;
  /** Retry of a keepalive that failed other than with -1125 (default 60 s). */
  keepaliveRetryMs?: number;
  /** Our ping period (default 30 s). */
  pingIntervalMs?: number;
  /** No frame at all for this long after a ping → dead (default 10 s). */
  pongTimeoutMs?: number;
  /** Rotate the socket before Binance's 24 h cut (default 23 h 50 m). */
  maxLifetimeMs?: number;
  /** How long old and new sockets both deliver during a rotation (default 2 s). */
  overlapMs?: number;
  backoff?: Partial<BackoffOptions>;
  localAddress?: string;
  handshakeTimeoutMs?: number;
  /** DELETE the listenKey on close() (default false: other processes may share the key; see the note above). */
  deleteOnClose?: boolean;
  log?: Logger;
}

/** A parsed user-data event (`e` is its type; the rest as Binance sends it). */
export interface UserEvent {
  e: string;
  E?: number | string;
  [key: string]: unknown;
}

export interface UserGap {
  /** Last sign of life before the loss (exchange time). */
  from: number;
  /** When the stream was connected again (exchange time). */
  to: number;
  /** What happened ('closed 1006', 'pong timeout', 'listenKeyExpired', 'keepalive: -1125 …'; several joined by '; '). */
  reason: string;
  /** The listenKey changed (events of the old key after `from` are lost for good). */
  keyReplaced: boolean;
}

export interface UserConnected {
  listenKey: string;
  reason: 'start' | 'reconnect' | 'rotation';
}

export interface UserStreamEvents {
  event: [event: UserEvent];
  gap: [gap: UserGap];
  connected: [info: UserConnected];
  error: [err: Error];
}

interface USock {
  id: number;
  ws: WebSocket;
  key: string;
  open: boolean;
  dead: boolean;
  killReason?: string;
  lastError?: string;
  openedAt: number;
  lastSeenAt: number;
  lastPingAt: number;
  pingSentAt: number;
  checkTimer?: NodeJS.Timeout;
  lifetimeTimer?: NodeJS.Timeout;
}

interface Outage {
  reason: string;
  from: number;
  keyReplaced: boolean;
}

function codeOf(err: unknown): number | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

export class UserStream extends EventEmitter<UserStreamEvents> {
  private readonly rest: RestCaller;
  private readonly base: string;
  private readonly events: string[];
  private readonly o: {
    keepaliveMs: number;
    keepaliveRetryMs: number;
    pingIntervalMs: number;
    pongTimeoutMs: number;
    maxLifetimeMs: number;
    overlapMs: number;
    handshakeTimeoutMs: number;
    deleteOnClose: boolean;
  };
  private readonly backoff: BackoffOptions;
  private readonly log: Logger;
  private key: string | undefined;
  private active: USock | undefined;
  private standby: USock | undefined;
  private outage: Outage | undefined;
  private recent: RecentFrames | undefined;
  private everConnected = false;
  private attempt = 0;
  private rotateAttempt = 0;
  private cycling: Promise<void> | undefined;
  private cycleAgain = false;
  private started = false;
  private closed = false;
  private nextSockId = 1;
  private startWaiter: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private rotateTimer: NodeJS.Timeout | undefined;
  private overlapTimer: NodeJS.Timeout | undefined;
  private forgetTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: UserStreamOptions) {
    super();
    this.rest = opts.rest;
    this.base = opts.wsBase.replace(/\/+$/, '');
    const events = [...(opts.events ?? USER_EVENTS)];
    if (!events.includes('listenKeyExpired')) events.push('listenKeyExpired');
    this.events = [...new Set(events)];
    this.o = {
      keepaliveMs: opts.keepaliveMs ?? 30 * 60_000,
      keepaliveRetryMs: opts.keepaliveRetryMs ?? 60_000,
      pingIntervalMs: opts.pingIntervalMs ?? 30_000,
      pongTimeoutMs: opts.pongTimeoutMs ?? 10_000,
      maxLifetimeMs: opts.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS,
      overlapMs: opts.overlapMs ?? 2_000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 10_000,
      deleteOnClose: opts.deleteOnClose ?? false,
    };
    this.backoff = backoffOptions(opts.backoff);
    this.log = opts.log ?? createLogger('binance.user-stream');
  }

  /** The resolved settings (defaults applied). */
  get settings(): Readonly<{
    keepaliveMs: number;
    keepaliveRetryMs: number;
    pingIntervalMs: number;
    pongTimeoutMs: number;
    maxLifetimeMs: number;
    overlapMs: number;
    handshakeTimeoutMs: number;
    deleteOnClose: boolean;
  }> {
    return { ...this.o };
  }

  /** The listenKey in use (undefined while it is being replaced). */
  get listenKey(): string | undefined {
    return this.key;
  }

  /** Whether a socket is open now. */
  get connected(): boolean {
    return this.active?.open === true;
  }

  /**
   * Creates the listenKey and connects. Rejects when the listenKey cannot be created (bad API
   * key, network); resolves on the first open socket (socket failures are retried with backoff).
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('UserStream already started');
    this.started = true;
    try {
      this.key = await this.createKey();
    } catch (err) {
      this.started = false;
      throw err;
    }
    if (this.closed) throw new Error('UserStream closed');
    this.scheduleKeepalive(this.o.keepaliveMs);
    const ready = new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject };
    });
    this.openSock('active');
    return ready;
  }

  /**
   * One keepalive now (the timer calls this every `keepaliveMs`). On -1125 or a PUT naming
   * another key, the key and the socket are replaced (in the background; a 'gap' follows).
   * Rejects on other failures.
   */
  async keepalive(): Promise<void> {
    const key = this.key;
    if (key === undefined || this.closed) return;
    let r: { listenKey?: unknown } | undefined;
    try {
      r = await this.rest.request<{ listenKey?: unknown }>(
        'PUT',
        '/fapi/v1/listenKey',
        {},
        { security: 'USER_STREAM' },
      );
    } catch (err) {
      if (codeOf(err) === -1125) {
        if (this.key === key && !this.closed) this.replaceKey('keepalive: -1125 listenKey does not exist');
        return;
      }
      throw err;
    }
    if (r && typeof r.listenKey === 'string' && r.listenKey !== key && this.key === key && !this.closed) {
      this.replaceKey('keepalive answered another listenKey', r.listenKey);
    }
  }

  /** Closes the socket(s), stops every timer, and DELETEs the listenKey when deleteOnClose is true. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.keepaliveTimer = clear(this.keepaliveTimer);
    this.reconnectTimer = clear(this.reconnectTimer);
    this.rotateTimer = clear(this.rotateTimer);
    this.overlapTimer = clear(this.overlapTimer);
    this.forgetTimer = clear(this.forgetTimer);
    const w = this.startWaiter;
    this.startWaiter = undefined;
    w?.reject(new Error('UserStream closed'));
    const socks = [this.active, this.standby].filter((s): s is USock => s !== undefined);
    this.active = undefined;
    this.standby = undefined;
    // A key POSTed by a reconnect in flight must be deleted too, not left to expire.
    await this.cycling;
    await Promise.all(socks.map((s) => this.retire(s)));
    if (this.o.deleteOnClose && this.key !== undefined) {
      try {
        await this.rest.request('DELETE', '/fapi/v1/listenKey', {}, { security: 'USER_STREAM' });
      } catch (err) {
        this.log.warn({ err: errorOf(err).message }, 'listenKey DELETE failed');
      }
    }
    this.key = undefined;
  }

  // ---- the key -----------------------------------------------------------------------------------

  private async createKey(): Promise<string> {
    const r = await this.rest.request<{ listenKey?: unknown }>(
      'POST',
      '/fapi/v1/listenKey',
      {},
      { security: 'USER_STREAM' },
    );
    if (!r || typeof r.listenKey !== 'string' || r.listenKey === '') {
      throw new Error(`POST /fapi/v1/listenKey: no listenKey in ${JSON.stringify(r)}`);
    }
    return r.listenKey;
  }

  private scheduleKeepalive(delay: number): void {
    this.keepaliveTimer = clear(this.keepaliveTimer);
    if (this.closed) return;
    this.keepaliveTimer = setTimeout(async () => {
      this.keepaliveTimer = undefined;
      let next = this.o.keepaliveMs;
      try {
        await this.keepalive();
      } catch (err) {
        next = Math.min(this.o.keepaliveRetryMs, this.o.keepaliveMs);
        this.emitError(new Error(`listenKey keepalive failed: ${errorOf(err).message}`));
      }
      if (!this.closed && this.keepaliveTimer === undefined) this.scheduleKeepalive(next);
    }, delay);
  }

  /** The key is gone (or another one is in use): drop the sockets and connect with a valid key. */
  private replaceKey(reason: string, newKey?: string, from = this.rest.now()): void {
    this.log.warn({ reason }, 'listenKey replaced');
    this.markDown(reason, from, true);
    this.reconnectTimer = clear(this.reconnectTimer);
    this.endRotation();
    const old = this.active;
    this.active = undefined;
    if (old) void this.retire(old);
    this.key = newKey;
    if (newKey !== undefined) this.openSock('active');
    else this.cycle();
  }

  /** POST the listenKey (same key while active, a new one otherwise), then connect. */
  private cycle(): void {
    if (this.closed) return;
    if (this.cycling) {
      this.cycleAgain = true;
      return;
    }
    this.cycling = (async () => {
      try {
        const key = await this.createKey();
        if (this.closed) {
          this.key = key; // for close()'s DELETE
          return;
        }
        if (this.key !== undefined && key !== this.key) {
          this.log.warn('listenKey changed while reconnecting');
          if (this.outage) this.outage.keyReplaced = true;
        }
        this.key = key;
        if (this.active && !this.active.dead) {
          if (this.active.key === key) return;
          const old = this.active;
          this.active = undefined;
          void this.retire(old);
        }
        this.openSock('active');
      } catch (err) {
        if (this.closed) return;
        const delay = backoffDelay(this.attempt++, this.backoff);
        this.emitError(new Error(`listenKey POST failed (retry in ${delay} ms): ${errorOf(err).message}`));
        this.scheduleCycle(delay);
      } finally {
        this.cycling = undefined;
        if (this.cycleAgain) {
          this.cycleAgain = false;
          this.cycle();
        }
      }
    })();
  }

  private scheduleCycle(delay: number): void {
    this.reconnectTimer = clear(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.cycle();
    }, delay);
  }

  private markDown(reason: string, from: number, keyReplaced: boolean): void {
    if (!this.everConnected) return;
    const o = this.outage;
    if (!o) {
      this.outage = { reason, from, keyReplaced };
      return;
    }
    if (!o.reason.split('; ').includes(reason)) o.reason += `; ${reason}`;
    o.keyReplaced ||= keyReplaced;
    o.from = Math.min(o.from, from);
  }

  // ---- sockets -----------------------------------------------------------------------------------

  private openSock(role: 'active' | 'standby'): void {
    const key = this.key;
    if (this.closed || key === undefined) return;
    const url = `${this.base}/private/ws?listenKey=${encodeURIComponent(key)}&events=${this.events.join('/')}`;
    const ws = new WebSocket(url, {
      localAddress: this.opts.localAddress,
      handshakeTimeout: this.o.handshakeTimeoutMs,
      perMessageDeflate: false,
    });
    const sock: USock = {
      id: this.nextSockId++,
      ws,
      key,
      open: false,
      dead: false,
      openedAt: 0,
      lastSeenAt: 0,
      lastPingAt: 0,
      pingSentAt: 0,
    };
    if (role === 'active') this.active = sock;
    else this.standby = sock;
    ws.on('open', () => this.onOpen(sock));
    ws.on('message', (data) => this.onFrame(sock, data));
    ws.on('pong', () => {
      sock.lastSeenAt = Date.now();
      sock.pingSentAt = 0;
      if (sock === this.active) this.attempt = 0;
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

  private onOpen(sock: USock): void {
    if (sock.dead || this.closed) return;
    const t = Date.now();
    sock.open = true;
    sock.openedAt = t;
    sock.lastSeenAt = t;
    sock.lastPingAt = t;
    // An immediate ping: its pong proves the path and resets the backoff.
    sock.pingSentAt = t;
    try {
      sock.ws.ping();
    } catch {
      // the close handler takes over
    }
    const every = Math.max(10, Math.min(1000, this.o.pingIntervalMs / 2, this.o.pongTimeoutMs / 2));
    sock.checkTimer = setInterval(() => this.check(sock), every);
    if (sock === this.active) this.armLifetime(sock);
    if (sock === this.standby) {
      // The private stream is live at open: overlap, then switch.
      this.overlapTimer = clear(this.overlapTimer);
      this.overlapTimer = setTimeout(() => this.finishRotation(), this.o.overlapMs);
      return;
    }
    if (sock !== this.active) return;
    const reason = this.everConnected ? 'reconnect' : 'start';
    this.everConnected = true;
    this.log.info({ reason }, 'user stream connected');
    this.emit('connected', { listenKey: sock.key, reason });
    const o = this.outage;
    this.outage = undefined;
    if (o)
      this.emit('gap', {
        from: o.from,
        to: Math.max(o.from, this.rest.now()),
        reason: o.reason,
        keyReplaced: o.keyReplaced,
      });
    const w = this.startWaiter;
    this.startWaiter = undefined;
    w?.resolve();
  }

  private onFrame(sock: USock, data: RawData): void {
    if (sock.dead) return;
    sock.lastSeenAt = Date.now();
    if (sock === this.active) this.attempt = 0;
    const text = rawText(data);
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.emitError(new Error(`user stream: unparsable frame: ${text.slice(0, 200)}`));
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    let ev = msg as Record<string, unknown>;
    if (typeof ev.stream === 'string' && ev.data !== null && typeof ev.data === 'object') {
      ev = ev.data as Record<string, unknown>;
    }
    if (typeof ev.e !== 'string') return;
    if (this.recent && !this.recent.add(text)) return;
    const event = ev as UserEvent;
    this.emit('event', event);
    if (event.e === 'listenKeyExpired') {
      const k = typeof event.listenKey === 'string' ? event.listenKey : undefined;
      if (this.key === undefined || (k !== undefined && k !== this.key)) return;
      const E = Number(event.E);
      const now = this.rest.now();
      this.replaceKey('listenKeyExpired', undefined, Number.isFinite(E) && E > 0 ? Math.min(E, now) : now);
    }
  }

  private check(sock: USock): void {
    if (sock.dead || !sock.open) return;
    const t = Date.now();
    const step = pingStep(sock, t, this.o);
    if (typeof step === 'object') this.kill(sock, step.kill);
  }

  private kill(sock: USock, reason: string): void {
    if (sock.dead) return;
    sock.killReason ??= reason;
    sock.ws.terminate();
  }

  private clearSock(sock: USock): void {
    if (sock.checkTimer) clearInterval(sock.checkTimer);
    sock.checkTimer = undefined;
    sock.lifetimeTimer = clear(sock.lifetimeTimer);
  }

  private onDown(sock: USock, reason: string): void {
    if (sock.dead) return;
    sock.dead = true;
    this.clearSock(sock);
    const wasOpen = sock.open;
    sock.open = false;
    if (this.closed) return;
    if (sock === this.standby) {
      this.standby = undefined;
      this.overlapTimer = clear(this.overlapTimer);
      this.recent = undefined;
      const delay = backoffDelay(this.rotateAttempt++, this.backoff);
      this.log.warn({ reason, retryMs: delay }, 'user stream rotation socket failed');
      this.rotateTimer = clear(this.rotateTimer);
      this.rotateTimer = setTimeout(() => this.rotate(), delay);
      return;
    }
    if (sock !== this.active) return;
    this.active = undefined;
    const standby = this.standby;
    if (standby?.open) {
      // Mid-rotation: the new socket is live already; nothing was lost.
      this.standby = undefined;
      this.active = standby;
      this.overlapTimer = clear(this.overlapTimer);
      this.rotateAttempt = 0;
      this.armLifetime(standby);
      this.scheduleForget();
      this.log.warn({ reason }, 'user stream lost during rotation; the new socket took over');
      return;
    }
    this.endRotation();
    if (wasOpen) {
      const alive = Math.max(sock.lastSeenAt, sock.openedAt);
      this.markDown(reason, this.rest.now() - (Date.now() - alive), false);
    }
    const delay = backoffDelay(this.attempt++, this.backoff);
    this.log.warn({ reason, retryMs: delay }, 'user stream down');
    this.scheduleCycle(delay);
  }

  /** Closes a socket on purpose (no reconnect). Resolves when it is closed. */
  private retire(sock: USock): Promise<void> {
    sock.dead = true;
    sock.open = false;
    this.clearSock(sock);
    return closeSocket(sock.ws);
  }

  // ---- rotation before the 24 h cut --------------------------------------------------------------

  /** Schedules the rotation of the active socket (its age counts from its own opening). */
  private armLifetime(sock: USock): void {
    sock.lifetimeTimer = clear(sock.lifetimeTimer);
    if (!sock.open) return;
    const life = this.o.maxLifetimeMs * (1 - 0.01 * Math.random());
    sock.lifetimeTimer = setTimeout(() => this.rotate(), Math.max(0, sock.openedAt + life - Date.now()));
  }

  private rotate(): void {
    this.rotateTimer = clear(this.rotateTimer);
    if (this.closed || !this.active?.open || this.standby || this.key === undefined) return;
    this.log.info('user stream rotation');
    this.forgetTimer = clear(this.forgetTimer);
    this.recent = new RecentFrames();
    this.openSock('standby');
  }

  private finishRotation(): void {
    this.overlapTimer = undefined;
    const next = this.standby;
    if (this.closed || !next?.open) return;
    const old = this.active;
    this.active = next;
    this.standby = undefined;
    this.rotateAttempt = 0;
    this.armLifetime(next);
    if (old) void this.retire(old);
    this.scheduleForget();
    this.emit('connected', { listenKey: next.key, reason: 'rotation' });
  }

  private scheduleForget(): void {
    this.forgetTimer = clear(this.forgetTimer);
    this.forgetTimer = setTimeout(() => {
      this.forgetTimer = undefined;
      this.recent = undefined;
    }, this.o.overlapMs);
  }

  private endRotation(): void {
    this.overlapTimer = clear(this.overlapTimer);
    this.rotateTimer = clear(this.rotateTimer);
    this.forgetTimer = clear(this.forgetTimer);
    this.recent = undefined;
    const s = this.standby;
    this.standby = undefined;
    if (s) void this.retire(s);
  }

  private emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.log.warn({ err: err.message }, 'user stream error');
  }
}
