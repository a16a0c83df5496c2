// The aggregator's state: per topic, per key the winning record (merge rule: the greater exchange
// `ts` wins, an equal `ts` replaces), and per source its freshness (last arrival, newest ts,
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

export class SourceStats {
  /** Per key: this source's newest ts and its last arrival. */
  readonly keys = new Map<string, KeySource>();
  records = 0;
  accepted = 0;
  stale = 0;
  lastAt = 0;
  lastTs = 0;
  private readonly buckets = new Float64Array(RATE_WINDOW_S);
  private readonly bucketSec = new Float64Array(RATE_WINDOW_S).fill(-1);

  constructor(readonly src: string) {}

  count(n: number, now: number): void {
    const sec = Math.floor(now / 1000);
    const i = sec % RATE_WINDOW_S;
    if (this.bucketSec[i] !== sec) {
      this.bucketSec[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i] += n;
  }

  /** Records per second over the last 10 complete seconds. */
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

export type ApplyResult = 'accepted' | 'stale' | 'limit';

export interface KeySource {
  ts: number;
  at: number;
}

export interface StateLimits {
  maxKeysPerTopic: number;
  maxSourcesPerTopic: number;
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

  /** The source's stats, or null when the topic has as many sources as allowed. */
  source(src: string): SourceStats | null {
    let s = this.sources.get(src);
    if (s === undefined) {
      if (this.sources.size >= this.limits.maxSourcesPerTopic) return null;
      s = new SourceStats(src);
      this.sources.set(src, s);
    }
    return s;
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
    const rec: StoredRecord = { key, ts, src: stats.src, data, at: now, fast, json: undefined };
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
