import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startAggregator } from '../aggregator/index.ts';
import { FuturesApi } from '../core/binance/endpoints.ts';
import { createClient } from '../core/binance/rest.ts';
import { createLogger } from '../core/log.ts';
import { AggregatorClient } from '../core/protocol/client.ts';
import { FUNCTION_NAMES, type FunctionName, type Plan, plan } from '../functions/plan.ts';
import { type RunningReaders, startReaders } from '../functions/scheduler.ts';
import { startSim } from '../sim/index.ts';
import { startGateway } from '../trader/gateway.ts';
import { startTrader } from '../trader/trader.ts';
import { type Command, UsageError, untilSignal } from './main.ts';
import { maskSecret, parseSimArgs } from './sim.ts';
import { formatTraderStatus } from './trader.ts';

// The whole fleet locally: simulator, aggregator, every reader (each replica on its own loopback
// address), the order gateway and a trader running the demo strategy, with a live status screen.

/** The trader's and the gateway's own egress addresses: their weight is not the readers'. */
const TRADER_ADDRESS = '127.0.1.1';
const GATEWAY_ADDRESS = '127.0.1.2';

export const DEFAULT_REPLICAS: Record<FunctionName, number> = {
  klines: 1,
  'klines-fast': 1,
  book: 4,
  volume: 1,
  'positions-account': 1,
  'positions-risk': 1,
  'positions-stream': 1,
  'open-orders': 1,
};

const STACK_FLAGS = {
  'aggregator-port': { type: 'string' },
  replicas: { type: 'string', multiple: true },
  'status-ms': { type: 'string' },
  'gateway-port': { type: 'string' },
  'trader-mode': { type: 'string' },
  'no-trader': { type: 'boolean' },
} as const;

const usage = `fleet stack [--port 8600] [--aggregator-port 8700] [--gateway-port 8800] [--replicas NAME=N]...
            [--trader-mode direct|gateway] [--no-trader] [--status-ms 1000]
            [simulator options, see fleet sim --help]

Starts the simulator (127.0.0.1:8600), the aggregator (127.0.0.1:8700), every reader on the
local scheduler, each replica bound to its own loopback address (127.0.0.2, .3, …), the order
gateway (127.0.0.1:8800) and a trader running the demo strategy on the simulator's first account
(sending directly by default, or through the gateway with --trader-mode gateway). Default
replicas: ${Object.entries(DEFAULT_REPLICAS)
  .map(([k, v]) => `${k}=${v}`)
  .join(' ')}.
Shows a live status (per reader: calls/min, weight used, errors; per topic: freshness), redrawn in
place on a terminal and as periodic lines otherwise. Ctrl-C (SIGINT) or SIGTERM stops everything.`;

export function splitStackArgs(args: string[]): { stack: string[]; sim: string[] } {
  const stack: string[] = [];
  const sim: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.replace(/^--/, '').split('=')[0];
    if (name in STACK_FLAGS) {
      stack.push(a);
      const boolean = STACK_FLAGS[name as keyof typeof STACK_FLAGS].type === 'boolean';
      if (!boolean && !a.includes('=')) stack.push(args[++i] ?? '');
    } else sim.push(a);
  }
  return { stack, sim };
}

export function parseReplicas(items: string[]): Record<FunctionName, number> {
  const out = { ...DEFAULT_REPLICAS };
  for (const item of items) {
    const [name, n] = item.split('=');
    if (!(FUNCTION_NAMES as readonly string[]).includes(name) || !/^\d+$/.test(n ?? ''))
      throw new UsageError(`--replicas NAME=N with NAME one of ${FUNCTION_NAMES.join(', ')}`);
    out[name as FunctionName] = Number(n);
  }
  return out;
}

export const STATUS_TOPICS = [
  'book',
  'kline.1m',
  'kline.1m.window',
  'volume',
  'symbols',
  'position',
  'balance',
  'orders.open',
];

/** Tracks, per topic, the interval between two updates of one key (the freshness the plan predicts). */
export class FreshnessMeter {
  private readonly last = new Map<string, number>();
  private readonly sums = new Map<string, { n: number; total: number }>();
  constructor(readonly client: AggregatorClient) {
    client.on('update', (topic, records) => {
      for (const r of records) {
        const k = `${topic}\u0000${r.key}`;
        const prev = this.last.get(k);
        this.last.set(k, r.receivedAt);
        if (prev === undefined) continue;
        let s = this.sums.get(topic);
        if (!s) {
          s = { n: 0, total: 0 };
          this.sums.set(topic, s);
        }
        s.n++;
        s.total += r.receivedAt - prev;
      }
    });
  }
  /** Mean interval (ms) between two updates of one key since the last call; NaN without data. */
  take(topic: string): number {
    const s = this.sums.get(topic);
    this.sums.delete(topic);
    return s && s.n > 0 ? s.total / s.n : Number.NaN;
  }
}

/** Planned freshness (ms) per status topic, from the plan (the slow kline readers' for kline.<interval>). */
export function plannedFreshness(p: Plan): Map<string, number> {
  return new Map(p.freshness.map((f) => [f.topic, f.plannedMs]));
}

const ms = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? String(Math.round(v)) : '-');

export function statusText(
  readers: RunningReaders,
  client: AggregatorClient,
  fresh: Map<string, number>,
  planned: Map<string, number> = new Map(),
): string {
  const lines = ['reader              address      calls/min  weight/min  errors  runs  last error'];
  for (const i of readers.instances) {
    const m = i.stats.perMinute();
    lines.push(
      `${i.config.source.padEnd(20)}${(i.address ?? '-').padEnd(13)}${String(m.calls).padStart(9)}${String(m.weight).padStart(12)}${String(i.stats.errors).padStart(8)}${String(i.stats.invocations).padStart(6)}  ${i.stats.lastError.slice(0, 40)}`,
    );
  }
  lines.push('', 'topic             keys   age of newest ms   interval per key ms   planned ms');
  for (const t of STATUS_TOPICS) {
    const age = client.receivedAge(t);
    lines.push(
      `${t.padEnd(16)}${String(client.records(t).size).padStart(6)}${ms(age).padStart(19)}${ms(fresh.get(t)).padStart(22)}${ms(planned.get(t)).padStart(13)}`,
    );
  }
  return lines.join('\n');
}

/** The periodic line without a terminal: totals, then each reader compactly, then freshness. */
export function statusLine(
  readers: RunningReaders,
  fresh: Map<string, number>,
  planned: Map<string, number> = new Map(),
): string {
  let calls = 0;
  let errors = 0;
  const per: string[] = [];
  for (const i of readers.instances) {
    const m = i.stats.perMinute();
    calls += m.calls;
    errors += i.stats.errors;
    per.push(`${i.config.source}=${m.calls}c/${m.weight}w/${i.stats.errors}e`);
  }
  const f = STATUS_TOPICS.filter((t) => fresh.has(t)).map(
    (t) => `${t}=${ms(fresh.get(t))}ms${planned.has(t) ? `(plan ${ms(planned.get(t))})` : ''}`,
  );
  return `status: readers ${readers.instances.length} calls/min ${calls} errors ${errors} | ${per.join(' ')} | freshness ${f.join(' ')}`;
}

/**
 * Closes everything in order, each step bounded by what is left of an overall deadline (at least
 * `minStepMs`): a step that fails or hangs is reported and the next one still runs. Returns the
 * steps that failed or timed out.
 */
export async function closeAll(
  steps: Array<[string, () => Promise<unknown>]>,
  opts: { deadlineMs: number; minStepMs?: number; onFailure?: (name: string, why: string) => void },
): Promise<string[]> {
  const end = Date.now() + opts.deadlineMs;
  const failed: string[] = [];
  for (const [name, close] of steps) {
    const budget = Math.max(opts.minStepMs ?? 500, end - Date.now());
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(close),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${budget} ms`)), budget);
        }),
      ]);
    } catch (err) {
      failed.push(name);
      opts.onFailure?.(name, err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  }
  return failed;
}

export const command: Command = {
  summary:
    'run the whole fleet locally: simulator, aggregator, readers, gateway, demo trader (what `npm start` runs)',
  usage,
  async run(args) {
    const split = splitStackArgs(args);
    const { values } = parseArgs({ args: split.stack, options: STACK_FLAGS, strict: true });
    const replicas = parseReplicas(values.replicas ?? []);
    const aggPort = Number(values['aggregator-port'] ?? 8700);
    if (!Number.isInteger(aggPort) || aggPort < 0 || aggPort > 65535)
      throw new UsageError('--aggregator-port 0..65535');
    const gwPort = Number(values['gateway-port'] ?? 8800);
    if (!Number.isInteger(gwPort) || gwPort < 0 || gwPort > 65535)
      throw new UsageError('--gateway-port 0..65535');
    const traderMode = values['trader-mode'] ?? 'direct';
    if (traderMode !== 'direct' && traderMode !== 'gateway')
      throw new UsageError('--trader-mode direct|gateway');
    const simOpts = stripUndefined(parseSimArgs(split.sim));
    // The stack's own readers, gateway and trader sign with the first account's secret.
    if (simOpts.accounts?.[0]?.ed25519PublicKey !== undefined)
      throw new UsageError(
        "fleet stack signs with the first account's HMAC secret: give an --api-key/--api-secret pair first",
      );
    // Whatever has started is closed, in reverse order, however the run ends (a failed start
    // too), each step bounded by an overall deadline; then the process exits.
    const steps: Array<[string, () => Promise<unknown>]> = [];
    let failure: unknown;
    try {
      await runStack(values, replicas, aggPort, gwPort, traderMode, simOpts, steps);
    } catch (err) {
      failure = err;
    } finally {
      const failed = await closeAll(steps.reverse(), {
        deadlineMs: SHUTDOWN_DEADLINE_MS,
        onFailure: (name, why) => console.error(`fleet stack: closing ${name} failed: ${why}`),
      });
      if (failure === undefined)
        console.log(failed.length === 0 ? 'fleet stack: stopped' : 'fleet stack: stopped with errors');
      if (failed.length > 0) process.exitCode = 1;
    }
    if (failure !== undefined) {
      if (failure instanceof UsageError) throw failure;
      console.error(`fleet stack: ${failure instanceof Error ? failure.message : String(failure)}`);
      process.exitCode = 1;
    }
    process.exit(process.exitCode ?? 0);
  },
};

/** Overall time for closing everything at shutdown. */
const SHUTDOWN_DEADLINE_MS = 20_000;

async function runStack(
  values: { 'status-ms'?: string; 'no-trader'?: boolean },
  replicas: Record<FunctionName, number>,
  aggPort: number,
  gwPort: number,
  traderMode: 'direct' | 'gateway',
  simOpts: Partial<ReturnType<typeof parseSimArgs>>,
  steps: Array<[string, () => Promise<unknown>]>,
): Promise<void> {
  const statusMs = Number(values['status-ms'] ?? 1000);
  if (!(statusMs >= 50)) throw new UsageError('--status-ms at least 50');
  const sim = await startSim({ port: 8600, ...simOpts });
  steps.push(['simulator', () => sim.close()]);
  const tokens = {
    collector: `collector-${randomBytes(12).toString('hex')}`,
    trader: `trader-${randomBytes(12).toString('hex')}`,
    admin: `admin-${randomBytes(12).toString('hex')}`,
  };
  const quiet = createLogger('stack', process.env.LOG_LEVEL ?? 'warn');
  const agg = await startAggregator({
    host: '127.0.0.1',
    port: aggPort,
    tokens: [
      { role: 'collector', token: tokens.collector },
      { role: 'trader', token: tokens.trader },
      { role: 'admin', token: tokens.admin },
    ],
    logger: quiet,
  });
  steps.push(['aggregator', () => agg.close()]);
  const account = sim.accounts[0];
  const readers = await startReaders({
    restUrl: sim.restUrl,
    wsUrl: sim.wsUrl,
    aggregatorUrl: agg.url,
    token: tokens.collector,
    apiKey: account.apiKey,
    apiSecret: account.apiSecret,
    replicas,
    env: simOpts.weightLimit ? { FLEET_WEIGHT_LIMIT: String(simOpts.weightLimit) } : undefined,
    logger: (src) => createLogger(`fn:${src}`, process.env.LOG_LEVEL ?? 'warn'),
  });
  steps.push(['readers', () => readers.stop()]);
  // The account's clients for the gateway and the trader, each on its own egress address.
  const account0 = { apiKey: account.apiKey, apiSecret: account.apiSecret };
  const gwRest = createClient({
    env: 'simulator',
    restUrl: sim.restUrl,
    ...account0,
    localAddress: GATEWAY_ADDRESS,
  });
  steps.push(['gateway client', () => gwRest.close()]);
  const gatewayToken = `gateway-${randomBytes(12).toString('hex')}`;
  const gateway = await startGateway({
    port: gwPort,
    tokens: [{ trader: 'demo', token: gatewayToken }],
    rest: gwRest,
    api: new FuturesApi(gwRest),
    userStreamWs: sim.wsUrl,
    // Bans, ALL and per-symbol notional enforced at the gateway too.
    aggregator: { url: agg.url, token: tokens.trader },
    logger: quiet,
  });
  steps.push(['gateway', () => gateway.close()]);
  const trRest = values['no-trader']
    ? undefined
    : createClient({ env: 'simulator', restUrl: sim.restUrl, ...account0, localAddress: TRADER_ADDRESS });
  if (trRest) steps.push(['trader client', () => trRest.close()]);
  const trader = trRest
    ? await startTrader({
        name: 'demo',
        aggregator: { url: agg.url, token: tokens.trader },
        mode: traderMode,
        rest: trRest,
        api: new FuturesApi(trRest),
        userStreamWs: sim.wsUrl,
        gateway: { url: gateway.url, token: gatewayToken },
        strategy: 'demo',
        logger: quiet,
      })
    : undefined;
  if (trader) steps.push(['trader', () => trader.close()]);
  const watcher = new AggregatorClient({ url: agg.url, token: tokens.trader });
  steps.push(['status client', () => watcher.close()]);
  const meter = new FreshnessMeter(watcher);
  watcher.on('error', () => undefined);
  await watcher.connect();
  await Promise.all(STATUS_TOPICS.map((t) => watcher.subscribe(t).catch(() => undefined)));
  const p = plan({
    replicas,
    symbols: simOpts.symbols ?? 200,
    fastSymbols: 16,
    weightLimit: simOpts.weightLimit,
  });
  const planned = plannedFreshness(p);
  const header = [
    'fleet stack',
    `  simulator   REST ${sim.restUrl}  WS ${sim.wsUrl}  control ${sim.restUrl}/sim`,
    ...sim.accounts.map((a) => `              account ${a.apiKey} / ${maskSecret(a.apiSecret)}`),
    `  aggregator  ${agg.url}  metrics ${agg.metricsUrl}`,
    `              trader token ${tokens.trader}`,
    `  readers     ${readers.instances.map((i) => `${i.config.source}@${i.address}`).join(' ')}`,
    `  gateway     ${gateway.url}  (trader token ${gatewayToken})`,
    `  trader      ${trader ? `demo strategy, ${traderMode}, from ${TRADER_ADDRESS}` : 'off (--no-trader)'}`,
    `  plan        ${p.readers.map((r) => `${r.fn} ${r.readsPerMin}/min`).join(', ')}`,
  ].join('\n');
  console.log(`${header}\nCtrl-C stops the stack.`);
  const traderLines = (): string => {
    const g = gateway.status();
    const gw = `gateway ${g.url}: traders ${g.traders} intents ${g.intents} netted ${g.netted} orders ${JSON.stringify(g.orders)}`;
    return trader ? `${formatTraderStatus(trader.status())}\n${gw}` : gw;
  };
  const tty = process.stdout.isTTY === true;
  const fresh = new Map<string, number>();
  let lastLine = 0;
  const timer = setInterval(() => {
    for (const t of STATUS_TOPICS) {
      const v = meter.take(t);
      if (Number.isFinite(v)) fresh.set(t, v);
    }
    if (tty)
      // The header (addresses, tokens) is redrawn with the status, so clearing never loses it.
      process.stdout.write(
        `\x1b[H\x1b[2J${header}\n\n${statusText(readers, watcher, fresh, planned)}\n\n${traderLines()}\n\nCtrl-C stops the stack.\n`,
      );
    else if (Date.now() - lastLine >= 10_000) {
      lastLine = Date.now();
      console.log(statusLine(readers, fresh, planned));
      console.log(traderLines());
    }
  }, statusMs);
  try {
    const sig = await untilSignal();
    console.log(`\nfleet stack: ${sig}, stopping`);
  } finally {
    clearInterval(timer);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
