// The order gateway (`fleet gateway`): the predecessor's web server, done right (DESIGN §7).
//
// - HTTP (Fastify) on 127.0.0.1:8800 by default; every route but /healthz needs
//   `Authorization: Bearer <token>`, and the token names the trader.
// - POST /v1/intents: validated with zod, checked against the gateway's own caps (notional per
//   order, order rate), sized and rounded to the symbol's filters in exact arithmetic (RulesBook),
//   and placed through the gateway's order tracker (deterministic client order ids recorded
//   before sending, unknown outcomes settled by query, never a blind resend).
// - Netting: identical intents (symbol, action, side, size, style) from several traders within
//   `netWindowMs` become one order: the first arrival is sent at once, later ones are attributed
//   to it, and every trader is told which order carries its intent. A trader repeating its own
//   intent key gets the same answer (idempotent).
// - The gateway owns the account's order pools: one Binance client (one throttler) for every
//   trader behind it. GET /v1/orders/:clientOrderId and GET /v1/orders answer order status.

import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { FuturesApi } from '../core/binance/endpoints.ts';
import { OrderNotFoundError } from '../core/binance/errors.ts';
import { RulesBook } from '../core/binance/filters.ts';
import type { BinanceRest } from '../core/binance/rest.ts';
import { UserStream } from '../core/binance/user-stream.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { clientOrderId, intentId, prepareOrder, type Quote } from './orders.ts';
import { PreTradeRisk, type RiskLimits } from './risk.ts';
import type { Intent } from './strategy.ts';
import { isFinal, OrderTracker, type TrackedOrder } from './tracker.ts';

export interface GatewayToken {
  token: string;
  /** The trader this token speaks for. */
  trader: string;
}

export interface GatewayOptions {
  host?: string;
  /** Default 8800; 0 picks a free port. */
  port?: number;
  tokens: GatewayToken[];
  rest: BinanceRest;
  api: FuturesApi;
  /** The gateway's name: the prefix of its client order ids (default "gw"). */
  name?: string;
  /** Identical intents within this window become one order (default 250 ms). */
  netWindowMs?: number;
  /** How long POST /v1/intents waits for the exchange's answer before replying (default 3 s). */
  answerWaitMs?: number;
  limits?: Partial<RiskLimits>;
  /** Reconciliation period (default 60 s; 0 = only at start). */
  reconcileMs?: number;
  userStreamWs?: string;
  journalPath?: string;
  logger?: Logger;
}

export interface GatewayStatus {
  url: string;
  traders: number;
  intents: number;
  netted: number;
  /** Retried intents whose order already existed (adopted, not placed again). */
  retriesFound: number;
  orders: Record<string, number>;
  refusals: Record<string, number>;
}

export interface RunningGateway {
  url: string;
  host: string;
  port: number;
  tracker: OrderTracker;
  status(): GatewayStatus;
  close(): Promise<void>;
}

const Dec = z.string().regex(/^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/, 'a positive decimal string');
const PriceLike = z.union([z.number().positive().finite(), Dec]);

export const IntentBody = z.strictObject({
  key: z.string().regex(/^[\x21-\x7e]{1,100}$/, '1-100 printable ASCII characters'),
  symbol: z.string().regex(/^[A-Z0-9]{1,30}$/, 'a symbol'),
  action: z.enum(['open', 'close', 'adjust']),
  side: z.enum(['BUY', 'SELL']),
  size: z.union([z.strictObject({ quote: Dec }), z.strictObject({ base: Dec })]),
  style: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('taker') }),
    z.strictObject({
      kind: z.literal('maker'),
      timeoutMs: z.int().min(100).max(3_600_000),
      thenTaker: z.boolean(),
    }),
  ]),
  refPrice: z.number().positive().finite().optional(),
  quote: z
    .strictObject({ bid: PriceLike.optional(), ask: PriceLike.optional(), last: PriceLike.optional() })
    .optional(),
  reason: z.string().max(500).optional(),
  /**
   * The trader asks again after losing the answer (network error, 5xx, gateway restart): the
   * gateway first looks for the order under its deterministic id before placing anything.
   */
  retry: z.boolean().optional(),
  /** With retry: false = only look the order up; answer 404 `not-placed` when it does not exist. */
  placeIfMissing: z.boolean().optional(),
});
export type IntentBody = z.infer<typeof IntentBody>;

export interface IntentAnswer {
  clientOrderId: string;
  /** This intent rides on an order another trader's intent created. */
  netted: boolean;
  carrier: { trader: string; key: string };
  state: TrackedOrder['state'];
  order: TrackedOrder;
}

interface NetEntry {
  clientOrderId: string;
  at: number;
  carrier: { trader: string; key: string };
  attributed: Array<{ trader: string; key: string }>;
}

export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const log = opts.logger ?? createLogger('gateway');
  const name = opts.name ?? 'gw';
  const netWindowMs = opts.netWindowMs ?? 250;
  const answerWaitMs = opts.answerWaitMs ?? 3000;
  if (opts.tokens.length === 0) throw new TypeError('the gateway needs at least one token');
  const tokens = opts.tokens.map((t) => ({ ...t, buf: Buffer.from(t.token) }));
  const rules = await RulesBook.load(opts.api);
  const tracker = new OrderTracker({ api: opts.api, trader: name, log, journalPath: opts.journalPath });
  const risk = new PreTradeRisk(opts.limits, log);
  const net = new Map<string, NetEntry>();
  const byTraderKey = new Map<string, string>();
  const carriers = new Map<string, NetEntry>();
  const traders = new Set<string>();
  let intents = 0;
  let netted = 0;
  let retriesFound = 0;

  await tracker.reconcile();
  let userStream: UserStream | undefined;
  if (opts.userStreamWs) {
    userStream = new UserStream({ rest: opts.rest, wsBase: opts.userStreamWs, log, deleteOnClose: false });
    userStream.on('event', (ev) => tracker.onUserEvent(ev));
    userStream.on('gap', () => void tracker.reconcile().catch(() => {}));
    userStream.on('error', (err) => log.debug({ err: err.message }, 'user stream'));
    await userStream.start();
  }
  const reconcileMs = opts.reconcileMs ?? 60_000;
  const reconcileTimer =
    reconcileMs > 0
      ? setInterval(
          () => void tracker.reconcile().catch((err) => log.warn({ err: String(err) }, 'reconcile failed')),
          reconcileMs,
        )
      : undefined;

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

  const authOf = (req: FastifyRequest): string | undefined => {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return undefined;
    const given = Buffer.from(h.slice(7));
    let who: string | undefined;
    for (const t of tokens)
      if (t.buf.length === given.length && timingSafeEqual(t.buf, given)) who = t.trader;
    return who;
  };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.url === '/healthz') return;
    const trader = authOf(req);
    if (trader === undefined) {
      reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', msg: 'a valid Bearer token is required' });
      return reply;
    }
    (req as FastifyRequest & { trader?: string }).trader = trader;
  });

  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    reply.code(status).send({ error: status === 500 ? 'internal' : 'bad-request', msg: err.message });
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.post('/v1/intents', async (req, reply) => {
    const trader = (req as FastifyRequest & { trader: string }).trader;
    const parsed = IntentBody.safeParse(req.body);
    if (!parsed.success) {
      return reply.code(400).send({
        error: 'invalid',
        issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), msg: i.message })),
      });
    }
    const body = parsed.data;
    intents++;
    traders.add(trader);
    const own = `${trader}\u0000${intentId(body)}`;
    const known = byTraderKey.get(own);
    if (known) return answer(known, trader, body.key);
    if (!rules.has(body.symbol))
      return reply.code(422).send({ error: 'rejected', code: -1121, msg: `unknown symbol ${body.symbol}` });
    const intentKey = `${trader}:${intentId(body)}`;
    const id = clientOrderId(name, intentKey);
    if (body.retry || body.placeIfMissing === false) {
      // Placed before we lost track of it (a restart)? Adopt it rather than place it again.
      try {
        const x = await opts.api.getOrder({ symbol: body.symbol, origClientOrderId: id });
        tracker.adopt(x, intentKey);
        carriers.set(id, {
          clientOrderId: id,
          at: Date.now(),
          carrier: { trader, key: body.key },
          attributed: [],
        });
        byTraderKey.set(own, id);
        retriesFound++;
        log.info({ trader, key: body.key, clientOrderId: id }, 'retried intent: its order exists; adopted');
        return answer(id, trader, body.key);
      } catch (err) {
        if (!(err instanceof OrderNotFoundError))
          return reply.code(503).send({
            error: 'unavailable',
            msg: `cannot check for an earlier order of this intent: ${(err as Error).message}`,
          });
        if (body.placeIfMissing === false)
          return reply.code(404).send({ error: 'not-placed', msg: 'no order exists for this intent' });
      }
    }

    const netKey = JSON.stringify([body.symbol, body.action, body.side, body.size, body.style]);
    const t = Date.now();
    const entry = net.get(netKey);
    if (entry && t - entry.at <= netWindowMs) {
      entry.attributed.push({ trader, key: body.key });
      byTraderKey.set(own, entry.clientOrderId);
      netted++;
      return answer(entry.clientOrderId, trader, body.key);
    }

    const intent: Intent = { ...body };
    let quote: Quote = body.quote ?? {};
    if (quote.last === undefined) quote = { ...quote, last: body.refPrice };
    if (quote.last === undefined && (quote.bid === undefined || quote.ask === undefined)) {
      const bt = await opts.api.bookTicker(body.symbol);
      quote = { bid: bt.bidPrice, ask: bt.askPrice, last: quote.last };
    }
    const price = Number(quote.last ?? (Number(quote.bid) + Number(quote.ask)) / 2);
    const verdict = risk.check(intent, price);
    if (!verdict.ok)
      return reply.code(422).send({ error: 'refused', cause: verdict.cause, msg: verdict.detail });
    const prepared = prepareOrder(intent, rules, quote, id);
    if (!prepared.ok)
      return reply.code(422).send({ error: 'rejected', code: prepared.code, msg: prepared.reason });
    // Another identical intent may have arrived while the book ticker was fetched.
    const raced = net.get(netKey);
    if (raced && Date.now() - raced.at <= netWindowMs) {
      raced.attributed.push({ trader, key: body.key });
      byTraderKey.set(own, raced.clientOrderId);
      netted++;
      return answer(raced.clientOrderId, trader, body.key);
    }
    const e: NetEntry = { clientOrderId: id, at: t, carrier: { trader, key: body.key }, attributed: [] };
    net.set(netKey, e);
    carriers.set(id, e);
    byTraderKey.set(own, id);
    const o = tracker.submit(prepared.params, {
      intentKey,
      maker: intent.style.kind === 'maker' ? intent.style : undefined,
    });
    if (o) risk.sent();
    await Promise.race([tracker.settled(id), new Promise((r) => setTimeout(r, answerWaitMs).unref())]);
    return answer(id, trader, body.key);
  });

  function answer(id: string, trader: string, key: string): IntentAnswer {
    const o = tracker.get(id)!;
    const e = carriers.get(id);
    const carrier = e?.carrier ?? { trader, key };
    return {
      clientOrderId: id,
      netted: carrier.trader !== trader || carrier.key !== key,
      carrier,
      state: o.state,
      order: o,
    };
  }

  app.get('/v1/orders/:clientOrderId', async (req, reply) => {
    const { clientOrderId: id } = req.params as { clientOrderId: string };
    const o = tracker.get(id);
    if (!o) return reply.code(404).send({ error: 'not-found', msg: `no order ${id}` });
    const e = carriers.get(id);
    return { order: o, carrier: e?.carrier, attributed: e?.attributed ?? [] };
  });

  app.get('/v1/orders', async (req) => {
    const q = req.query as { symbol?: string; active?: string };
    let list = tracker.list();
    if (q.symbol) list = list.filter((o) => o.symbol === q.symbol);
    if (q.active === 'true') list = list.filter((o) => !isFinal(o.state));
    return { orders: list };
  });

  app.get('/v1/status', async () => status());

  // GET /v1/events: Server-Sent Events, one `order` event per state change of an order that
  // carries one of this trader's intents (its own or netted onto it). Traders follow their orders
  // by push; polling GET /v1/orders/:id stays as the fallback.
  const streams = new Set<{ trader: string; res: ServerResponse }>();
  app.get('/v1/events', (req, reply) => {
    const trader = (req as FastifyRequest & { trader: string }).trader;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    const entry = { trader, res };
    streams.add(entry);
    req.raw.on('close', () => streams.delete(entry));
  });
  tracker.on('update', (o) => {
    if (streams.size === 0) return;
    const e = carriers.get(o.clientOrderId);
    if (!e) return;
    const frame = `event: order\ndata: ${JSON.stringify({ order: o, carrier: e.carrier, attributed: e.attributed })}\n\n`;
    for (const st of streams)
      if (st.trader === e.carrier.trader || e.attributed.some((a) => a.trader === st.trader))
        st.res.write(frame);
  });
  // A comment line now and then keeps proxies and dead-peer detection honest.
  const heartbeat = setInterval(() => {
    for (const st of streams) st.res.write(': ping\n\n');
  }, 15_000);
  heartbeat.unref();

  // Expire netting windows.
  const sweep = setInterval(
    () => {
      const t = Date.now();
      for (const [k, e] of net) if (t - e.at > netWindowMs) net.delete(k);
    },
    Math.max(1000, netWindowMs),
  );
  sweep.unref();

  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 8800 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 8800);
  const host = opts.host ?? '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  function status(): GatewayStatus {
    return {
      url,
      traders: traders.size,
      intents,
      netted,
      retriesFound,
      orders: tracker.counts(),
      refusals: risk.refusalCounts(),
    };
  }

  return {
    url,
    host,
    port,
    tracker,
    status,
    async close() {
      clearInterval(sweep);
      clearInterval(heartbeat);
      for (const st of streams) st.res.end();
      streams.clear();
      clearInterval(reconcileTimer);
      tracker.close();
      await userStream?.close();
      await app.close();
    },
  };
}
