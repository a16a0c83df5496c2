// The aggregator server: node:http for /metrics and /healthz, `ws` (noServer) for protocol v1,
// authenticated at the upgrade. One event loop owns all state, so merges and cursor takes are
// atomic; accepted records are sent to subscribers once per event-loop turn (setImmediate), each
// topic's batch serialized once and shared by every unfiltered subscriber.
//
// Nothing a client sends can crash it: every frame is size-checked, parsed in a try, validated
// with the protocol's schemas, and any throw inside a handler is caught, counted and answered with
// an `error` frame. Memory is bounded: frames by size, topics by key and source counts, cursors
// by number, and each connection's send buffer by maxBufferedBytes (a consumer that falls behind
// is disconnected, never buffered without end).

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { createLogger, type Logger } from '../core/log.ts';
import { fastCheckOf, fastPubFrame } from '../core/protocol/fast.ts';
import {
  CLOSE_CODES,
  CursorFrame,
  type ErrorCode,
  InspectFrame,
  LIMITS,
  PingFrame,
  PROTOCOL_VERSION,
  PubFrame,
  type PubFrame as PubFrameType,
  type RequestId,
  SubFrame,
  UnsubFrame,
  zodReason,
} from '../core/protocol/frames.ts';
import {
  AGGREGATOR_HEALTH_KEY,
  canPublish,
  canSubscribe,
  keyMismatch,
  matchesSymbols,
  ROLES,
  type Role,
  type TopicSpec,
} from '../core/protocol/topics.ts';
import { Cursors } from './cursors.ts';
import { Metrics } from './metrics.ts';
import {
  dataTooDeep,
  recordJson,
  type SourceStats,
  Store,
  type StoredRecord,
  type TopicState,
} from './state.ts';

export interface AggregatorToken {
  role: Role;
  token: string;
}

export interface AggregatorOptions {
  /** Listen address (default 127.0.0.1; production: the VM's private address). */
  host?: string;
  /** Default 8700; 0 picks a free port. */
  port?: number;
  /** Who may connect, and as what. At least one. */
  tokens: AggregatorToken[];
  /** Largest accepted frame (default 1 MiB). Up to 4× that gets an error reply; beyond, the connection closes (1009). */
  maxFrameBytes?: number;
  /** Send buffer of one connection before it is dropped as a slow consumer (default 16 MiB). */
  maxBufferedBytes?: number;
  maxRecordsPerFrame?: number;
  maxKeysPerTopic?: number;
  maxSourcesPerTopic?: number;
  /** A source idle this long may be evicted when its topic has maxSourcesPerTopic (default 10 min). */
  sourceTtlMs?: number;
  maxCursors?: number;
  maxConnections?: number;
  /** How far ahead of this clock a record's ts may be (default 60 s). */
  maxFutureMs?: number;
  /** Period of the aggregator's own `health` record and of the event-loop lag window (default 1 s). */
  healthIntervalMs?: number;
  /** WebSocket ping period; a peer silent for two periods is dropped (default 15 s). */
  heartbeatMs?: number;
  /** How long close() waits for clients to take their close frames (default 5 s). */
  drainTimeoutMs?: number;
  logger?: Logger;
  /** Wall clock (ms); tests may replace it. */
  now?: () => number;
}

export interface RunningAggregator {
  /** ws://host:port */
  url: string;
  /** http://host:port/metrics */
  metricsUrl: string;
  host: string;
  port: number;
  /** Open connections by role. */
  connections(): Record<Role, number>;
  /** Counters, for tests and the benchmark. */
  readonly metrics: Metrics;
  /** Stops accepting, sends what is pending, closes every connection (1001) and the port. */
  close(): Promise<void>;
}

interface Subscription {
  readonly conn: Conn;
  readonly topic: TopicState<Subscription>;
  symbols: ReadonlySet<string> | null;
  /** The seq of the last frame sent (filtered subscriptions count their own; unfiltered ones follow the topic's). */
  seq: number;
}

interface Conn {
  readonly id: number;
  readonly role: Role;
  readonly ws: WebSocket;
  readonly remote: string;
  readonly subs: Map<string, Subscription>;
  closed: boolean;
  alive: boolean;
  /**
   * Snapshot bytes allowed above maxBufferedBytes until the buffer drains below it: the bytes of
   * the largest `sub` frame's snapshots, never a sum over frames (repeated `sub` frames cannot
   * raise it).
   */
  credit: number;
}

const UPGRADE_PATHS = new Set(['/', '/v1']);

/** The options as configuration: validated at start (the logger and clock are passed as they are). */
const OptionsSchema = z.object({
  host: z.string().min(1).optional(),
  port: z.int().min(0).max(65535).optional(),
  tokens: z
    .array(z.object({ role: z.enum(ROLES), token: z.string().min(1).max(4096) }))
    .min(1, 'the aggregator needs at least one token'),
  maxFrameBytes: z
    .int()
    .min(1024)
    .max(256 * 1024 * 1024)
    .optional(),
  maxBufferedBytes: z.int().min(1024).optional(),
  maxRecordsPerFrame: z.int().min(1).max(LIMITS.maxRecordsPerFrame).optional(),
  maxKeysPerTopic: z.int().min(1).optional(),
  maxSourcesPerTopic: z.int().min(1).optional(),
  sourceTtlMs: z.int().min(0).optional(),
  maxCursors: z.int().min(1).optional(),
  maxConnections: z.int().min(1).optional(),
  maxFutureMs: z.int().min(0).optional(),
  healthIntervalMs: z.int().min(10).optional(),
  heartbeatMs: z.int().min(10).optional(),
  drainTimeoutMs: z.int().min(0).optional(),
});

export async function startAggregator(options: AggregatorOptions): Promise<RunningAggregator> {
  const parsed = OptionsSchema.safeParse(options);
  // The reason names the field, never a token's value.
  if (!parsed.success) throw new Error(`aggregator options: ${zodReason(parsed.error)}`);
  const opts = parsed.data;
  const conflict = tokenConflict(opts.tokens);
  if (conflict !== null) throw new Error(`aggregator options: ${conflict}`);
  const log = options.logger ?? createLogger('aggregator');
  const now = options.now ?? Date.now;
  const maxFrameBytes = opts.maxFrameBytes ?? LIMITS.maxFrameBytes;
  const maxBufferedBytes = opts.maxBufferedBytes ?? 16 * 1024 * 1024;
  const maxRecordsPerFrame = opts.maxRecordsPerFrame ?? LIMITS.maxRecordsPerFrame;
  const maxFutureMs = opts.maxFutureMs ?? LIMITS.maxFutureMs;
  const maxConnections = opts.maxConnections ?? 1000;
  const healthIntervalMs = opts.healthIntervalMs ?? 1000;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const drainTimeoutMs = opts.drainTimeoutMs ?? 5000;
  const tokens = opts.tokens.map((t) => ({ role: t.role, digest: sha256(t.token) }));

  const store = new Store<Subscription>({
    maxKeysPerTopic: opts.maxKeysPerTopic ?? LIMITS.maxKeysPerTopic,
    maxSourcesPerTopic: opts.maxSourcesPerTopic ?? LIMITS.maxSourcesPerTopic,
    sourceTtlMs: opts.sourceTtlMs ?? LIMITS.sourceTtlMs,
  });
  const cursors = new Cursors(opts.maxCursors ?? LIMITS.maxCursors);
  const metrics = new Metrics();
  const conns = new Set<Conn>();
  const dirty = new Set<TopicState<Subscription>>();
  let flushScheduled = false;
  let closing = false;
  let nextConnId = 1;

  // -------------------------------------------------------------------------------------------
  // Authentication: constant-time over every configured token.

  function authenticate(header: string | undefined): Role | null {
    if (typeof header !== 'string') return null;
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) return null;
    const d = sha256(m[1]);
    let role: Role | null = null;
    for (const t of tokens) if (timingSafeEqual(d, t.digest) && role === null) role = t.role;
    return role;
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  /**
   * Sends unless the connection is gone or too far behind. `credit` (the bytes of the snapshots of
   * one `sub` frame so far) lets snapshots exceed the cap while they drain; it is a maximum, not a
   * sum, so the bytes held for a consumer that does not read stay within the cap plus twice the
   * largest `sub` frame's snapshots however many `sub` frames it sends.
   */
  function send(conn: Conn, data: string | Buffer, op: string, credit = 0): boolean {
    if (conn.closed || conn.ws.readyState !== WebSocket.OPEN) return false;
    const buffered = conn.ws.bufferedAmount;
    if (buffered <= maxBufferedBytes) conn.credit = 0;
    else if (buffered > maxBufferedBytes + conn.credit) {
      slowConsumer(conn, buffered);
      return false;
    }
    if (credit > conn.credit) conn.credit = credit;
    conn.ws.send(data, { binary: false, compress: false });
    metrics.framesOut.inc(op);
    metrics.bytesOut += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    return true;
  }

  function sendJson(conn: Conn, frame: Record<string, unknown>): void {
    send(conn, JSON.stringify(frame), String(frame.op));
  }

  function reject(
    conn: Conn,
    code: ErrorCode,
    msg: string,
    ref: RequestId | null,
    extra?: Record<string, unknown>,
  ): void {
    metrics.rejects.inc(code);
    if (log.isLevelEnabled('debug'))
      log.debug({ conn: conn.id, role: conn.role, code, msg }, 'frame refused');
    sendJson(conn, { op: 'error', code, msg, ref, ...extra });
  }

  function slowConsumer(conn: Conn, buffered: number): void {
    metrics.slowConsumers++;
    log.warn({ conn: conn.id, role: conn.role, remote: conn.remote, buffered }, 'slow consumer disconnected');
    drop(conn);
    try {
      conn.ws.close(CLOSE_CODES.slowConsumer, 'slow consumer');
    } catch {
      // already closing
    }
    // Its close frame waits behind the backlog; no more data is queued meanwhile, and the socket
    // goes for good after a second.
    setTimeout(() => conn.ws.terminate(), 1000).unref();
  }

  /** Forgets a connection's subscriptions; nothing more is sent to it. */
  function drop(conn: Conn): void {
    if (conn.closed) return;
    conn.closed = true;
    for (const sub of conn.subs.values()) sub.topic.subs.delete(sub);
    conn.subs.clear();
  }

  // -------------------------------------------------------------------------------------------
  // Batching: accepted records go out once per event-loop turn.

  function markDirty(t: TopicState<Subscription>): void {
    if (t.pending.length === 0) return;
    dirty.add(t);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }

  function flush(): void {
    flushScheduled = false;
    for (const t of dirty) {
      const recs = t.pending;
      t.pending = [];
      // A `sub` may have sent this topic's batch already (flushPending).
      if (recs.length === 0 || t.subs.size === 0) continue;
      try {
        flushTopic(t, recs);
      } catch (err) {
        metrics.rejects.inc('internal');
        log.error({ err, topic: t.name }, 'flush failed');
      }
    }
    dirty.clear();
  }

  // Unfiltered subscriptions follow the topic's own seq, so one frame (one Buffer) serves them
  // all; a filtered one gets its own records and counts its own seq, so it never sees a gap.
  function flushTopic(t: TopicState<Subscription>, recs: StoredRecord[]): void {
    const seq = ++t.seq;
    const name = JSON.stringify(t.name);
    let shared: Buffer | undefined;
    for (const sub of t.subs) {
      if (sub.conn.closed) continue;
      if (sub.symbols === null) {
        shared ??= Buffer.from(`{"op":"upd","topic":${name},"seq":${seq},"records":[${joinRecords(recs)}]}`);
        if (send(sub.conn, shared, 'upd')) sub.seq = seq;
        continue;
      }
      const mine: StoredRecord[] = [];
      for (const r of recs) if (matchesSymbols(t.spec, r.key, sub.symbols)) mine.push(r);
      if (mine.length === 0) continue;
      const text = `{"op":"upd","topic":${name},"seq":${sub.seq + 1},"records":[${joinRecords(mine)}]}`;
      if (send(sub.conn, text, 'upd')) sub.seq++;
    }
  }

  /** Sends the topic's pending batch to its current subscribers now (before a new snapshot). */
  function flushPending(t: TopicState<Subscription>): void {
    if (t.pending.length === 0) return;
    const recs = t.pending;
    t.pending = [];
    if (t.subs.size > 0) flushTopic(t, recs);
  }

  function joinRecords(recs: StoredRecord[]): string {
    let s = '';
    for (let i = 0; i < recs.length; i++) s += (i === 0 ? '' : ',') + recordJson(recs[i]);
    return s;
  }

  // -------------------------------------------------------------------------------------------
  // Frames

  function onMessage(conn: Conn, raw: RawData, isBinary: boolean): void {
    if (conn.closed) return;
    const data = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    metrics.bytesIn += data.length;
    if (isBinary) {
      metrics.framesIn.inc('invalid');
      reject(conn, 'bad_frame', 'binary frames are not accepted: send JSON text', null);
      return;
    }
    if (data.length > maxFrameBytes) {
      metrics.framesIn.inc('invalid');
      reject(conn, 'too_large', `frame of ${data.length} bytes; the limit is ${maxFrameBytes}`, null);
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      metrics.framesIn.inc('invalid');
      reject(conn, 'bad_json', 'not valid JSON', null);
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      metrics.framesIn.inc('invalid');
      reject(conn, 'bad_frame', 'a frame is a JSON object with an "op"', null);
      return;
    }
    const frame = msg as Record<string, unknown>;
    const ref = refOf(frame.id);
    const op = frame.op;
    const handler = typeof op === 'string' ? HANDLERS[op] : undefined;
    if (handler === undefined) {
      metrics.framesIn.inc('invalid');
      if (typeof op === 'string')
        reject(conn, 'unknown_op', `unknown op ${JSON.stringify(op.slice(0, 40))}`, ref);
      else reject(conn, 'bad_frame', 'a frame needs a string "op"', ref);
      return;
    }
    metrics.framesIn.inc(op as string);
    try {
      handler(conn, frame, ref);
    } catch (err) {
      log.error({ err, conn: conn.id }, 'frame handler failed');
      reject(conn, 'internal', 'internal error; the frame was dropped', ref);
    }
  }

  type Handler = (conn: Conn, frame: Record<string, unknown>, ref: RequestId | null) => void;
  const HANDLERS: Record<string, Handler | undefined> = Object.assign(Object.create(null), {
    pub: onPub,
    sub: onSub,
    unsub: onUnsub,
    cursor: onCursor,
    ping: onPing,
    inspect: onInspect,
  });

  function onPub(conn: Conn, frame: Record<string, unknown>, ref: RequestId | null): void {
    let f: PubFrameType;
    if (fastPubFrame(frame)) f = frame;
    else {
      const p = PubFrame.safeParse(frame);
      if (!p.success) {
        reject(conn, 'bad_frame', zodReason(p.error), ref);
        return;
      }
      f = p.data;
    }
    if (f.records.length > maxRecordsPerFrame) {
      reject(conn, 'bad_frame', `more than ${maxRecordsPerFrame} records`, ref);
      return;
    }
    const t = store.topic(f.topic);
    if (t === undefined) {
      reject(conn, 'unknown_topic', `unknown topic ${JSON.stringify(f.topic)}`, ref);
      return;
    }
    const spec = t.spec;
    if (!canPublish(conn.role, spec)) {
      reject(conn, 'forbidden', `a ${conn.role} may not publish to ${spec.name}`, ref);
      return;
    }
    if (closing) {
      reject(conn, 'shutting_down', 'the aggregator is shutting down', ref);
      return;
    }
    const at = now();
    const future = at + maxFutureMs;
    // The source's entry is made by its first record that passes validation, never before: a
    // frame of junk under made-up names cannot fill the topic's source table.
    let stats: SourceStats | null = t.sources.get(f.src) ?? null;
    let accepted = 0;
    let stale = 0;
    let limited = 0;
    let noSource = 0;
    const rejected: number[] = [];
    let firstReason = '';
    const fast = fastCheckOf(spec);
    for (let i = 0; i < f.records.length; i++) {
      const raw = f.records[i];
      let rec: { key: string; ts: number; data: unknown };
      let isFast = false;
      let reason: string | null = null;
      if (fast?.(raw)) {
        rec = raw as typeof rec;
        isFast = true;
      } else {
        const r = spec.record.safeParse(raw);
        if (!r.success) {
          if (rejected.length === 0) firstReason = zodReason(r.error);
          rejected.push(i);
          continue;
        }
        rec = r.data;
      }
      if (rec.ts > future) reason = `ts ${rec.ts} is in the future`;
      else if (spec.family === 'health' && rec.key === AGGREGATOR_HEALTH_KEY)
        reason = `the health key ${AGGREGATOR_HEALTH_KEY} is the aggregator's own`;
      else if (spec.family === 'health' && conn.role !== 'admin' && rec.key !== f.src)
        reason = `a ${conn.role} publishes health only under its own src (key ${rec.key}, src ${f.src})`;
      else if (!isFast) reason = keyMismatch(spec, rec.key, rec.data); // the fast check includes it
      // Stored records are serialized later, for every snapshot: a record nested deeper than the
      // limit would make that throw (and break the topic), so it is refused here.
      if (reason === null && dataTooDeep(rec.data, LIMITS.maxRecordDepth))
        reason = `data nested deeper than ${LIMITS.maxRecordDepth} levels`;
      if (reason !== null) {
        if (rejected.length === 0) firstReason = reason;
        rejected.push(i);
        continue;
      }
      let created = false;
      if (stats === null) {
        stats = t.source(f.src, at);
        if (stats === null) {
          noSource++;
          continue;
        }
        created = true;
      }
      // Only book data has a template serializer; other fast-checked records use JSON.stringify.
      const res = t.apply(stats, rec.key, rec.ts, rec.data, at, isFast && spec.family === 'book');
      if (res === 'accepted') accepted++;
      else if (res === 'stale') stale++;
      else {
        limited++;
        // A source whose first record found the topic full of keys leaves no entry behind.
        if (created && stats.records === 0) {
          t.sources.delete(stats.src);
          stats = null;
        }
      }
    }
    if (accepted + stale > 0) {
      stats!.count(accepted + stale, at);
      t.count(accepted + stale, at);
    }
    if (accepted > 0) metrics.recordsAccepted.inc(spec.name, accepted);
    if (stale > 0) metrics.recordsStale.inc(spec.name, stale);
    const refused = rejected.length + limited + noSource;
    if (refused > 0) metrics.recordsRejected.inc(spec.name, refused);
    markDirty(t);
    if (rejected.length > 0)
      reject(
        conn,
        'bad_record',
        `${rejected.length} of ${f.records.length} records refused; record ${rejected[0]}: ${firstReason}`,
        ref,
        { rejected: rejected.slice(0, 20) },
      );
    if (noSource > 0) reject(conn, 'limit', `topic ${spec.name} has the maximum number of sources`, ref);
    if (limited > 0)
      reject(
        conn,
        'limit',
        `${limited} records refused: topic ${spec.name} holds the maximum number of keys`,
        ref,
      );
    if (f.ack)
      sendJson(conn, {
        op: 'ack',
        id: ref ?? undefined,
        accepted,
        stale,
        rejected: refused,
      });
  }

  function topicsFor(
    conn: Conn,
    names: string[],
    ref: RequestId | null,
    check: (s: TopicSpec) => boolean,
    verb: string,
  ): TopicState<Subscription>[] | null {
    const out: TopicState<Subscription>[] = [];
    for (const n of names) {
      const t = store.topic(n);
      if (t === undefined) {
        reject(conn, 'unknown_topic', `unknown topic ${JSON.stringify(n)}`, ref);
        return null;
      }
      if (!check(t.spec)) {
        reject(conn, 'forbidden', `a ${conn.role} may not ${verb} ${t.name}`, ref);
        return null;
      }
      out.push(t);
    }
    return out;
  }

  function onSub(conn: Conn, frame: Record<string, unknown>, ref: RequestId | null): void {
    const p = SubFrame.safeParse(frame);
    if (!p.success) {
      reject(conn, 'bad_frame', zodReason(p.error), ref);
      return;
    }
    const topics = topicsFor(conn, p.data.topics, ref, (s) => canSubscribe(conn.role, s), 'subscribe to');
    if (topics === null) return;
    const symbols = p.data.symbols ? new Set(p.data.symbols) : null;
    const idPart = ref === null ? '' : `,"id":${JSON.stringify(ref)}`;
    let frameBytes = 0;
    for (const t of topics) {
      // A snapshot that dropped the connection (slow consumer) ends the frame: nothing more may
      // attach to a closed connection.
      if (conn.closed) return;
      let sub = conn.subs.get(t.name);
      // A fresh snapshot replaces a subscription's state: it takes no part in the batch below.
      if (sub !== undefined) t.subs.delete(sub);
      // What was accepted before this `sub` goes to the existing subscribers now, so the
      // snapshot holds exactly the records up to the topic's seq and every later record comes
      // in a later `upd`: nothing is sent twice, nothing is missed.
      flushPending(t);
      if (sub === undefined) {
        sub = { conn, topic: t, symbols, seq: 0 };
        conn.subs.set(t.name, sub);
      }
      t.subs.add(sub);
      sub.symbols = symbols;
      sub.seq = symbols === null ? t.seq : 0;
      let body = '';
      let n = 0;
      for (const r of t.records.values()) {
        if (!matchesSymbols(t.spec, r.key, symbols)) continue;
        body += (n++ === 0 ? '' : ',') + recordJson(r);
      }
      const text = `{"op":"snapshot","topic":${JSON.stringify(t.name)},"seq":${sub.seq}${idPart},"records":[${body}]}`;
      // Snapshots may exceed the slow-consumer cap while they drain: by this frame's bytes.
      frameBytes += Buffer.byteLength(text);
      send(conn, text, 'snapshot', frameBytes);
    }
  }

  function onUnsub(conn: Conn, frame: Record<string, unknown>, ref: RequestId | null): void {
    const p = UnsubFrame.safeParse(frame);
    if (!p.success) {
      reject(conn, 'bad_frame', zodReason(p.error), ref);
      return;
    }
    const topics = topicsFor(conn, p.data.topics, ref, () => true, 'unsubscribe from');
    if (topics === null) return;
    for (const t of topics) {
      const sub = conn.subs.get(t.name);
      if (sub === undefined) continue;
      t.subs.delete(sub);
      conn.subs.delete(t.name);
    }
  }

  function onCursor(conn: Conn, frame: Record<string, unknown>, ref: RequestId | null): void {
    const p = CursorFrame.safeParse(frame);
    if (!p.success) {
      reject(conn, 'bad_frame', zodReason(p.error), ref);
      return;
    }
    const took = cursors.take(p.data.name, p.data.size);
    if (took === null) {
      reject(conn, 'limit', 'the maximum number of cursors exists', ref);
      return;
    }
    sendJson(conn, {
      op: 'cursor',
      name: p.data.name,
      value: took.value,
      lap: took.lap,
      id: ref ?? undefined,
    });
  }

  function onPing(conn: Conn, frame: Record<string, unknown>, ref: RequestId | null): void {
    const p = PingFrame.safeParse(frame);
    if (!p.success) {
      reject(conn, 'bad_frame', zodReason(p.error), ref);
      return;
    }
    sendJson(conn, { op: 'pong', id: ref ?? undefined, time: now() });
  }

  function onInspect(conn: Conn, frame: Record<string, unknown>, ref: RequestId | null): void {
    const p = InspectFrame.safeParse(frame);
    if (!p.success) {
      reject(conn, 'bad_frame', zodReason(p.error), ref);
      return;
    }
    if (conn.role === 'collector') {
      reject(conn, 'forbidden', 'a collector may not inspect', ref);
      return;
    }
    const t = store.topic(p.data.topic);
    if (t === undefined) {
      reject(conn, 'unknown_topic', `unknown topic ${JSON.stringify(p.data.topic)}`, ref);
      return;
    }
    const at = now();
    const sources: Record<string, unknown> = {};
    for (const s of t.sources.values())
      if (s.records > 0)
        sources[s.src] = {
          records: s.records,
          accepted: s.accepted,
          stale: s.stale,
          lastTs: s.lastTs,
          ageMs: at - s.lastAt,
          ratePerS: s.rate(at),
        };
    const reply: Record<string, unknown> = {
      op: 'inspect',
      topic: t.name,
      id: ref ?? undefined,
      keys: t.records.size,
      sources,
    };
    if (p.data.key !== undefined) {
      reply.key = p.data.key;
      const keySources: Record<string, unknown> = {};
      for (const [src, v] of t.keySources(p.data.key)) keySources[src] = { ts: v.ts, ageMs: at - v.at };
      reply.keySources = keySources;
      reply.winner = t.records.get(p.data.key)?.src;
    }
    sendJson(conn, reply);
  }

  // -------------------------------------------------------------------------------------------
  // Health: the aggregator's own record in the `health` topic, and the lag window.

  function publishHealth(): void {
    const lag = metrics.sampleLag();
    const t = store.topic('health')!;
    const at = now();
    const stats = t.source(AGGREGATOR_HEALTH_KEY, at);
    if (stats === null) return;
    const topics: Array<Record<string, unknown>> = [];
    for (const topic of store.topics.values())
      if (topic.lastAt > 0)
        topics.push({
          topic: topic.name,
          ageMs: at - topic.lastAt,
          ratePerS: topic.rate(at),
          keys: topic.records.size,
        });
    const sources: Array<Record<string, unknown>> = [];
    for (const topic of store.topics.values())
      for (const s of topic.sources.values())
        if (s.records > 0)
          sources.push({
            topic: topic.name,
            src: s.src,
            ageMs: at - s.lastAt,
            dataAgeMs: at - s.lastTs,
            ratePerS: s.rate(at),
            records: s.records,
            stale: s.stale,
          });
    const rejects: Record<string, number> = {};
    for (const [k, v] of metrics.rejects.entries()) rejects[k] = v;
    const data = {
      status: lag.p99Ms > 1000 ? 'degraded' : 'ok',
      time: at,
      uptimeS: Math.round((at - metrics.startedAt) / 1000),
      connections: { ...metrics.connections },
      framesIn: metrics.framesIn.total(),
      framesOut: metrics.framesOut.total(),
      rejects,
      slowConsumers: metrics.slowConsumers,
      loopLagMs: lag,
      topics,
      sources,
    };
    t.apply(stats, AGGREGATOR_HEALTH_KEY, at, data, at);
    stats.count(1, at);
    t.count(1, at);
    markDirty(t);
  }

  // -------------------------------------------------------------------------------------------
  // HTTP and upgrade

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      const subs = new Map<string, number>();
      for (const t of store.topics.values()) if (t.subs.size > 0) subs.set(t.name, t.subs.size);
      const body = metrics.render(store, now(), subs);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(body);
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(closing ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: closing ? 'closing' : 'ok', protocol: PROTOCOL_VERSION }));
      return;
    }
    if (UPGRADE_PATHS.has(path)) {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('WebSocket only (protocol v1); Authorization: Bearer <token>\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }

  function refuse(socket: Duplex, status: number, text: string, reason: string, extra = ''): void {
    metrics.upgradeRejects.inc(reason);
    const body = `${text}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`,
    );
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (closing) {
      refuse(socket, 503, 'Service Unavailable', 'shutting_down');
      return;
    }
    if (!UPGRADE_PATHS.has(path)) {
      refuse(socket, 404, 'Not Found', 'not_found');
      return;
    }
    const role = authenticate(req.headers.authorization);
    if (role === null) {
      log.info({ remote: req.socket.remoteAddress }, 'upgrade refused: missing or wrong token');
      refuse(socket, 401, 'Unauthorized', 'unauthorized', 'WWW-Authenticate: Bearer\r\n');
      return;
    }
    if (conns.size >= maxConnections) {
      refuse(socket, 503, 'Service Unavailable', 'over_capacity');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, role, req));
  }

  function onConnection(ws: WebSocket, role: Role, req: IncomingMessage): void {
    const conn: Conn = {
      id: nextConnId++,
      role,
      ws,
      remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      subs: new Map(),
      closed: false,
      alive: true,
      credit: 0,
    };
    conns.add(conn);
    metrics.connections[role]++;
    metrics.connectionsTotal.inc(role);
    log.info({ conn: conn.id, role, remote: conn.remote }, 'connected');
    ws.on('message', (data, isBinary) => onMessage(conn, data, isBinary));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // WebSocket-level violations (oversize beyond the hard cap, invalid UTF-8, bad opcodes):
      // `ws` closes the connection itself (1009/1007/1002); count them.
      metrics.rejects.inc(err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too_large' : 'protocol');
      log.info({ conn: conn.id, role, err: err.message }, 'connection error');
    });
    ws.on('close', (code) => {
      conns.delete(conn);
      metrics.connections[role]--;
      drop(conn);
      log.info({ conn: conn.id, role, code }, 'disconnected');
    });
    sendJson(conn, {
      op: 'hello',
      v: PROTOCOL_VERSION,
      role,
      time: now(),
      maxFrameBytes,
      maxRecordsPerFrame,
    });
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxFrameBytes * 4,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const server = createServer(onRequest);
  server.on('upgrade', onUpgrade);
  server.on('clientError', (_err, socket) => socket.destroy());

  const healthTimer = setInterval(publishHealth, healthIntervalMs);
  healthTimer.unref();
  const heartbeat = setInterval(() => {
    for (const c of conns) {
      if (!c.alive) {
        log.info({ conn: c.id, role: c.role }, 'no pong: dropping');
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.ws.ping();
      } catch {
        // closing
      }
    }
  }, heartbeatMs);
  heartbeat.unref();

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8700, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  log.info(
    { host, port, roles: tokens.map((t) => t.role), maxFrameBytes, maxBufferedBytes },
    'aggregator listening',
  );

  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing = true;
    clearInterval(healthTimer);
    clearInterval(heartbeat);
    // Whatever was accepted goes out before the close frames.
    flush();
    const waits: Promise<void>[] = [];
    for (const c of conns) {
      waits.push(
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
        }),
      );
      try {
        c.ws.close(CLOSE_CODES.goingAway, 'aggregator shutting down');
      } catch {
        c.ws.terminate();
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(waits),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, drainTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const c of conns) c.ws.terminate();
    wss.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    metrics.stop();
    log.info('aggregator closed');
  }

  return {
    url: `ws://${urlHost}:${port}`,
    metricsUrl: `http://${urlHost}:${port}/metrics`,
    host,
    port,
    metrics,
    connections: () => ({ ...metrics.connections }),
    close: () => {
      closed ??= close();
      return closed;
    },
  };
}

/**
 * A token configured for two roles (the first would win silently): the roles concerned, as a
 * reason, or null. Never names the token itself.
 */
export function tokenConflict(tokens: readonly AggregatorToken[]): string | null {
  const roleOf = new Map<string, Role>();
  for (const t of tokens) {
    const r = roleOf.get(t.token);
    if (r !== undefined && r !== t.role)
      return `the same token is configured for two roles (${r} and ${t.role}); give each role its own token`;
    roleOf.set(t.token, t.role);
  }
  return null;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function refOf(id: unknown): RequestId | null {
  if (typeof id === 'string' && id.length <= 64) return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id;
  return null;
}
