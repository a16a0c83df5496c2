// The aggregator client, used by readers (publish, cursors) and traders (subscribe, data age).
//
// - Connects with `Authorization: Bearer <token>`; reconnects for ever with exponential backoff
//   and jitter (an aggregator restart, a network fault or a token rotation are ridden through).
// - Keeps a local mirror of every subscribed topic: the snapshot replaces it, `upd` frames merge
//   into it by the protocol's rule. After a reconnect, or when an `upd` seq is not the one
//   expected, it re-subscribes and the next snapshot replaces the mirror.
// - Publishes through a bounded queue: `publish()` resolves once the frame is queued, and waits
//   (backpressure) while the queue is full, for example while the aggregator is away. The queue
//   is drained into the socket only while its send buffer is below a high-water mark.
// - Cursors and pings are request/response by id; a cursor request lost to a disconnect is sent
//   again after the reconnect.
// - `age(topic, key?)` is the data age a trader's staleness guard reads: now (exchange time, from
//   the `now` option) minus the record's exchange timestamp.

import { type RawData, WebSocket } from 'ws';
import {
  AckFrame,
  CursorReplyFrame,
  type ErrorCode,
  ErrorFrame,
  type HelloFrame as Hello,
  HelloFrame,
  type InspectReplyFrame as InspectReply,
  InspectReplyFrame,
  LIMITS,
  type OutRecord,
  PongFrame,
  type PubRecord,
  type RequestId,
  zodReason,
} from './frames.ts';
import { keyMismatch, type Role, topicSpec } from './topics.ts';

export interface ClientRecord<D = unknown> extends OutRecord<D> {
  /** Local wall-clock time (ms) the record arrived. */
  receivedAt: number;
}

export interface AggregatorClientOptions {
  /** ws://host:port of the aggregator. */
  url: string;
  token: string;
  /** Default `src` of publications (this reader's name). */
  source?: string;
  /** Exchange-time clock (ms) for data age; default Date.now. */
  now?: () => number;
  /** Reconnect backoff: delay = min(maxMs, baseMs·2^attempt), minus up to `jitter` of it at random. */
  reconnect?: { baseMs?: number; maxMs?: number; jitter?: number };
  /** Bound of the publish queue (default 8 MiB). */
  maxQueueBytes?: number;
  /** The queue drains into the socket while its send buffer is below this (default 1 MiB). */
  highWaterMark?: number;
  /** Cursor, ping, ack and inspect replies (default 10 s). */
  requestTimeoutMs?: number;
  /** Silence after which the client pings; after 2.5× it reconnects (default 10 s). */
  heartbeatMs?: number;
  /** Check published records against the topic schemas before sending (default true). */
  validate?: boolean;
  /** Local address to connect from. */
  localAddress?: string;
  /** Largest frame accepted from the aggregator (a window snapshot can be large; default 256 MiB). */
  maxPayload?: number;
}

/**
 * The wait before reconnect attempt `attempt` (0-based): exponential from baseMs, capped at
 * maxMs, less a random share of up to `jitter` of it, so a fleet of readers does not reconnect
 * in lockstep after an aggregator restart.
 */
export function reconnectDelay(
  attempt: number,
  opts: AggregatorClientOptions['reconnect'] = {},
  random: () => number = Math.random,
): number {
  const base = opts.baseMs ?? 250;
  const max = opts.maxMs ?? 10_000;
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  const delay = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return delay * (1 - jitter * random());
}

export class AggregatorError extends Error {
  override name = 'AggregatorError';
}
/** The aggregator refused the token (HTTP 401) or the upgrade (other status). */
export class AggregatorAuthError extends AggregatorError {
  override name = 'AggregatorAuthError';
  constructor(
    readonly status: number,
    msg: string,
  ) {
    super(msg);
  }
}
/** An `error` frame from the aggregator. */
export class AggregatorServerError extends AggregatorError {
  override name = 'AggregatorServerError';
  constructor(
    readonly code: ErrorCode,
    msg: string,
    readonly ref: RequestId | null,
    readonly rejected?: number[],
  ) {
    super(`${code}: ${msg}`);
  }
}
/** A request whose reply was lost to a disconnect or the client's close. */
export class AggregatorConnectionError extends AggregatorError {
  override name = 'AggregatorConnectionError';
}
export class AggregatorTimeoutError extends AggregatorError {
  override name = 'AggregatorTimeoutError';
}
/** A record that does not satisfy its topic's schema (found before sending). */
export class AggregatorRecordError extends AggregatorError {
  override name = 'AggregatorRecordError';
}

export interface AggregatorClientEvents {
  /** Connected (again) and greeted; subscriptions have been sent. */
  open: [hello: Hello];
  close: [code: number, reason: string];
  snapshot: [topic: string, records: ClientRecord[]];
  update: [topic: string, records: ClientRecord[]];
  /** An `upd` seq was not the expected one; the topic is being re-subscribed. */
  gap: [topic: string, expected: number, got: number];
  /** An `error` frame not tied to a pending request. */
  serverError: [err: AggregatorServerError];
  /** Transport errors (refused connections, a refused token, unparsable frames). Never thrown. */
  error: [err: Error];
}

type Listener<A extends unknown[]> = (...args: A) => void;

/** A small typed emitter. Unlike node's EventEmitter, an 'error' without listeners is not thrown. */
export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly listeners = new Map<keyof E, Set<Listener<never[]>>>();

  on<K extends keyof E>(event: K, f: Listener<E[K]>): this {
    let s = this.listeners.get(event);
    if (!s) {
      s = new Set();
      this.listeners.set(event, s);
    }
    s.add(f as unknown as Listener<never[]>);
    return this;
  }

  off<K extends keyof E>(event: K, f: Listener<E[K]>): this {
    this.listeners.get(event)?.delete(f as unknown as Listener<never[]>);
    return this;
  }

  once<K extends keyof E>(event: K, f: Listener<E[K]>): this {
    const g = ((...args: E[K]) => {
      this.off(event, g);
      f(...args);
    }) as Listener<E[K]>;
    return this.on(event, g);
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const s = this.listeners.get(event);
    if (!s) return;
    for (const f of [...s]) {
      try {
        (f as unknown as Listener<E[K]>)(...args);
      } catch (err) {
        // A throwing listener must not break the client; surface it asynchronously.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

interface TopicSub {
  symbols: string[] | undefined;
  live: boolean;
  expect: number;
  /** Consecutive transient errors answering its `sub` (the backoff's exponent). */
  retries: number;
  waiters: Array<{ resolve: () => void; reject: (e: Error) => void }>;
}

interface TopicMirror {
  records: Map<string, ClientRecord>;
  maxTs: number;
  lastAt: number;
}

interface Pending {
  kind: 'cursor' | 'ping' | 'ack' | 'inspect';
  frame: string | undefined;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** A `pub` frame in the queue: its text, its UTF-8 size and its id. */
interface QueueItem {
  text: string;
  bytes: number;
  id: number;
}

interface QueueWaiter {
  item: QueueItem;
  resolve: () => void;
  reject: (e: Error) => void;
}

export interface PublishOptions {
  /** Overrides the client's `source`. */
  src?: string;
  /** Wait for the aggregator's count of accepted, stale and rejected records. */
  ack?: boolean;
  /** Give up waiting for room in the queue. */
  signal?: AbortSignal;
}

export interface AckResult {
  accepted: number;
  stale: number;
  rejected: number;
}

export class AggregatorClient extends TypedEmitter<AggregatorClientEvents> {
  private readonly opts: AggregatorClientOptions;
  private readonly now: () => number;
  private ws: WebSocket | undefined;
  private started = false;
  private closedByUser = false;
  private open_ = false;
  private greeted: Hello | undefined;
  /** The frame limits of the last greeting (protocol defaults before the first). */
  private greetedLimits: { maxFrameBytes: number; maxRecordsPerFrame: number } = {
    maxFrameBytes: LIMITS.maxFrameBytes,
    maxRecordsPerFrame: LIMITS.maxRecordsPerFrame,
  };
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  private lastSeen = 0;
  private nextId = 1;
  private readonly subs = new Map<string, TopicSub>();
  private readonly subRequests = new Map<number, string[]>();
  private readonly mirrors = new Map<string, TopicMirror>();
  private readonly pending = new Map<number, Pending>();
  private queue: Array<QueueItem | undefined> = [];
  private qHead = 0;
  private queuedBytes = 0;
  /**
   * `pub` frames written on this connection whose fate is unknown (no reply to them or to a
   * later frame yet), by id in the order written; bounded by maxQueueBytes (the oldest go).
   */
  private readonly inFlight = new Map<number, QueueItem>();
  private inFlightBytes = 0;
  /** Frames the aggregator refused with `shutting_down`: sent first after the reconnect. */
  private requeued: QueueItem[] = [];
  /** The aggregator said it is shutting down: publications wait for the next connection. */
  private draining = false;
  /** Re-subscriptions after a transient `sub` error, waiting for their backoff. */
  private readonly subRetryTimers = new Set<NodeJS.Timeout>();
  private readonly waiters: QueueWaiter[] = [];
  private openWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** Counters for monitoring and tests. */
  readonly stats = { connects: 0, disconnects: 0, gaps: 0, snapshots: 0, updates: 0, published: 0 };

  constructor(opts: AggregatorClientOptions) {
    super();
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  /** Whether the connection is open and greeted. */
  get connected(): boolean {
    return this.open_ && this.greeted !== undefined;
  }

  /** The role the aggregator gave this token (after the first connect). */
  get role(): Role | undefined {
    return this.greeted?.role;
  }

  /** Bytes waiting in the publish queue. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Starts connecting (and reconnecting for ever); resolves once connected and greeted. */
  connect(): Promise<void> {
    if (this.closedByUser) return Promise.reject(new AggregatorConnectionError('client closed'));
    if (!this.started) {
      this.started = true;
      this.openSocket();
    }
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  /** Closes for good: pending requests and queued publications are rejected. */
  async close(): Promise<void> {
    if (this.closedByUser) return;
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.pumpTimer);
    clearInterval(this.heartbeatTimer);
    for (const t of this.subRetryTimers) clearTimeout(t);
    this.subRetryTimers.clear();
    const err = new AggregatorConnectionError('client closed');
    this.failPending(err, true);
    for (const w of this.waiters.splice(0)) w.reject(err);
    for (const w of this.openWaiters.splice(0)) w.reject(err);
    for (const s of this.subs.values()) for (const w of s.waiters.splice(0)) w.reject(err);
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'client closing');
      const t = setTimeout(() => ws.terminate(), 2000);
      await closed;
      clearTimeout(t);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Subscriptions and the local mirror

  /**
   * Subscribes (or changes the symbol filter of) topics; resolves when each topic's snapshot
   * has arrived. Re-subscription after reconnects and gaps is automatic.
   */
  subscribe(topics: string | string[], opts: { symbols?: string[] } = {}): Promise<void> {
    const list = typeof topics === 'string' ? [topics] : [...topics];
    for (const t of list) if (!topicSpec(t)) return Promise.reject(new AggregatorError(`unknown topic ${t}`));
    const waits = list.map((t) => {
      let s = this.subs.get(t);
      if (!s) {
        s = { symbols: opts.symbols, live: false, expect: 1, retries: 0, waiters: [] };
        this.subs.set(t, s);
      }
      s.symbols = opts.symbols;
      s.live = false;
      const sub = s;
      return new Promise<void>((resolve, reject) => sub.waiters.push({ resolve, reject }));
    });
    if (this.open_) this.sendSub(list, opts.symbols);
    return Promise.all(waits).then(() => undefined);
  }

  unsubscribe(topics: string | string[]): void {
    const list = typeof topics === 'string' ? [topics] : [...topics];
    for (const t of list) {
      const s = this.subs.get(t);
      if (!s) continue;
      this.subs.delete(t);
      this.mirrors.delete(t);
      for (const w of s.waiters.splice(0)) w.reject(new AggregatorError(`unsubscribed from ${t}`));
    }
    if (this.open_) this.sendRaw(JSON.stringify({ op: 'unsub', topics: list }));
  }

  /** The mirror's record for a key. */
  get<D = unknown>(topic: string, key: string): ClientRecord<D> | undefined {
    return this.mirrors.get(topic)?.records.get(key) as ClientRecord<D> | undefined;
  }

  /** The mirror of a topic (empty before its snapshot). */
  records<D = unknown>(topic: string): ReadonlyMap<string, ClientRecord<D>> {
    return (this.mirrors.get(topic)?.records ?? new Map()) as ReadonlyMap<string, ClientRecord<D>>;
  }

  /** Whether the topic's mirror is current (snapshot received, no resync under way). */
  isLive(topic: string): boolean {
    return this.open_ && this.subs.get(topic)?.live === true;
  }

  /**
   * Data age in ms by exchange time: now() minus the record's ts (with a key), or minus the
   * newest ts of the topic (without). Infinity when there is no data.
   */
  age(topic: string, key?: string): number {
    const m = this.mirrors.get(topic);
    if (!m) return Number.POSITIVE_INFINITY;
    if (key === undefined) return m.maxTs > 0 ? this.now() - m.maxTs : Number.POSITIVE_INFINITY;
    const r = m.records.get(key);
    return r ? this.now() - r.ts : Number.POSITIVE_INFINITY;
  }

  /** Local time since the record (or the topic's last update) arrived; Infinity when none did. */
  receivedAge(topic: string, key?: string): number {
    const m = this.mirrors.get(topic);
    if (!m) return Number.POSITIVE_INFINITY;
    const at = key === undefined ? m.lastAt : m.records.get(key)?.receivedAt;
    return at ? Date.now() - at : Number.POSITIVE_INFINITY;
  }

  // -------------------------------------------------------------------------------------------
  // Publishing

  /**
   * Publishes records to a topic. Resolves once the frame is queued (immediately while there is
   * room), or with the aggregator's counts when `ack` is set. Records beyond the aggregator's
   * frame limits (bytes, records) go out in several frames, in order. Rejects on a record that
   * fails the topic's schema or alone exceeds the frame limit (nothing is sent), on abort, and
   * for `ack` on a lost connection.
   */
  publish<D>(
    topic: string,
    records: PubRecord<D>[],
    opts: PublishOptions = {},
  ): Promise<AckResult | undefined> {
    if (this.closedByUser) return Promise.reject(new AggregatorConnectionError('client closed'));
    const src = opts.src ?? this.opts.source;
    if (!src) return Promise.reject(new AggregatorError('publish needs a src (or the client option source)'));
    const spec = topicSpec(topic);
    if (!spec) return Promise.reject(new AggregatorError(`unknown topic ${topic}`));
    if (records.length === 0) return Promise.resolve({ accepted: 0, stale: 0, rejected: 0 });
    if (this.opts.validate !== false) {
      for (let i = 0; i < records.length; i++) {
        const r = spec.record.safeParse(records[i]);
        const reason = r.success ? keyMismatch(spec, r.data.key, r.data.data) : zodReason(r.error);
        if (reason !== null)
          return Promise.reject(new AggregatorRecordError(`${topic} record ${i}: ${reason}`));
      }
    }
    let chunks: Array<{ item: QueueItem; ack: boolean }>;
    try {
      chunks = this.chunk(topic, src, records, opts.ack === true);
    } catch (err) {
      return Promise.reject(err);
    }
    this.stats.published += records.length;
    // One frame, or several when the records exceed the aggregator's frame limits; in order.
    const results = chunks.map(({ item, ack }) => {
      const id = item.id;
      const acked = ack ? (this.request(id, 'ack', undefined) as Promise<AckResult>) : undefined;
      const queued = this.enqueue(item, opts.signal);
      if (acked === undefined) return queued.then(() => undefined);
      return queued.then(
        () => acked,
        (err) => {
          this.settle(id, undefined, err);
          throw err;
        },
      );
    });
    if (!opts.ack) return Promise.all(results).then(() => undefined);
    return Promise.all(results).then((acks) =>
      acks.reduce<AckResult>(
        (sum, a) => ({
          accepted: sum.accepted + (a?.accepted ?? 0),
          stale: sum.stale + (a?.stale ?? 0),
          rejected: sum.rejected + (a?.rejected ?? 0),
        }),
        { accepted: 0, stale: 0, rejected: 0 },
      ),
    );
  }

  /**
   * Serializes records into frames within the frame limits. Every frame has an id, so a refusal
   * (`shutting_down`) names the frame to send again.
   */
  private chunk(
    topic: string,
    src: string,
    records: unknown[],
    ack: boolean,
  ): Array<{ item: QueueItem; ack: boolean }> {
    const maxBytes = this.greetedLimits.maxFrameBytes;
    const maxRecords = this.greetedLimits.maxRecordsPerFrame;
    const out: Array<{ item: QueueItem; ack: boolean }> = [];
    const build = (recs: unknown[]) => {
      if (recs.length > maxRecords) {
        build(recs.slice(0, maxRecords));
        build(recs.slice(maxRecords));
        return;
      }
      const id = this.nextId++;
      const frame: Record<string, unknown> = { op: 'pub', topic, src, records: recs, id };
      if (ack) frame.ack = true;
      const text = JSON.stringify(frame);
      const bytes = Buffer.byteLength(text);
      if (bytes > maxBytes) {
        if (recs.length === 1)
          throw new AggregatorRecordError(
            `${topic} record ${JSON.stringify((recs[0] as { key?: unknown }).key)}: larger than the frame limit (${maxBytes} bytes)`,
          );
        const half = Math.ceil(recs.length / 2);
        build(recs.slice(0, half));
        build(recs.slice(half));
        return;
      }
      out.push({ item: { text, bytes, id }, ack });
    };
    build(records);
    return out;
  }

  /** Resolves when every queued publication has been written out (or rejects after timeoutMs). */
  async flush(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const buffered = this.ws?.bufferedAmount ?? 0;
      if (this.queuedBytes === 0 && this.waiters.length === 0 && buffered === 0) return;
      if (Date.now() > deadline) throw new AggregatorTimeoutError('flush timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private enqueue(item: QueueItem, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new AggregatorError('aborted'));
    const max = this.opts.maxQueueBytes ?? 8 * 1024 * 1024;
    if (this.waiters.length === 0 && (this.queuedBytes === 0 || this.queuedBytes + item.bytes <= max)) {
      this.push(item);
      this.pump();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const w: QueueWaiter = { item, resolve, reject };
      this.waiters.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) {
            this.waiters.splice(i, 1);
            reject(signal.reason ?? new AggregatorError('aborted'));
          }
        },
        { once: true },
      );
    });
  }

  private push(item: QueueItem): void {
    this.queue.push(item);
    this.queuedBytes += item.bytes;
  }

  private pump(): void {
    const ws = this.ws;
    const hwm = this.opts.highWaterMark ?? 1024 * 1024;
    if (ws && this.open_ && !this.draining && ws.readyState === WebSocket.OPEN) {
      while (this.qHead < this.queue.length) {
        if (ws.bufferedAmount >= hwm) {
          this.pumpTimer ??= setTimeout(() => {
            this.pumpTimer = undefined;
            this.pump();
          }, 2);
          break;
        }
        const item = this.queue[this.qHead]!;
        this.queue[this.qHead++] = undefined;
        this.queuedBytes -= item.bytes;
        this.trackSent(item);
        ws.send(item.text);
      }
      if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.qHead);
        this.qHead = 0;
      }
    }
    // Admit waiting publications in order while they fit.
    const max = this.opts.maxQueueBytes ?? 8 * 1024 * 1024;
    while (this.waiters.length > 0) {
      const w = this.waiters[0];
      if (this.queuedBytes !== 0 && this.queuedBytes + w.item.bytes > max) break;
      this.waiters.shift();
      this.push(w.item);
      w.resolve();
      if (this.open_) this.pump();
    }
  }

  /** Remembers a written `pub` frame until a reply to it or to a later frame. */
  private trackSent(item: QueueItem): void {
    this.inFlight.set(item.id, item);
    this.inFlightBytes += item.bytes;
    const max = this.opts.maxQueueBytes ?? 8 * 1024 * 1024;
    for (const [id, old] of this.inFlight) {
      if (this.inFlightBytes <= max) break;
      this.inFlight.delete(id);
      this.inFlightBytes -= old.bytes;
    }
  }

  /**
   * The aggregator answered frame `id`: it has read every frame written before it (frames are
   * handled in order), so those are forgotten; `id` itself too unless `keep`. Returns its item.
   */
  private settleSent(id: number): QueueItem | undefined {
    const item = this.inFlight.get(id);
    if (item === undefined) return undefined;
    for (const [k, v] of this.inFlight) {
      this.inFlight.delete(k);
      this.inFlightBytes -= v.bytes;
      if (k === id) break;
    }
    return item;
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  /** Takes the next index in 0..size-1 of a named round-robin cursor. */
  cursor(name: string, size: number): Promise<{ value: number; lap: number }> {
    const id = this.nextId++;
    const frame = JSON.stringify({ op: 'cursor', name, size, id });
    return this.request(id, 'cursor', frame) as Promise<{ value: number; lap: number }>;
  }

  /** Round trip to the aggregator; its clock. */
  async ping(): Promise<{ rttMs: number; serverTime: number }> {
    const id = this.nextId++;
    const t0 = performance.now();
    const pong = (await this.request(id, 'ping', JSON.stringify({ op: 'ping', id }))) as { time: number };
    return { rttMs: performance.now() - t0, serverTime: pong.time };
  }

  /** Per-source freshness of a topic (and of one key); traders and admins. */
  inspect(topic: string, key?: string): Promise<InspectReply> {
    const id = this.nextId++;
    return this.request(
      id,
      'inspect',
      JSON.stringify({ op: 'inspect', topic, key, id }),
    ) as Promise<InspectReply>;
  }

  private request(id: number, kind: Pending['kind'], frame: string | undefined): Promise<unknown> {
    if (this.closedByUser) return Promise.reject(new AggregatorConnectionError('client closed'));
    return new Promise((resolve, reject) => {
      const ms = this.opts.requestTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AggregatorTimeoutError(`${kind} timed out after ${ms} ms`));
      }, ms);
      this.pending.set(id, { kind, frame, resolve, reject, timer });
      if (frame !== undefined && this.open_) this.sendRaw(frame);
    });
  }

  private settle(id: number, value: unknown, err?: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(value);
  }

  /**
   * On a disconnect: requests that cannot be re-sent fail; cursors, and acks of publications
   * refused with `shutting_down` (re-sent after the reconnect), wait for it.
   */
  private failPending(err: Error, all: boolean): void {
    const requeued = new Set(this.requeued.map((q) => q.id));
    for (const [id, p] of this.pending)
      if (all || (p.kind !== 'cursor' && !(p.kind === 'ack' && requeued.has(id))))
        this.settle(id, undefined, err);
  }

  // -------------------------------------------------------------------------------------------
  // Connection

  private openSocket(): void {
    if (this.closedByUser) return;
    const ws = new WebSocket(this.opts.url, {
      headers: { authorization: `Bearer ${this.opts.token}` },
      perMessageDeflate: false,
      maxPayload: this.opts.maxPayload ?? 256 * 1024 * 1024,
      handshakeTimeout: 10_000,
      localAddress: this.opts.localAddress,
    });
    this.ws = ws;
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data, isBinary) => {
      if (ws === this.ws) this.onMessage(data, isBinary);
    });
    ws.on('pong', () => {
      this.lastSeen = Date.now();
    });
    ws.on('error', (err) => {
      if (ws !== this.ws) return;
      const m = /Unexpected server response: (\d+)/.exec(err.message);
      if (m) {
        const status = Number(m[1]);
        this.emit(
          'error',
          new AggregatorAuthError(
            status,
            status === 401 ? 'the aggregator refused the token (401)' : `upgrade refused (${status})`,
          ),
        );
      } else this.emit('error', err);
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.open_ = true;
    this.lastSeen = Date.now();
    this.stats.connects++;
    // Subscriptions first (grouped by filter), then lost cursor requests, then publications.
    const groups = new Map<string, { topics: string[]; symbols: string[] | undefined }>();
    for (const [topic, s] of this.subs) {
      s.live = false;
      const k = s.symbols ? s.symbols.join(',') : '';
      let g = groups.get(k);
      if (!g) {
        g = { topics: [], symbols: s.symbols };
        groups.set(k, g);
      }
      g.topics.push(topic);
    }
    for (const g of groups.values()) this.sendSub(g.topics, g.symbols);
    for (const p of this.pending.values()) if (p.frame !== undefined) this.sendRaw(p.frame);
    // Publications refused while the previous aggregator drained go first, in their order.
    if (this.requeued.length > 0) {
      this.queue = [...this.requeued, ...this.queue.slice(this.qHead)];
      this.qHead = 0;
      this.requeued = [];
    }
    this.draining = false;
    this.pump();
    const hb = this.opts.heartbeatMs ?? 10_000;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(ws, hb), Math.max(50, hb / 2));
    this.heartbeatTimer.unref();
  }

  private heartbeat(ws: WebSocket, hb: number): void {
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
    const idle = Date.now() - this.lastSeen;
    if (idle > hb * 2.5) ws.terminate();
    else if (idle > hb) ws.ping();
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    const wasOpen = this.open_;
    this.open_ = false;
    this.greeted = undefined;
    clearInterval(this.heartbeatTimer);
    for (const s of this.subs.values()) s.live = false;
    this.subRequests.clear();
    // What was written on the lost connection without an answer is not sent again (as before);
    // what the aggregator refused while draining is, after the reconnect.
    this.inFlight.clear();
    this.inFlightBytes = 0;
    this.failPending(new AggregatorConnectionError(`connection closed (${code})`), false);
    if (wasOpen) {
      this.stats.disconnects++;
      this.emit('close', code, reason);
    }
    if (this.closedByUser) return;
    const delay = reconnectDelay(this.attempt++, this.opts.reconnect);
    this.reconnectTimer = setTimeout(() => this.openSocket(), delay);
  }

  private sendRaw(text: string): void {
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(text);
  }

  private sendSub(topics: string[], symbols: string[] | undefined): void {
    const id = this.nextId++;
    this.subRequests.set(id, topics);
    this.sendRaw(JSON.stringify(symbols ? { op: 'sub', topics, symbols, id } : { op: 'sub', topics, id }));
  }

  /** Sends `sub` again for topics still wanted and not live, after a backoff per topic. */
  private retrySubs(topics: string[]): void {
    let attempt = 0;
    for (const t of topics) {
      const s = this.subs.get(t);
      if (s) attempt = Math.max(attempt, s.retries++);
    }
    const timer = setTimeout(
      () => {
        this.subRetryTimers.delete(timer);
        if (!this.open_) return; // the reconnect re-subscribes everything
        const groups = new Map<string, { topics: string[]; symbols: string[] | undefined }>();
        for (const t of topics) {
          const s = this.subs.get(t);
          if (!s || s.live) continue;
          const k = s.symbols ? s.symbols.join(',') : '';
          let g = groups.get(k);
          if (!g) {
            g = { topics: [], symbols: s.symbols };
            groups.set(k, g);
          }
          g.topics.push(t);
        }
        for (const g of groups.values()) this.sendSub(g.topics, g.symbols);
      },
      reconnectDelay(attempt, this.opts.reconnect),
    );
    this.subRetryTimers.add(timer);
  }

  private resync(topic: string): void {
    const s = this.subs.get(topic);
    if (!s) return;
    s.live = false;
    this.sendSub([topic], s.symbols);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.lastSeen = Date.now();
    if (isBinary) return;
    let f: Record<string, unknown>;
    try {
      f = JSON.parse(String(data));
    } catch {
      this.emit('error', new AggregatorError('unparsable frame from the aggregator'));
      return;
    }
    if (typeof f !== 'object' || f === null) return;
    switch (f.op) {
      case 'upd':
        this.onUpd(f);
        return;
      case 'snapshot':
        this.onSnapshot(f);
        return;
      case 'hello': {
        const h = HelloFrame.safeParse(f);
        if (!h.success) {
          this.emit('error', new AggregatorError(`bad hello: ${zodReason(h.error)}`));
          return;
        }
        this.greeted = h.data;
        this.greetedLimits = {
          maxFrameBytes: h.data.maxFrameBytes,
          maxRecordsPerFrame: h.data.maxRecordsPerFrame,
        };
        this.attempt = 0;
        for (const w of this.openWaiters.splice(0)) w.resolve();
        this.emit('open', h.data);
        return;
      }
      case 'cursor': {
        const c = CursorReplyFrame.safeParse(f);
        if (c.success && typeof c.data.id === 'number')
          this.settle(c.data.id, { value: c.data.value, lap: c.data.lap });
        return;
      }
      case 'pong': {
        const p = PongFrame.safeParse(f);
        if (p.success && typeof p.data.id === 'number') this.settle(p.data.id, p.data);
        return;
      }
      case 'ack': {
        const a = AckFrame.safeParse(f);
        if (a.success && typeof a.data.id === 'number') this.settleSent(a.data.id);
        if (a.success && typeof a.data.id === 'number')
          this.settle(a.data.id, {
            accepted: a.data.accepted,
            stale: a.data.stale,
            rejected: a.data.rejected,
          });
        return;
      }
      case 'inspect': {
        const r = InspectReplyFrame.safeParse(f);
        if (r.success && typeof r.data.id === 'number') this.settle(r.data.id, r.data);
        return;
      }
      case 'error': {
        const e = ErrorFrame.safeParse(f);
        if (!e.success) return;
        this.onServerError(e.data);
        return;
      }
      default:
        return;
    }
  }

  private onServerError(e: ErrorFrame): void {
    const err = new AggregatorServerError(e.code, e.msg, e.ref, e.rejected);
    if (typeof e.ref === 'number') {
      const topics = this.subRequests.get(e.ref);
      if (topics) {
        this.subRequests.delete(e.ref);
        if (e.code === 'forbidden' || e.code === 'unknown_topic') {
          // A refused subscription: stop asking for it.
          for (const t of topics) {
            const s = this.subs.get(t);
            if (!s) continue;
            this.subs.delete(t);
            for (const w of s.waiters.splice(0)) w.reject(err);
          }
          return;
        }
        // Anything else may pass (an internal fault, a drain): ask again after a backoff.
        this.retrySubs(topics);
        this.emit('serverError', err);
        return;
      }
      const sent = this.settleSent(e.ref);
      if (e.code === 'shutting_down') {
        // The aggregator is draining: nothing more is sent to this one, and this frame (like the
        // ones after it, refused likewise) goes again after the reconnect.
        this.draining = true;
        if (sent !== undefined) {
          this.requeued.push(sent);
          this.queuedBytes += sent.bytes;
          return;
        }
      }
      const p = this.pending.get(e.ref);
      // A pub that got as far as its records is acked after its bad_record/limit error: the ack settles it.
      if (p && !(p.kind === 'ack' && (e.code === 'bad_record' || e.code === 'limit'))) {
        this.settle(e.ref, undefined, err);
        return;
      }
    }
    this.emit('serverError', err);
  }

  private onSnapshot(f: Record<string, unknown>): void {
    const topic = f.topic;
    if (typeof topic !== 'string' || !Number.isInteger(f.seq) || !Array.isArray(f.records)) return;
    if (typeof f.id === 'number') {
      // The request's other topics may still fail (a multi-topic sub): keep them tied to it.
      const rest = this.subRequests.get(f.id)?.filter((t) => t !== topic);
      if (rest && rest.length > 0) this.subRequests.set(f.id, rest);
      else this.subRequests.delete(f.id);
    }
    const s = this.subs.get(topic);
    if (!s) return;
    s.retries = 0;
    const at = Date.now();
    const m: TopicMirror = { records: new Map(), maxTs: 0, lastAt: at };
    const recs = f.records as ClientRecord[];
    for (const r of recs) {
      r.receivedAt = at;
      m.records.set(r.key, r);
      if (r.ts > m.maxTs) m.maxTs = r.ts;
    }
    this.mirrors.set(topic, m);
    s.live = true;
    s.expect = (f.seq as number) + 1;
    this.stats.snapshots++;
    for (const w of s.waiters.splice(0)) w.resolve();
    this.emit('snapshot', topic, recs);
  }

  private onUpd(f: Record<string, unknown>): void {
    const topic = f.topic;
    if (typeof topic !== 'string' || typeof f.seq !== 'number' || !Array.isArray(f.records)) return;
    const s = this.subs.get(topic);
    if (!s?.live) return;
    if (f.seq !== s.expect) {
      this.stats.gaps++;
      this.emit('gap', topic, s.expect, f.seq);
      this.resync(topic);
      return;
    }
    s.expect++;
    const m = this.mirrors.get(topic);
    if (!m) return;
    const at = Date.now();
    m.lastAt = at;
    const recs = f.records as ClientRecord[];
    for (const r of recs) {
      r.receivedAt = at;
      const cur = m.records.get(r.key);
      if (cur === undefined || r.ts >= cur.ts) m.records.set(r.key, r);
      if (r.ts > m.maxTs) m.maxTs = r.ts;
    }
    this.stats.updates++;
    this.emit('update', topic, recs);
  }
}
