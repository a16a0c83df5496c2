import { parseArgs } from 'node:util';
import { FuturesApi } from '../core/binance/endpoints.ts';
import { type BinanceRest, createClient } from '../core/binance/rest.ts';
import { type Endpoints, endpointsFromEnv, isLoopback } from '../core/binance/types.ts';
import { DEFAULT_ACCOUNT } from '../sim/index.ts';
import { tagsCollide } from '../trader/orders.ts';
import type { RiskLimits } from '../trader/risk.ts';
import { type RunningTrader, startTrader, type TraderOptions, type TraderStatus } from '../trader/trader.ts';
import { asUsage, type Command, UsageError, untilSignal } from './main.ts';

const usage = `fleet trader [options]

  --name N                 trader name, prefix of its client order ids (default trader1;
                           must not share the gateway's prefix: FLEET_GATEWAY_NAME, default gw)
  --aggregator URL         ws://host:port of the aggregator (default ws://127.0.0.1:8700)
  --mode direct|gateway    send orders itself, or through \`fleet gateway\` (default direct)
  --gateway URL            the gateway (default http://127.0.0.1:8800)
  --strategy S             built-in name (demo) or a module path exporting createStrategy
                           (default demo)
  --param K=V              a strategy parameter (repeatable; demo: openPct, closePct,
                           quoteSize, style, makerTimeoutMs)
  --symbols A,B,…          only these symbols (default: every symbol the aggregator has)
  --status-every S         print the status (positions, orders, PnL) every S seconds
                           (default 10; 0 = never)

Environment (flags win):
  FLEET_TRADER_NAME, FLEET_AGGREGATOR_URL, FLEET_TRADER_MODE, FLEET_GATEWAY_URL,
  FLEET_TRADER_STRATEGY, FLEET_TRADER_STRATEGY_PARAMS (JSON object), FLEET_TRADER_SYMBOLS
  FLEET_TRADER_AGGREGATOR_TOKEN   the trader-role token of the aggregator (required)
  FLEET_GATEWAY_TOKEN             this trader's gateway token (gateway mode)
  FLEET_EXCHANGE                  simulator (default: http://127.0.0.1:8600), demo or production
  FLEET_BINANCE_REST, FLEET_BINANCE_WS
                                  override the exchange's REST / WebSocket base
  BINANCE_API_KEY, BINANCE_API_SECRET
                                  the account, direct mode only (default on a loopback simulator:
                                  its built-in one); gateway mode needs no keys (the gateway has
                                  them; gaps are re-filled from public klines)
  FLEET_GATEWAY_NAME              the gateway's name (default gw): a trader name with the same
                                  client order id prefix is refused
  FLEET_TRADER_MAX_ORDER_NOTIONAL (1000), FLEET_TRADER_MAX_SYMBOL_NOTIONAL (2000),
  FLEET_TRADER_MAX_OPEN_POSITIONS (10), FLEET_TRADER_MAX_ORDERS_PER_SECOND (5),
  FLEET_TRADER_MAX_ORDERS_PER_MINUTE (60), FLEET_TRADER_MAX_BARS_AGE_MS (90000),
  FLEET_TRADER_MAX_BOOK_AGE_MS (5000)      pre-trade risk caps
  FLEET_TRADER_RECONCILE_MS (60000), FLEET_TRADER_ORPHANS adopt|cancel (adopt),
  FLEET_TRADER_JOURNAL            append order records (before sending) to this file

SIGTERM or SIGINT stops it (open orders stay; the next start reconciles them).`;

export interface BinanceSetup {
  rest: BinanceRest;
  api: FuturesApi;
  /** User-data stream base. */
  ws: string;
}

/**
 * The account's Binance client, by the same rule as the readers (`endpointsFromEnv`):
 * FLEET_EXCHANGE (simulator by default, demo, production), FLEET_BINANCE_REST / FLEET_BINANCE_WS
 * overrides, BINANCE_API_KEY and BINANCE_API_SECRET (default on a loopback simulator: its built-in
 * account).
 */
export function binanceFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  o: { signed?: boolean } = {},
): BinanceSetup {
  let endpoints: Endpoints;
  try {
    endpoints = endpointsFromEnv(env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { rest: restUrl, ws } = endpoints;
  if (o.signed === false) {
    // Public data only (klines): no key is read, none is needed.
    const rest = createClient({ endpoints, localAddress: env.FLEET_LOCAL_ADDRESS || undefined });
    return { rest, api: new FuturesApi(rest), ws };
  }
  const local = isLoopback(restUrl);
  const apiKey = env.BINANCE_API_KEY || (local ? DEFAULT_ACCOUNT.apiKey : undefined);
  const apiSecret = env.BINANCE_API_SECRET || (local ? DEFAULT_ACCOUNT.apiSecret : undefined);
  if (!apiKey || !apiSecret) throw new UsageError('set BINANCE_API_KEY and BINANCE_API_SECRET');
  const rest = createClient({
    endpoints,
    apiKey,
    apiSecret,
    localAddress: env.FLEET_LOCAL_ADDRESS || undefined,
  });
  return { rest, api: new FuturesApi(rest), ws };
}

function num(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${name} must be a non-negative number`);
  return n;
}

export function riskFromEnv(env: NodeJS.ProcessEnv, prefix = 'FLEET_TRADER_'): Partial<RiskLimits> {
  const out: Partial<RiskLimits> = {};
  const map: Array<[keyof RiskLimits, string]> = [
    ['maxOrderNotional', 'MAX_ORDER_NOTIONAL'],
    ['maxSymbolNotional', 'MAX_SYMBOL_NOTIONAL'],
    ['maxOpenPositions', 'MAX_OPEN_POSITIONS'],
    ['maxOrdersPerSecond', 'MAX_ORDERS_PER_SECOND'],
    ['maxOrdersPerMinute', 'MAX_ORDERS_PER_MINUTE'],
    ['maxBarsAgeMs', 'MAX_BARS_AGE_MS'],
    ['maxBookAgeMs', 'MAX_BOOK_AGE_MS'],
  ];
  for (const [k, e] of map) {
    const v = num(env, prefix + e);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export type TraderConfig = Omit<TraderOptions, 'rest' | 'api' | 'userStreamWs'> & { statusEverySec: number };

export function parseTraderArgs(args: string[], env: NodeJS.ProcessEnv = process.env): TraderConfig {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      aggregator: { type: 'string' },
      mode: { type: 'string' },
      gateway: { type: 'string' },
      strategy: { type: 'string' },
      param: { type: 'string', multiple: true },
      symbols: { type: 'string' },
      'status-every': { type: 'string' },
    },
    strict: true,
  });
  const mode = (values.mode ?? env.FLEET_TRADER_MODE ?? 'direct') as 'direct' | 'gateway';
  if (mode !== 'direct' && mode !== 'gateway') throw new UsageError('--mode is direct or gateway');
  const token = env.FLEET_TRADER_AGGREGATOR_TOKEN;
  if (!token) throw new UsageError('set FLEET_TRADER_AGGREGATOR_TOKEN (the aggregator trader-role token)');
  let params: Record<string, unknown> = {};
  if (env.FLEET_TRADER_STRATEGY_PARAMS) {
    try {
      params = JSON.parse(env.FLEET_TRADER_STRATEGY_PARAMS);
    } catch {
      throw new UsageError('FLEET_TRADER_STRATEGY_PARAMS must be a JSON object');
    }
  }
  for (const p of values.param ?? []) {
    const i = p.indexOf('=');
    if (i < 1) throw new UsageError('--param is K=V');
    params[p.slice(0, i)] = p.slice(i + 1);
  }
  const symbolsText = values.symbols ?? env.FLEET_TRADER_SYMBOLS;
  const symbols = symbolsText
    ? symbolsText
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
  const statusEverySec = Number(values['status-every'] ?? 10);
  if (!Number.isFinite(statusEverySec) || statusEverySec < 0)
    throw new UsageError('--status-every is seconds ≥ 0');
  const gatewayToken = env.FLEET_GATEWAY_TOKEN;
  if (mode === 'gateway' && !gatewayToken) throw new UsageError('gateway mode needs FLEET_GATEWAY_TOKEN');
  const orphans = env.FLEET_TRADER_ORPHANS as 'adopt' | 'cancel' | undefined;
  if (orphans !== undefined && orphans !== 'adopt' && orphans !== 'cancel')
    throw new UsageError('FLEET_TRADER_ORPHANS is adopt or cancel');
  const name = values.name ?? env.FLEET_TRADER_NAME ?? 'trader1';
  const gatewayName = env.FLEET_GATEWAY_NAME || 'gw';
  if (tagsCollide(name, gatewayName))
    throw new UsageError(
      `trader name ${name} would share the gateway's client order id prefix (gateway ${gatewayName}); pick another --name`,
    );
  return {
    name,
    aggregator: { url: values.aggregator ?? env.FLEET_AGGREGATOR_URL ?? 'ws://127.0.0.1:8700', token },
    mode,
    gateway:
      mode === 'gateway'
        ? { url: values.gateway ?? env.FLEET_GATEWAY_URL ?? 'http://127.0.0.1:8800', token: gatewayToken! }
        : undefined,
    strategy: values.strategy ?? env.FLEET_TRADER_STRATEGY ?? 'demo',
    strategyParams: params,
    symbols,
    limits: riskFromEnv(env),
    reconcileMs: num(env, 'FLEET_TRADER_RECONCILE_MS'),
    orphanPolicy: orphans,
    journalPath: env.FLEET_TRADER_JOURNAL || undefined,
    statusEverySec,
  };
}

/** One status line for the terminal: positions, orders and PnL. */
export function formatTraderStatus(s: TraderStatus): string {
  const pos = s.positions.map((p) => `${p.symbol} ${p.amt}@${p.entryPrice}`).join(' ') || 'flat';
  const orders =
    Object.entries(s.orders)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const refusals = Object.entries(s.refusals)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `trader ${s.name} (${s.mode}, ${s.strategy}) ${s.connected ? 'up' : 'DOWN'} · ${s.symbols} symbols · positions: ${pos} · uPnL ${s.pnl.toFixed(2)} USDT · orders: ${orders} · decision p99 ${s.decisionMs.p99.toFixed(2)} ms${refusals ? ` · refused: ${refusals}` : ''}`;
}

export const command: Command = {
  summary: 'run a trader: kline book from the aggregator, a strategy, pre-trade risk, orders',
  usage,
  async run(args) {
    const cfg = asUsage(() => parseTraderArgs(args));
    const { statusEverySec, ...opts } = cfg;
    // Gateway mode: the keys live in the gateway; an unsigned client re-fills gaps.
    const b = binanceFromEnv(process.env, { signed: opts.mode === 'direct' });
    let trader: RunningTrader;
    try {
      trader = await startTrader({
        ...opts,
        rest: b.rest,
        api: b.api,
        userStreamWs: opts.mode === 'direct' ? b.ws : undefined,
      });
    } catch (err) {
      await b.rest.close();
      throw err;
    }
    console.log(
      `fleet trader ${opts.name}: ${opts.mode} mode, strategy ${trader.strategy.name}, aggregator ${opts.aggregator.url}`,
    );
    const timer =
      statusEverySec > 0
        ? setInterval(() => console.log(formatTraderStatus(trader.status())), statusEverySec * 1000)
        : undefined;
    const sig = await untilSignal();
    clearInterval(timer);
    console.log(`fleet trader: ${sig}, stopping`);
    console.log(formatTraderStatus(trader.status()));
    await trader.close();
    await b.rest.close();
  },
};
