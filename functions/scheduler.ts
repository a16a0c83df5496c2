// The local scheduler: fires the same FC handlers on the same trigger as FC would (`@every`
// FLEET_TRIGGER_PERIOD_S, the first firing at start), with the timer event FC sends
// ({triggerTime, triggerName, payload}). A firing that finds the replica's previous run still
// going is skipped, as reservedConcurrency 1 would. `startReaders` builds every replica of a
// local fleet, each bound to its own loopback address (127.0.0.2, .3, …), so the simulator counts
// their weight separately as Binance counts distinct egress IPs.

import type { Logger } from '../core/log.ts';
import { createInstance, type Env, type Instance } from './lib/handler.ts';
import { FUNCTION_NAMES, type FunctionName } from './plan.ts';
import { FUNCTIONS } from './registry.ts';

export interface ScheduledJob {
  name: string;
  everyMs: number;
  fire(event: Buffer): Promise<unknown>;
}

export class Scheduler {
  readonly fired = new Map<string, number>();
  readonly skipped = new Map<string, number>();
  /** The pending timer of each job (one at a time: the list never grows). */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(private readonly jobs: ScheduledJob[]) {}

  /** Pending timers (one per job while started). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  start(): void {
    for (const job of this.jobs) {
      const t0 = Date.now();
      let k = 0;
      const tick = () => {
        if (this.stopped) return;
        this.fire(job, t0 + k * job.everyMs);
        k++;
        this.timers.set(job.name, setTimeout(tick, Math.max(0, t0 + k * job.everyMs - Date.now())));
      };
      tick();
    }
  }

  private fire(job: ScheduledJob, at: number): void {
    if (this.running.has(job.name)) {
      this.skipped.set(job.name, (this.skipped.get(job.name) ?? 0) + 1);
      return;
    }
    this.fired.set(job.name, (this.fired.get(job.name) ?? 0) + 1);
    const event = Buffer.from(
      JSON.stringify({ triggerTime: new Date(at).toISOString(), triggerName: 'tick', payload: job.name }),
    );
    const p = job
      .fire(event)
      .catch(() => undefined)
      .finally(() => this.running.delete(job.name));
    this.running.set(job.name, p);
  }

  /** Stops firing (the runs under way go on). */
  halt(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Stops firing and waits for the runs under way (end them first, e.g. Instance.close()). */
  async stop(): Promise<void> {
    this.halt();
    await Promise.all(this.running.values());
  }
}

export interface ReadersOptions {
  restUrl: string;
  wsUrl: string;
  aggregatorUrl: string;
  /** A collector token of the aggregator. */
  token: string;
  apiKey?: string;
  apiSecret?: string;
  replicas: Partial<Record<FunctionName, number>>;
  /** First loopback address's last octet (default 2: 127.0.0.2). */
  firstAddress?: number;
  /** Extra environment for every replica (FLEET_WEIGHT_LIMIT, FLEET_KLINE_INTERVAL, …). */
  env?: Env;
  logger?: (source: string) => Logger;
}

export interface RunningReaders {
  instances: Instance[];
  scheduler: Scheduler;
  stop(): Promise<void>;
}

export async function startReaders(opts: ReadersOptions): Promise<RunningReaders> {
  const instances: Instance[] = [];
  let octet = opts.firstAddress ?? 2;
  const total = FUNCTION_NAMES.reduce((n, f) => n + Math.max(0, opts.replicas[f] ?? 0), 0);
  if (total > 0 && octet + total - 1 > 255)
    throw new RangeError(
      `${total} replicas from 127.0.0.${octet} need addresses past 127.0.0.255: fewer replicas or a lower first address`,
    );
  for (const name of FUNCTION_NAMES) {
    const n = opts.replicas[name] ?? 0;
    if (n <= 0) continue;
    const def = await FUNCTIONS[name]();
    for (let i = 0; i < n; i++) {
      const address = `127.0.0.${octet++}`;
      const env: Env = {
        FLEET_BINANCE_REST: opts.restUrl,
        FLEET_BINANCE_WS: opts.wsUrl,
        FLEET_AGGREGATOR_URL: opts.aggregatorUrl,
        FLEET_AGGREGATOR_TOKEN: opts.token,
        BINANCE_API_KEY: opts.apiKey,
        BINANCE_API_SECRET: opts.apiSecret,
        FLEET_LOCAL_ADDRESS: address,
        FLEET_REPLICA: String(i),
        FLEET_REPLICAS: String(n),
        ...opts.env,
      };
      instances.push(createInstance(def, env, { logger: opts.logger?.(`${name}@${i}`) }));
    }
  }
  const period = Number(opts.env?.FLEET_TRIGGER_PERIOD_S ?? 60) * 1000;
  const scheduler = new Scheduler(
    instances.map((inst) => ({
      name: inst.config.source,
      everyMs: period,
      fire: (event: Buffer) => inst.handler(event),
    })),
  );
  scheduler.start();
  return {
    instances,
    scheduler,
    async stop() {
      scheduler.halt(); // no firing after this: every firing reaches an open handler
      await Promise.all(instances.map((i) => i.close()));
      await scheduler.stop();
    },
  };
}
