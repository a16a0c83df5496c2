// The aggregator's state: per topic, per key the winning record (merge rule: the greater exchange
// `ts` wins, an equal `ts` replaces; for `position` and `balance` a winner that omits fields the
// held record has keeps them while the amount is unchanged), and per source its freshness (last arrival, newest ts,
// counts, rate) and per key its own newest ts, so every source's staleness is known even while
// another source holds the key. Records are immutable once stored; each caches its JSON so a
// snapshot is a join of strings and an update is serialized once for all subscribers.

import { bookDataJson } from '../core/protocol/fast.ts';
import { type TopicSpec, topicSpec } from '../core/protocol/topics.ts';

export interface StoredRecord {
  readonly key: string;
  readonly ts: number;
  readonly src: string;
  readonly data: unknown;
  /** Arrival (aggregator wall clock, ms). */
  readonly at: number;
  /** Validated by the fast path (core/protocol/fast.ts): key, src and data serialize by template. */
  readonly fast: boolean;
  json: string | undefined;
}

/** The record as served (`{key, ts, data}`), serialized once and cached. */
export function recordJson(r: StoredRecord): string {
  if (r.json === undefined) {
    r.json = r.fast
      ? `{"key":"${r.key}","ts":${r.ts},"data":${bookDataJson(r.data as Record<string, unknown>)}}`
      : `{"key":${JSON.stringify(r.key)},"ts":${r.ts},"data":${JSON.stringify(r.data)}}`;
  }
  return r.json;
}

const RATE_WINDOW_S = 10;

/** Records per second over the last 10 complete seconds, in one-second buckets. */
export class Rate {
  private readonly buckets = new Float64Array(RATE_WINDOW_S);
  private readonly bucketSec = new Float64Array(RATE_WINDOW_S).fill(-1);

  count(n: number, now: number): void {
    const sec = Math.floor(now / 1000);
    const i = sec % RATE_WINDOW_S;
    if (this.bucketSec[i] !== sec) {
      this.bucketSec[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i] += n;
  }

  rate(now: number): number {
    const sec = Math.floor(now / 1000);
    let sum = 0;
    for (let i = 0; i < RATE_WINDOW_S; i++) {
      const s = this.bucketSec[i];
      if (s < sec && s >= sec - RATE_WINDOW_S) sum += this.buckets[i];
    }
    return sum / RATE_WINDOW_S;
  }
}

export class SourceStats {
  /** Per key: this source's newest ts and its last arrival. */
  readonly keys = new Map<string, KeySource>();
  records = 0;
  accepted = 0;
  stale = 0;
  lastAt = 0;
  lastTs = 0;
  private readonly rateOf = new Rate();

  constructor(
    readonly src: string,
    /** When the entry was made (aggregator clock): a source with no record yet is idle since then. */
    readonly createdAt = 0,
  ) {}

  count(n: number, now: number): void {
    this.rateOf.count(n, now);
  }

  /** Records per second over the last 10 complete seconds. */
  rate(now: number): number {
    return this.rateOf.rate(now);
  }
}

/**
 * Whether a JSON value nests deeper than `max` levels of objects and arrays (the value itself is
 * level 1 when it is one). Iterative: a hostile depth cannot overflow the stack here.
 */
export function dataTooDeep(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    const items = Array.isArray(v) ? v : Object.values(v);
    for (const x of items) if (typeof x === 'object' && x !== null) stack.push([x, depth + 1]);
  }
  return false;
}

/**
 * The data a `position` or `balance` winner is stored with: the fields it omits are taken from
 * the held record while the amount (positionAmt, walletBalance) is unchanged, since the sources
 * each know a subset of the fields (account v3 positions have no entryPrice, the user stream's
 * balance no availableBalance). When the amount changed the held values would be wrong: the
 * winner is stored as it came.
 */
function carryOver(family: TopicSpec['family'], held: unknown, data: unknown): unknown {
  const field = family === 'position' ? 'positionAmt' : family === 'balance' ? 'walletBalance' : null;
  if (field === null) return data;
  const h = held as Record<string, unknown>;
  const d = data as Record<string, unknown>;
  if (!sameDecimal(h[field], d[field])) return data;
  let missing = false;
  for (const k of Object.keys(h))
    if (!Object.hasOwn(d, k)) {
      missing = true;
      break;
    }
  return missing ? { ...h, ...d } : data;
}

function sameDecimal(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  if (a === b) return true;
  const x = Number(a);
  return Number.isFinite(x) && x === Number(b);
}

export type ApplyResult = 'accepted' | 'stale' | 'limit';

export interface KeySource {
  ts: number;
  at: number;
}

export interface StateLimits {
  maxKeysPerTopic: number;
  maxSourcesPerTopic: number;
  /** A source idle this long (ms) may be evicted when the topic has maxSourcesPerTopic (default: never). */
  sourceTtlMs?: number;
}

export class TopicState<S = unknown> {
  /** Subscribers (the server's subscription objects). */
  readonly subs = new Set<S>();
  readonly records = new Map<string, StoredRecord>();
  readonly sources = new Map<string, SourceStats>();
  /** Update batches sent so far (the seq of unfiltered subscriptions). */
  seq = 0;
  /** Records accepted since the last flush, in order of acceptance. */
  pending: StoredRecord[] = [];
  /** Newest ts held by any key, and the last arrival. */
  maxTs = 0;
  lastAt = 0;
  private readonly rateOf = new Rate();

  constructor(
    readonly spec: TopicSpec,
    private readonly limits: StateLimits,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** Each source's newest ts and arrival for one key. */
  keySources(key: string): Map<string, KeySource> {
    const out = new Map<string, KeySource>();
    for (const s of this.sources.values()) {
      const k = s.keys.get(key);
      if (k !== undefined) out.set(s.src, k);
    }
    return out;
  }

  /** Counts records (accepted or stale) into the topic's rate. */
  count(n: number, now: number): void {
    this.rateOf.count(n, now);
  }

  /** Records per second the topic received over the last 10 complete seconds. */
  rate(now: number): number {
    return this.rateOf.rate(now);
  }

  /**
   * The source's stats, made on first use; null when the topic has as many sources as allowed
   * and none has been idle longer than sourceTtlMs (the longest idle one is evicted otherwise).
   */
  source(src: string, now = 0): SourceStats | null {
    let s = this.sources.get(src);
    if (s === undefined) {
      if (this.sources.size >= this.limits.maxSourcesPerTopic && !this.evictIdle(now)) return null;
      s = new SourceStats(src, now);
      this.sources.set(src, s);
    }
    return s;
  }

  private evictIdle(now: number): boolean {
    const ttl = this.limits.sourceTtlMs;
    if (ttl === undefined) return false;
    let idlest: SourceStats | undefined;
    for (const s of this.sources.values()) {
      const last = Math.max(s.lastAt, s.createdAt);
      if (now - last > ttl && (idlest === undefined || last < Math.max(idlest.lastAt, idlest.createdAt)))
        idlest = s;
    }
    if (idlest === undefined) return false;
    this.sources.delete(idlest.src);
    return true;
  }

  /**
   * Applies one validated record by the merge rule. The caller counts the frame's records into
   * the source's rate once (`stats.count`).
   */
  apply(stats: SourceStats, key: string, ts: number, data: unknown, now: number, fast = false): ApplyResult {
    const cur = this.records.get(key);
    if (cur === undefined && this.records.size >= this.limits.maxKeysPerTopic) return 'limit';
    stats.records++;
    stats.lastAt = now;
    if (ts > stats.lastTs) stats.lastTs = ts;
    const mine = stats.keys.get(key);
    if (mine === undefined) stats.keys.set(key, { ts, at: now });
    else {
      if (ts > mine.ts) mine.ts = ts;
      mine.at = now;
    }
    this.lastAt = now;
    if (cur !== undefined && ts < cur.ts) {
      stats.stale++;
      return 'stale';
    }
    const stored = cur === undefined ? data : carryOver(this.spec.family, cur.data, data);
    const rec: StoredRecord = {
      key,
      ts,
      src: stats.src,
      data: stored,
      at: now,
      fast: fast && stored === data,
      json: undefined,
    };
    this.records.set(key, rec);
    this.pending.push(rec);
    if (ts > this.maxTs) this.maxTs = ts;
    stats.accepted++;
    return 'accepted';
  }
}

export class Store<S = unknown> {
  readonly topics = new Map<string, TopicState<S>>();

  constructor(private readonly limits: StateLimits) {}

  /** The state of a known topic (created on first use), or undefined for an unknown name. */
  topic(name: string): TopicState<S> | undefined {
    let t = this.topics.get(name);
    if (t === undefined) {
      const spec = topicSpec(name);
      if (spec === undefined) return undefined;
      t = new TopicState<S>(spec, this.limits);
      this.topics.set(name, t);
    }
    return t;
  }
}
