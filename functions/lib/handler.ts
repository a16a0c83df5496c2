// The thin FC layer: configuration from environment variables, the nodejs20 handler
// `(event, context) => result`, and a bounded invocation. A timer trigger fires every
// FLEET_TRIGGER_PERIOD_S (default 60, `@every 1m`); the run ends FLEET_RUN_MARGIN_MS (default
// 2000: a run uses about 58 s of 60) before the next firing, and every step of it is bounded (the
// clock sync, each read: lib/common.ts get(), the final flush), so two runs of one replica never
// overlap (FC adds reservedConcurrency 1; a firing that finds the previous run still going
// returns at once). The Binance client (keep-alive pool,
// synced clock) survives between invocations of a warm instance; the aggregator connection is
// opened and closed per invocation (a frozen instance must not hold a socket).

import { z } from 'zod';
import { type BinanceRest, createClient } from '../../core/binance/rest.ts';
import { endpointsFromEnv } from '../../core/binance/types.ts';
import { createLogger, type Logger } from '../../core/log.ts';
import { AggregatorClient } from '../../core/protocol/client.ts';
import { activeMsPerMin, type FunctionName, periodFor, slotOffset } from '../plan.ts';
import {
  atMost,
  type BaseConfig,
  clockOf,
  type Deps,
  MIN_READ_MS,
  ReaderStats,
  type RunResult,
  sleep,
} from './common.ts';

export type Env = Record<string, string | undefined>;

export interface FunctionDef<C> {
  name: FunctionName;
  /** Whether it reads the account (needs BINANCE_API_KEY / BINANCE_API_SECRET). */
  account: boolean;
  /** The function's own settings from the environment. */
  config(env: Env): C;
  run(deps: Deps<C>, until: number): Promise<RunResult>;
}

const Num = (def: number, min = 0) => z.coerce.number().min(min).default(def);

/** Environment of every function (documented in .env.example). */
export const EnvSchema = z
  .object({
    FLEET_EXCHANGE: z.string().optional(),
    FLEET_BINANCE_REST: z.string().url().optional(),
    FLEET_BINANCE_WS: z.string().optional(),
    BINANCE_API_KEY: z.string().optional(),
    BINANCE_API_SECRET: z.string().optional(),
    FLEET_LOCAL_ADDRESS: z.string().optional(),
    FLEET_AGGREGATOR_URL: z.string().default('ws://127.0.0.1:8700'),
    FLEET_AGGREGATOR_TOKEN: z.string().min(1),
    FLEET_SOURCE: z.string().optional(),
    FLEET_REPLICA: z.coerce.number().int().min(0).default(0),
    FLEET_REPLICAS: z.coerce.number().int().min(1).default(1),
    FLEET_WEIGHT_LIMIT: Num(2400, 1),
    FLEET_BUDGET_SHARE: z.coerce.number().gt(0).max(1).default(0.96),
    FLEET_PERIOD_MS: z.coerce.number().positive().optional(),
    FLEET_TRIGGER_PERIOD_S: Num(60, 1),
    FLEET_RUN_MARGIN_MS: Num(2000),
    FLEET_RUN_SECONDS: z.coerce.number().positive().optional(),
  })
  .refine((e) => e.FLEET_REPLICA < e.FLEET_REPLICAS, {
    message: 'FLEET_REPLICA is 0-based: it must be less than FLEET_REPLICAS',
    path: ['FLEET_REPLICA'],
  });
/** The parsed environment, with the exchange resolved by the one rule of `endpointsFromEnv`. */
export type FleetEnv = z.infer<typeof EnvSchema> & { FLEET_BINANCE_REST: string; FLEET_BINANCE_WS: string };

export function parseEnv(env: Env): FleetEnv {
  const r = EnvSchema.safeParse(env);
  if (!r.success)
    throw new Error(
      `configuration: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const ends = endpointsFromEnv(r.data);
  return { ...r.data, FLEET_BINANCE_REST: ends.rest, FLEET_BINANCE_WS: ends.ws };
}

export function baseConfig(name: FunctionName, e: FleetEnv): BaseConfig {
  const periodMs =
    e.FLEET_PERIOD_MS ??
    periodFor(
      name,
      e.FLEET_WEIGHT_LIMIT,
      e.FLEET_BUDGET_SHARE,
      activeMsPerMin(e.FLEET_TRIGGER_PERIOD_S, e.FLEET_RUN_MARGIN_MS),
    );
  return {
    fn: name,
    source: e.FLEET_SOURCE ?? `${name}@${e.FLEET_REPLICA}`,
    replica: e.FLEET_REPLICA,
    replicas: e.FLEET_REPLICAS,
    periodMs,
    slotOffsetMs: name === 'book' ? slotOffset(periodMs, e.FLEET_REPLICA, e.FLEET_REPLICAS) : 0,
    wsBase: e.FLEET_BINANCE_WS,
  };
}

export interface TimerEvent {
  triggerTime?: string;
  triggerName?: string;
  payload?: string;
}

export function parseEvent(event: unknown): TimerEvent {
  try {
    if (Buffer.isBuffer(event)) return JSON.parse(event.toString()) as TimerEvent;
    if (typeof event === 'string') return JSON.parse(event) as TimerEvent;
    if (event && typeof event === 'object') return event as TimerEvent;
  } catch {
    // not JSON: an invocation without a timer event
  }
  return {};
}

/** One replica of a function: its handler plus what the local stack looks at. */
export interface Instance {
  readonly name: FunctionName;
  readonly config: BaseConfig;
  readonly stats: ReaderStats;
  readonly address: string | undefined;
  /** The FC handler. */
  handler(event: unknown, context?: unknown): Promise<RunResult | { skipped: string }>;
  /** Whether an invocation is under way. */
  readonly running: boolean;
  /** The Binance client (after the first invocation). */
  readonly rest: BinanceRest | undefined;
  /** Ends the current run early and closes the clients. */
  close(): Promise<void>;
}

export function createInstance<C>(def: FunctionDef<C>, env: Env, opts: { logger?: Logger } = {}): Instance {
  const e = parseEnv(env);
  const own = def.config(env);
  const base = baseConfig(def.name, e);
  const log = opts.logger ?? createLogger(`fn:${base.source}`);
  if (def.account && !(e.BINANCE_API_KEY && e.BINANCE_API_SECRET))
    throw new Error(`${def.name} reads the account: set BINANCE_API_KEY and BINANCE_API_SECRET`);
  const stats = new ReaderStats();
  /** The handler's result: this invocation's own figures (the stats keep the running totals). */
  const perInvocation = (before: Counts): RunResult => ({
    fn: base.fn,
    source: base.source,
    calls: stats.calls - before.calls,
    weight: stats.weight - before.weight,
    errors: stats.errors - before.errors,
    records: stats.records - before.records,
    skipped: stats.skipped - before.skipped,
  });
  let rest: BinanceRest | undefined;
  let running = false;
  let abort = new AbortController();
  let closed = false;

  return {
    name: def.name,
    config: base,
    stats,
    address: e.FLEET_LOCAL_ADDRESS,
    get running() {
      return running;
    },
    get rest() {
      return rest;
    },
    async handler(event) {
      if (running) return { skipped: 'the previous run of this replica is still going' };
      if (closed) return { skipped: 'closed' };
      running = true;
      stats.invocations++;
      const before = snapshot(stats);
      const firedAt = Date.now();
      const ev = parseEvent(event);
      const trigger = ev.triggerTime ? Date.parse(ev.triggerTime) : Number.NaN;
      const start = Number.isFinite(trigger) && Math.abs(trigger - firedAt) < 60_000 ? trigger : firedAt;
      let endLocal = start + e.FLEET_TRIGGER_PERIOD_S * 1000 - e.FLEET_RUN_MARGIN_MS;
      if (e.FLEET_RUN_SECONDS !== undefined)
        endLocal = Math.min(endLocal, firedAt + e.FLEET_RUN_SECONDS * 1000);
      let agg: AggregatorClient | undefined;
      try {
        rest ??= createClient({
          restUrl: e.FLEET_BINANCE_REST,
          apiKey: e.BINANCE_API_KEY,
          apiSecret: e.BINANCE_API_SECRET,
          localAddress: e.FLEET_LOCAL_ADDRESS,
          weightLimit: e.FLEET_WEIGHT_LIMIT,
          logger: log,
        });
        const r = rest;
        stats.call(1);
        // Bounded like every read: a clock sync still under way at the end gives up the run.
        const sync = r.syncClock().then(() => true);
        sync.catch(() => undefined);
        const synced = await Promise.race([
          sync,
          sleep(endLocal - MIN_READ_MS - Date.now(), abort.signal).then(() => false),
        ]);
        if (!synced || endLocal - Date.now() < MIN_READ_MS) {
          stats.skipped++;
          return perInvocation(before);
        }
        const until = endLocal + (r.now() - Date.now());
        const client = new AggregatorClient({
          url: e.FLEET_AGGREGATOR_URL,
          token: e.FLEET_AGGREGATOR_TOKEN,
          source: base.source,
          now: () => r.now(),
          reconnect: { baseMs: 100, maxMs: 2000 },
          requestTimeoutMs: 3000,
          heartbeatMs: 2000,
        });
        agg = client;
        client.on('error', (err) => log.debug({ err: err.message }, 'aggregator connection'));
        client.connect().catch(() => undefined);
        const deps: Deps<C> = {
          rest: r,
          agg: client,
          config: { ...base, ...own },
          clock: clockOf(r),
          log,
          stats,
          signal: abort.signal,
          endsAt: endLocal,
        };
        await def.run(deps, until);
        return perInvocation(before);
      } catch (err) {
        stats.error(err);
        log.error({ err: stats.lastError }, `${base.source}: invocation failed`);
        throw err;
      } finally {
        if (agg) {
          // Half the margin at most, and never past the next firing.
          const a = agg;
          const left = Math.min(1000, endLocal + e.FLEET_RUN_MARGIN_MS / 2 - Date.now());
          await atMost(
            a.flush(Math.max(0, left)).finally(() => a.close()),
            Math.max(0, left) + 100,
          );
        }
        running = false;
      }
    },
    async close() {
      closed = true;
      abort.abort(new Error('closing'));
      const deadline = Date.now() + 15_000;
      while (running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await rest?.close();
      abort = new AbortController();
    },
  };
}

type Counts = Pick<ReaderStats, 'calls' | 'weight' | 'errors' | 'records' | 'skipped'>;

function snapshot(s: ReaderStats): Counts {
  return { calls: s.calls, weight: s.weight, errors: s.errors, records: s.records, skipped: s.skipped };
}

/** The FC entry point of a function: `export const handler = fcHandler(def)`. */
export function fcHandler<C>(def: FunctionDef<C>): (event: unknown, context?: unknown) => Promise<unknown> {
  let inst: Instance | undefined;
  return (event, context) => {
    inst ??= createInstance(def, process.env);
    return inst.handler(event, context);
  };
}
