// What every reader shares: its dependencies, configuration from the environment, exchange-time
// pacing on planned slots, counted Binance reads, and guarded publication to the aggregator.
// Functions import only core/ and this folder (DESIGN.md §3).

import type { BinanceRest } from '../../core/binance/rest.ts';
import type { RequestParams } from '../../core/binance/types.ts';
import { endpointWeight } from '../../core/binance/weights.ts';
import type { Logger } from '../../core/log.ts';
import type { AggregatorClient } from '../../core/protocol/client.ts';
import type { PubRecord } from '../../core/protocol/frames.ts';

/** Exchange-time clock of a reader (the Binance client's synced clock). */
export interface Clock {
  now(): number;
  /** Resolves at exchange time `t`, or at once when `signal` aborts. */
  sleepUntil(t: number, signal?: AbortSignal): Promise<void>;
}

export function clockOf(rest: { now(): number }): Clock {
  return { now: () => rest.now(), sleepUntil: (t, signal) => sleep(t - rest.now(), signal) };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Counters of one reader replica (kept across invocations), with rolling-minute rates. */
export class ReaderStats {
  calls = 0;
  weight = 0;
  errors = 0;
  records = 0;
  skipped = 0;
  invocations = 0;
  lastError = '';
  private readonly recent: Array<[number, number]> = [];

  call(weight: number): void {
    this.calls++;
    this.weight += weight;
    const now = Date.now();
    this.recent.push([now, weight]);
    if (this.recent.length > 50_000 || this.recent[0][0] < now - 120_000) this.prune(now);
  }

  error(err: unknown): void {
    this.errors++;
    this.lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }

  /** Calls and weight over the last minute (local time). */
  perMinute(now = Date.now()): { calls: number; weight: number } {
    this.prune(now);
    let weight = 0;
    for (const [, w] of this.recent) weight += w;
    return { calls: this.recent.length, weight };
  }

  private prune(now: number): void {
    let i = 0;
    while (i < this.recent.length && this.recent[i][0] < now - 60_000) i++;
    if (i > 0) this.recent.splice(0, i);
  }
}

/** Configuration every function has (from the environment; see handler.ts). */
export interface BaseConfig {
  /** The function's name (klines, book, …). */
  fn: string;
  /** `src` of its publications: `<fn>@<replica>` unless set. */
  source: string;
  /** 0-based replica index and the number of replicas (slotting, sources). */
  replica: number;
  replicas: number;
  /** Planned period between two reads of this replica (ms of exchange time). */
  periodMs: number;
  /** Offset of this replica's slots within the period (ms). */
  slotOffsetMs: number;
  /**
   * The weight one slot is planned at, for readers whose reads vary (klines: a due window read
   * costs more than a 2-bar read): a slot that spends more pushes the next one back by the extra
   * weight's share of the period, so the weight per minute stays the planned one. Unset: slots
   * are fixed (the plan already averages the cost, e.g. positions-risk's balance).
   */
  readWeight?: number;
  /** Binance WebSocket base (user-data stream). */
  wsBase: string;
}

export interface Deps<C> {
  /** The Binance client for this replica's own egress address. */
  rest: BinanceRest;
  agg: AggregatorClient;
  config: BaseConfig & C;
  clock: Clock;
  log: Logger;
  stats: ReaderStats;
  /** Aborts the run (shutdown). */
  signal?: AbortSignal;
  /**
   * End of the run under way in local time (Date.now(); set by runUntil(), from paced() and the
   * stream reader): every read is bounded by it (request timeout = the time left; a budget wait
   * past it is abandoned). Local time, as deadline()'s timer: a clock re-sync does not move it.
   */
  endsAt?: number;
}

export interface RunResult {
  fn: string;
  source: string;
  calls: number;
  weight: number;
  errors: number;
  records: number;
  /** Slots skipped (aggregator away, or the reader behind). */
  skipped: number;
}

/** A read needs at least this much time before the run's deadline, else its slot is skipped. */
export const MIN_READ_MS = 100;

/** A read not started, or abandoned, because the run's deadline came: not an exchange error. */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/**
 * A counted GET: the weight goes to the reader's stats, errors too. Returns Binance's JSON as is.
 * Bounded by the run's deadline (`deps.endsAt`): the request timeout is the time left, and a wait
 * for budget in the client's throttler (after a 429, up to a minute) is abandoned at the
 * deadline (the late answer, if any, is ignored).
 */
export async function get<T>(deps: Deps<unknown>, path: string, params: RequestParams = {}): Promise<T> {
  const left = deps.endsAt === undefined ? undefined : Math.floor(deps.endsAt - Date.now());
  if (left !== undefined && left < MIN_READ_MS)
    throw new DeadlineError(`${path}: ${left} ms left in the run`);
  deps.stats.call(endpointWeight('GET', path, params as Record<string, string | undefined>).ip);
  try {
    const req = deps.rest.request<T>('GET', path, params, left === undefined ? {} : { timeoutMs: left });
    return left === undefined ? await req : await bounded(req, left, deps.signal, path);
  } catch (err) {
    if (err instanceof DeadlineError) throw err;
    deps.stats.error(err);
    if (typeof err === 'object' && err !== null) counted.add(err);
    throw err;
  }
}

/** `p`, or a DeadlineError after `ms` (or when `signal` aborts); a late outcome of `p` is ignored. */
function bounded<T>(p: Promise<T>, ms: number, signal: AbortSignal | undefined, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = () => {
      cleanup();
      p.catch(() => undefined);
      reject(new DeadlineError(`${what}: abandoned at the run's deadline`));
    };
    const timer = setTimeout(fail, ms);
    signal?.addEventListener('abort', fail, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', fail);
    };
    if (signal?.aborted) return fail();
    p.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (e) => {
        cleanup();
        reject(e);
      },
    );
  });
}

/** Waits for `p` at most `ms` (its outcome is then ignored); never rejects. */
export async function atMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.catch(() => undefined),
    new Promise<void>((r) => {
      timer = setTimeout(r, Math.max(0, ms));
    }),
  ]);
  clearTimeout(timer);
}

const counted = new WeakSet<object>();

/** Publishes (skips empty lists); counts records. Rejects when the deadline or shutdown aborts the wait. */
export async function publish<D>(
  deps: Deps<unknown>,
  topic: string,
  records: PubRecord<D>[],
  signal?: AbortSignal,
): Promise<void> {
  if (records.length === 0) return;
  await deps.agg.publish(topic, records, { signal });
  deps.stats.records += records.length;
}

/** Sets the run's end (`until`, exchange time) on `deps` for the reads (as local time). */
export function runUntil(deps: Deps<unknown>, until: number): void {
  deps.endsAt = Date.now() + (until - deps.clock.now());
}

/** An AbortSignal that fires at exchange time `until` or with the run's own signal. */
export function deadline(deps: Deps<unknown>, until: number): { signal: AbortSignal; clear(): void } {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('deadline')), Math.max(0, until - deps.clock.now()));
  const onAbort = () => ac.abort(deps.signal?.reason ?? new Error('aborted'));
  deps.signal?.addEventListener('abort', onAbort, { once: true });
  if (deps.signal?.aborted) onAbort();
  return {
    signal: ac.signal,
    clear() {
      clearTimeout(timer);
      deps.signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** The first slot at or after `t`: slots are `offset + k·period` on exchange time. */
export function nextSlot(t: number, periodMs: number, offsetMs: number): number {
  return Math.ceil((t - offsetMs) / periodMs) * periodMs + offsetMs;
}

/**
 * Runs `body` once per slot of this replica until `until` (exchange time): the reader's pace is
 * the plan's, and the Binance client's throttler is only the safety net. A slot is skipped (not
 * read) while the aggregator is away: a reader fetches no more than it publishes. A late body
 * catches up by at most one period, then re-aligns on the slot grid.
 */
export async function paced(
  deps: Deps<unknown>,
  until: number,
  body: (slot: number, signal: AbortSignal) => Promise<void>,
): Promise<RunResult> {
  const { periodMs, slotOffsetMs, readWeight } = deps.config;
  runUntil(deps, until);
  const stop = deadline(deps, until);
  let lastLog = 0;
  try {
    let t = nextSlot(deps.clock.now(), periodMs, slotOffsetMs);
    while (t < until && !stop.signal.aborted) {
      await deps.clock.sleepUntil(t, stop.signal);
      if (stop.signal.aborted) break;
      if (until - deps.clock.now() < MIN_READ_MS) {
        deps.stats.skipped++; // too little time left for a read
        break;
      }
      const spent = deps.stats.weight;
      if (!deps.agg.connected) deps.stats.skipped++;
      else {
        try {
          await body(t, stop.signal);
        } catch (err) {
          if (stop.signal.aborted) break;
          if (err instanceof DeadlineError) {
            deps.stats.skipped++;
            break;
          }
          if (!(typeof err === 'object' && err !== null && counted.has(err))) deps.stats.error(err);
          if (Date.now() - lastLog > 5000) {
            lastLog = Date.now();
            deps.log.warn(
              { err: deps.stats.lastError, errors: deps.stats.errors },
              `${deps.config.source}: read failed`,
            );
          }
        }
      }
      // The weight over the planned one, in slots (a costlier window read delays the next slot).
      const extra = readWeight ? Math.max(0, deps.stats.weight - spent - readWeight) / readWeight : 0;
      const now = deps.clock.now();
      t += periodMs * (1 + extra);
      if (t < now - periodMs) {
        deps.stats.skipped++;
        t = nextSlot(now, periodMs, slotOffsetMs);
      }
    }
  } finally {
    stop.clear();
  }
  return result(deps);
}

export function result(deps: Deps<unknown>): RunResult {
  const s = deps.stats;
  return {
    fn: deps.config.fn,
    source: deps.config.source,
    calls: s.calls,
    weight: s.weight,
    errors: s.errors,
    records: s.records,
    skipped: s.skipped,
  };
}

/**
 * Symbols of the universe: from the aggregator's `symbols` topic, else one exchangeInfo read.
 * The `volume` reader publishes the whole exchangeInfo list at once (ts = its serverTime), so a
 * record older than the newest publication is a symbol that left exchangeInfo: it is dropped.
 */
export async function universe(deps: Deps<unknown>, signal?: AbortSignal): Promise<string[]> {
  const rows = deps.agg.records<{ symbol: string; status: string }>('symbols');
  if (rows.size > 0) return currentSymbols(rows.values());
  if (signal?.aborted) return [];
  const info = await get<{ symbols: Array<{ symbol: string; status: string }> }>(
    deps,
    '/fapi/v1/exchangeInfo',
  );
  return info.symbols
    .filter((s) => s.status === 'TRADING')
    .map((s) => s.symbol)
    .sort();
}

/** The TRADING symbols of the newest `symbols` publication (older records: delisted since). */
export function currentSymbols(
  rows: Iterable<{ key: string; ts: number; data: { status: string } }>,
  toleranceMs = 1000,
): string[] {
  const list = [...rows];
  let newest = Number.NEGATIVE_INFINITY;
  for (const r of list) newest = Math.max(newest, r.ts);
  return list
    .filter((r) => r.ts >= newest - toleranceMs && r.data.status === 'TRADING')
    .map((r) => r.key)
    .sort();
}

/** Every symbol exchangeInfo lists, whatever its status (one read, weight 1). */
export async function listedSymbols(deps: Deps<unknown>): Promise<string[]> {
  const info = await get<{ symbols: Array<{ symbol: string }> }>(deps, '/fapi/v1/exchangeInfo');
  return info.symbols.map((s) => s.symbol).sort();
}

/**
 * Per-source state kept in module scope, so a warm FC instance (or the next invocation of a
 * local replica) starts from what the previous invocation saw. Keyed by source: replicas of one
 * function in one process (the local stack) keep theirs apart.
 */
export function moduleState<S>(store: Map<string, S>, source: string, init: () => S): S {
  let s = store.get(source);
  if (s === undefined) {
    s = init();
    store.set(source, s);
  }
  return s;
}
