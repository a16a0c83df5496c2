// The aggregator's counters and their Prometheus text exposition (format 0.0.4), without a client
// library: a handful of counters and gauges rendered on each scrape.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ROLES, type Role } from '../core/protocol/topics.ts';
import type { Store } from './state.ts';

export class Counter {
  private readonly m = new Map<string, number>();
  inc(label: string, n = 1): void {
    this.m.set(label, (this.m.get(label) ?? 0) + n);
  }
  get(label: string): number {
    return this.m.get(label) ?? 0;
  }
  total(): number {
    let s = 0;
    for (const v of this.m.values()) s += v;
    return s;
  }
  entries(): IterableIterator<[string, number]> {
    return this.m.entries();
  }
}

export interface LagStats {
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class Metrics {
  readonly startedAt = Date.now();
  readonly connections: Record<Role, number> = { collector: 0, trader: 0, admin: 0 };
  readonly connectionsTotal = new Counter();
  /** Upgrades refused, by reason (unauthorized, not_found, over_capacity, shutting_down). */
  readonly upgradeRejects = new Counter();
  readonly framesIn = new Counter();
  readonly framesOut = new Counter();
  bytesIn = 0;
  bytesOut = 0;
  /** Frames refused, by error code (plus `protocol` for WebSocket-level violations that close). */
  readonly rejects = new Counter();
  readonly recordsAccepted = new Counter();
  readonly recordsStale = new Counter();
  readonly recordsRejected = new Counter();
  slowConsumers = 0;
  lag: LagStats = { meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });

  constructor() {
    this.loop.enable();
  }

  /** Takes the event-loop delay of the window since the last call and starts a new window. */
  sampleLag(): LagStats {
    const h = this.loop;
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.round(ns / 1e3) / 1e3 : 0);
    // The histogram's floor is its resolution (10 ms); report the delay beyond it.
    const res = 10;
    const over = (v: number) => Math.max(0, ms(v) - res);
    this.lag =
      h.count === 0
        ? { meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 }
        : {
            meanMs: over(h.mean),
            p50Ms: over(h.percentile(50)),
            p99Ms: over(h.percentile(99)),
            maxMs: over(h.max),
          };
    h.reset();
    return this.lag;
  }

  stop(): void {
    this.loop.disable();
  }

  render(store: Store, now: number, subscriptions: Map<string, number>): string {
    const out: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    const line = (name: string, labels: Record<string, string>, v: number) => {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${escapeLabel(x)}"`)
        .join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(v) ? v : 'NaN'}`);
    };
    const counter = (name: string, help: string, label: string, c: Counter) => {
      metric(name, 'counter', help);
      for (const [k, v] of c.entries()) line(name, { [label]: k }, v);
    };

    metric('fleet_aggregator_up_seconds', 'gauge', 'Seconds since the aggregator started.');
    line('fleet_aggregator_up_seconds', {}, Math.round((now - this.startedAt) / 100) / 10);
    metric('fleet_aggregator_connections', 'gauge', 'Open WebSocket connections by role.');
    for (const r of ROLES) line('fleet_aggregator_connections', { role: r }, this.connections[r]);
    counter(
      'fleet_aggregator_connections_total',
      'WebSocket connections accepted, by role.',
      'role',
      this.connectionsTotal,
    );
    counter(
      'fleet_aggregator_upgrade_rejects_total',
      'Upgrades refused before the WebSocket opened, by reason.',
      'reason',
      this.upgradeRejects,
    );
    counter('fleet_aggregator_frames_in_total', 'Frames received, by op.', 'op', this.framesIn);
    counter('fleet_aggregator_frames_out_total', 'Frames sent, by op.', 'op', this.framesOut);
    metric('fleet_aggregator_bytes_in_total', 'counter', 'Payload bytes received.');
    line('fleet_aggregator_bytes_in_total', {}, this.bytesIn);
    metric('fleet_aggregator_bytes_out_total', 'counter', 'Payload bytes sent.');
    line('fleet_aggregator_bytes_out_total', {}, this.bytesOut);
    counter(
      'fleet_aggregator_rejects_total',
      'Frames refused with an error reply (or a close), by reason.',
      'reason',
      this.rejects,
    );
    metric('fleet_aggregator_slow_consumers_total', 'counter', 'Connections closed for a full send buffer.');
    line('fleet_aggregator_slow_consumers_total', {}, this.slowConsumers);
    counter(
      'fleet_aggregator_records_accepted_total',
      'Records that won the merge, by topic.',
      'topic',
      this.recordsAccepted,
    );
    counter(
      'fleet_aggregator_records_stale_total',
      'Records older than the held one (dropped by the merge rule), by topic.',
      'topic',
      this.recordsStale,
    );
    counter(
      'fleet_aggregator_records_rejected_total',
      'Records refused by validation or limits, by topic.',
      'topic',
      this.recordsRejected,
    );

    metric('fleet_aggregator_topic_keys', 'gauge', 'Keys held, by topic.');
    for (const t of store.topics.values())
      line('fleet_aggregator_topic_keys', { topic: t.name }, t.records.size);
    metric(
      'fleet_aggregator_topic_last_update_age_seconds',
      'gauge',
      'Seconds since any source updated the topic.',
    );
    for (const t of store.topics.values())
      if (t.lastAt > 0)
        line('fleet_aggregator_topic_last_update_age_seconds', { topic: t.name }, secs(now - t.lastAt));
    metric(
      'fleet_aggregator_topic_rate',
      'gauge',
      'Records per second the topic received (accepted or stale), over the last 10 s.',
    );
    for (const t of store.topics.values())
      if (t.lastAt > 0) line('fleet_aggregator_topic_rate', { topic: t.name }, t.rate(now));
    metric('fleet_aggregator_subscriptions', 'gauge', 'Subscriptions, by topic.');
    for (const [topic, n] of subscriptions) line('fleet_aggregator_subscriptions', { topic }, n);

    const perSource = (
      name: string,
      type: 'counter' | 'gauge',
      help: string,
      f: (s: SourceLike) => number,
    ) => {
      metric(name, type, help);
      // A source without a record has no age (its times are 0, not 1970).
      for (const t of store.topics.values())
        for (const s of t.sources.values())
          if (s.records > 0) line(name, { topic: t.name, source: s.src }, f(s));
    };
    perSource(
      'fleet_aggregator_source_last_update_age_seconds',
      'gauge',
      'Seconds since the source last published to the topic.',
      (s) => secs(now - s.lastAt),
    );
    perSource(
      'fleet_aggregator_source_data_age_seconds',
      'gauge',
      "Seconds between now and the newest exchange timestamp the source published (the data's own age).",
      (s) => secs(now - s.lastTs),
    );
    perSource(
      'fleet_aggregator_source_rate',
      'gauge',
      'Records per second the source published, over the last 10 s.',
      (s) => s.rate(now),
    );
    perSource(
      'fleet_aggregator_source_records_total',
      'counter',
      'Records the source published.',
      (s) => s.records,
    );
    perSource(
      'fleet_aggregator_source_stale_total',
      'counter',
      'Records of the source that lost the merge to a newer one.',
      (s) => s.stale,
    );

    metric(
      'fleet_aggregator_event_loop_lag_seconds',
      'gauge',
      'Event-loop delay over the last health interval.',
    );
    line('fleet_aggregator_event_loop_lag_seconds', { stat: 'mean' }, this.lag.meanMs / 1000);
    line('fleet_aggregator_event_loop_lag_seconds', { stat: 'p50' }, this.lag.p50Ms / 1000);
    line('fleet_aggregator_event_loop_lag_seconds', { stat: 'p99' }, this.lag.p99Ms / 1000);
    line('fleet_aggregator_event_loop_lag_seconds', { stat: 'max' }, this.lag.maxMs / 1000);
    const mem = process.memoryUsage();
    metric('fleet_aggregator_memory_bytes', 'gauge', 'Process memory.');
    line('fleet_aggregator_memory_bytes', { kind: 'rss' }, mem.rss);
    line('fleet_aggregator_memory_bytes', { kind: 'heap_used' }, mem.heapUsed);
    return `${out.join('\n')}\n`;
  }
}

interface SourceLike {
  src: string;
  records: number;
  stale: number;
  lastAt: number;
  lastTs: number;
  rate(now: number): number;
}

function secs(ms: number): number {
  return Math.max(0, Math.round(ms) / 1000);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
