import { parseArgs } from 'node:util';
import { type GatewayOptions, type GatewayToken, startGateway } from '../trader/gateway.ts';
import { asUsage, type Command, UsageError, untilSignal } from './main.ts';
import { binanceFromEnv, riskFromEnv } from './trader.ts';

const usage = `fleet gateway [options]

  --host H                 listen address (default 127.0.0.1)
  --port P                 HTTP port (default 8800; 0 = any free port)
  --token TRADER:SECRET    a trader and its Bearer token (repeatable)
  --net-window-ms N        identical intents within N ms become one order (default 250)
  --name N                 the gateway's name, prefix of its client order ids (default gw);
                           a trader token whose name shares that prefix is refused
  --aggregator-url URL     the aggregator (ws://host:port): bans, ALL and positions for the
                           gateway's pre-trade risk (without it bans are not enforced here)
  --aggregator-token T     a trader-role token of the aggregator

Environment (flags win; tokens from both are combined):
  FLEET_GATEWAY_TOKENS     comma-separated TRADER:SECRET list
  FLEET_GATEWAY_HOST, FLEET_GATEWAY_PORT, FLEET_GATEWAY_NET_WINDOW_MS, FLEET_GATEWAY_NAME,
  FLEET_GATEWAY_AGGREGATOR_URL, FLEET_GATEWAY_AGGREGATOR_TOKEN
  FLEET_EXCHANGE (simulator|demo|production), FLEET_BINANCE_REST, FLEET_BINANCE_WS,
  BINANCE_API_KEY, BINANCE_API_SECRET
                           the account whose orders (and order-rate pools) the gateway owns
                           (default: the local simulator and its built-in account)
  FLEET_GATEWAY_MAX_ORDER_NOTIONAL, FLEET_GATEWAY_MAX_SYMBOL_NOTIONAL (with an aggregator),
  FLEET_GATEWAY_MAX_ORDERS_PER_SECOND, FLEET_GATEWAY_MAX_ORDERS_PER_MINUTE   the gateway's own caps
  FLEET_GATEWAY_JOURNAL    append order records (before sending) to this file

Routes: POST /v1/intents, GET /v1/orders[?symbol=&active=true], GET /v1/orders/:clientOrderId
(a trader sees only the orders carrying its intents), GET /v1/events, GET /v1/status (all with
Authorization: Bearer <token>), GET /healthz. One token per trader: a token given to two traders
is refused.`;

export function parseGatewayTokens(items: string[]): GatewayToken[] {
  const out: GatewayToken[] = [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === '') continue;
    const i = item.indexOf(':');
    const trader = i < 0 ? '' : item.slice(0, i);
    const token = i < 0 ? '' : item.slice(i + 1);
    if (!/^[A-Za-z0-9._-]{1,32}$/.test(trader))
      throw new UsageError('a token is TRADER:SECRET, TRADER of A-Z a-z 0-9 . _ -');
    if (!/^[\x21-\x7e]{8,}$/.test(token) || token.includes(','))
      throw new UsageError(
        `the token of ${trader} must be 8 or more printable ASCII characters without commas`,
      );
    out.push({ trader, token });
  }
  return out;
}

export function parseGatewayArgs(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Omit<GatewayOptions, 'rest' | 'api'> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      token: { type: 'string', multiple: true },
      'net-window-ms': { type: 'string' },
      name: { type: 'string' },
      'aggregator-url': { type: 'string' },
      'aggregator-token': { type: 'string' },
    },
    strict: true,
  });
  const tokens = [
    ...parseGatewayTokens(values.token ?? []),
    ...parseGatewayTokens((env.FLEET_GATEWAY_TOKENS ?? '').split(',')),
  ];
  if (tokens.length === 0)
    throw new UsageError('give at least one --token TRADER:SECRET (or FLEET_GATEWAY_TOKENS)');
  const port = Number(values.port ?? (env.FLEET_GATEWAY_PORT || 8800));
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError('--port must be an integer in 0..65535');
  const win = Number(values['net-window-ms'] ?? (env.FLEET_GATEWAY_NET_WINDOW_MS || 250));
  if (!Number.isFinite(win) || win < 0) throw new UsageError('--net-window-ms must be ≥ 0');
  const name = values.name ?? (env.FLEET_GATEWAY_NAME || 'gw');
  if (!/^[A-Za-z0-9._-]{1,32}$/.test(name)) throw new UsageError('--name is 1-32 of A-Z a-z 0-9 . _ -');
  const aggUrl = values['aggregator-url'] ?? (env.FLEET_GATEWAY_AGGREGATOR_URL || undefined);
  const aggToken = values['aggregator-token'] ?? (env.FLEET_GATEWAY_AGGREGATOR_TOKEN || undefined);
  if ((aggUrl === undefined) !== (aggToken === undefined))
    throw new UsageError('--aggregator-url and --aggregator-token go together');
  return {
    name,
    aggregator: aggUrl && aggToken ? { url: aggUrl, token: aggToken } : undefined,
    host: values.host ?? (env.FLEET_GATEWAY_HOST || '127.0.0.1'),
    port,
    tokens,
    netWindowMs: win,
    limits: riskFromEnv(env, 'FLEET_GATEWAY_'),
    journalPath: env.FLEET_GATEWAY_JOURNAL || undefined,
  };
}

export const command: Command = {
  summary: 'run the order gateway: authenticated intents → netted, rounded orders (HTTP, :8800)',
  usage,
  async run(args) {
    const opts = asUsage(() => parseGatewayArgs(args));
    const b = binanceFromEnv();
    let gw: Awaited<ReturnType<typeof startGateway>>;
    try {
      gw = await startGateway({ ...opts, rest: b.rest, api: b.api, userStreamWs: b.ws });
    } catch (err) {
      await b.rest.close();
      throw err instanceof TypeError ? new UsageError(err.message) : err;
    }
    console.log(
      `fleet gateway ${opts.name}: listening on ${gw.url}  (${opts.tokens.length} trader tokens, net window ${opts.netWindowMs} ms, ${opts.aggregator ? `bans from ${opts.aggregator.url}` : 'no aggregator: bans not enforced here'})`,
    );
    const sig = await untilSignal();
    console.log(`fleet gateway: ${sig}, stopping`);
    await gw.close();
    await b.rest.close();
  },
};
