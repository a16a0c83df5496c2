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
//   trader behind it. GET /v1/orders/:clientOrderId and GET /v1/orders answer order status, each
//   trader only about the orders carrying its intents (its own or netted onto them).
// - Pre-trade risk: order notional and order rate always; opening intents are valued at the
//   book price (bookTicker, cached 1 s), refused when their refPrice is > 5 % from it, and
//   checked again on the rounded quantity. With an aggregator connection (`aggregator`, a
//   trader-role token) also bans, ALL and the per-symbol notional (positions + orders under
//   way); without one, bans are not enforced here (a warning at start says so).
// - A maker's taker follow-up rides on the maker's carrier entry: status and events reach the
//   same traders, and it passes the ban check (closes always pass) and counts toward the rate.
// - With a journal, the orders of the last 24 h are restored at start (never placed twice).

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
import { AggregatorClient, type ClientRecord } from '../core/protocol/client.ts';
import { clientOrderId, intentId, prepareOrder, type Quote, tagsCollide } from './orders.ts';
import { PreTradeRisk, type RiskLimits, type RiskView } from './risk.ts';
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
  /**
   * The aggregator (a trader-role token): bans, ALL and positions for the gateway's pre-trade
   * risk. Absent: bans are not enforced at the gateway (the traders still check them).
   */
  aggregator?: { url: string; token: string; localAddress?: string };
  logger?: Logger;
}

export interface GatewayStatus {
  /** The gateway's name (the prefix of its client order ids). */
  name: string;
  url: string;
  /** Connected to the aggregator (undefined: none configured). */
  aggregator?: boolean;
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
  const owner = new Map<string, string>();
  for (const t of opts.tokens) {
    const other = owner.get(t.token);
    if (other !== undefined && other !== t.trader)
      throw new TypeError(`one token is given to two traders (${other}, ${t.trader}): each needs its own`);
    owner.set(t.token, t.trader);
    if (tagsCollide(t.trader, name))
      throw new TypeError(
        `trader ${t.trader} would share the gateway's client order id prefix (gateway name ${name}): rename one`,
      );
  }
  const tokens = opts.tokens.map((t) => ({ ...t, buf: Buffer.from(t.token) }));
  const rules = await RulesBook.load(opts.api);
  const risk = new PreTradeRisk(opts.limits, log);

  // ---- the aggregator: bans and positions for pre-trade risk
  const bans = new Map<string, { active: boolean; until: number }>();
  const positions = new Map<string, { amt: number; ts: number }>();
  let bansReceived = false;
  let agg: AggregatorClient | undefined;
  let tracker!: OrderTracker;
  const view: RiskView | undefined = opts.aggregator
    ? {
        banned(symbol) {
          const b = bans.get(symbol);
          return b?.active === true && (b.until === 0 || b.until > Date.now());
        },
        position: (symbol) => ({ amt: (positions.get(symbol)?.amt ?? 0) + tracker.pendingFills(symbol) }),
        openingOrders: (symbol) => tracker.activeOpening(symbol),
      }
    : undefined;
  tracker = new OrderTracker({
    api: opts.api,
    trader: name,
    log,
    journalPath: opts.journalPath,
    // An opening follow-up is refused on a ban (closes pass); a sent one counts toward the rate.
    beforeFollowUp: (maker) => risk.followUp(maker, view),
  });
  if (opts.aggregator) {
    agg = new AggregatorClient({
      url: opts.aggregator.url,
      token: opts.aggregator.token,
      localAddress: opts.aggregator.localAddress,
    });
    const onRecords = (topic: string, records: ClientRecord[], snapshot: boolean): void => {
      if (topic === 'risk.ban') {
        if (snapshot) bans.clear();
        bansReceived = true;
        for (const r of records) {
          const d = r.data as { active: boolean; until: number };
          bans.set(r.key, { active: d.active, until: d.until });
        }
      } else if (topic === 'position') {
        for (const r of records) {
          if (!r.key.endsWith(':BOTH')) continue;
          const d = r.data as { symbol: string; positionAmt?: string };
          const prev = positions.get(d.symbol);
          if (prev && prev.ts > r.ts) continue;
          const amt = d.positionAmt === undefined ? (prev?.amt ?? 0) : Number(d.positionAmt);
          positions.set(d.symbol, { amt, ts: r.ts });
          tracker.positionSeen(d.symbol, r.ts);
        }
      }
    };
    agg.on('snapshot', (topic, records) => onRecords(topic, records, true));
    agg.on('update', (topic, records) => onRecords(topic, records, false));
    agg.on('error', (err) => log.debug({ err: err.message }, 'aggregator connection'));
    try {
      await agg.connect();
      await agg.subscribe('risk.ban');
      await agg.subscribe('position');
    } catch (err) {
      await agg.close();
      throw err;
    }
  } else {
    log.warn(
      'no aggregator connection (--aggregator-url): bans and ALL are not enforced at the gateway, nor per-symbol notional',
    );
  }
  const net = new Map<string, NetEntry>();
  const byTraderKey = new Map<string, string>();
  const carriers = new Map<string, NetEntry>();
  const traders = new Set<string>();
  let intents = 0;
  let netted = 0;
  let retriesFound = 0;

  tracker.restore();
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
    const opening = intent.action !== 'close';
    const refused = (v: { cause: string; detail: string }) =>
      reply.code(422).send({ error: 'refused', cause: v.cause, msg: v.detail });
    if (opening && view && !bansReceived)
      return refused(
        risk.refuse('no-risk-data', `${body.symbol}: the ban list has not arrived from the aggregator`) as {
          cause: string;
          detail: string;
        },
      );
    let quote: Quote = body.quote ?? {};
    if (quote.last === undefined) quote = { ...quote, last: body.refPrice };
    // An opening intent is valued at the book, not at the price its sender gives.
    let mid: number | undefined;
    if (opening || (quote.last === undefined && (quote.bid === undefined || quote.ask === undefined))) {
      let bt: { bidPrice: string; askPrice: string };
      try {
        bt = await bookOf(body.symbol);
      } catch (err) {
        return reply
          .code(503)
          .send({ error: 'unavailable', msg: `no book price: ${(err as Error).message}` });
      }
      mid = (Number(bt.bidPrice) + Number(bt.askPrice)) / 2;
      if (quote.bid === undefined || quote.ask === undefined)
        quote = { bid: bt.bidPrice, ask: bt.askPrice, last: quote.last };
    }
    if (opening && mid !== undefined) {
      const bad = risk.badPrice(intent, mid);
      if (bad && !bad.ok) return refused(bad);
      // The caller's last price must not value (and size) the order either.
      if (quote.last !== undefined && Math.abs(Number(quote.last) / mid - 1) > 0.05)
        quote = { ...quote, last: mid };
    }
    const price =
      opening && mid !== undefined ? mid : Number(quote.last ?? (Number(quote.bid) + Number(quote.ask)) / 2);
    const verdict = risk.check(intent, price, view);
    if (!verdict.ok) return refused(verdict);
    const prepared = prepareOrder(intent, rules, quote, id);
    if (!prepared.ok)
      return reply.code(422).send({ error: 'rejected', code: prepared.code, msg: prepared.reason });
    // The caps again, on the order as it will be sent (rounding may have made it larger).
    const again = risk.checkPrepared(intent, Number(prepared.params.quantity), price, view);
    if (!again.ok) return refused(again);
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

  // Book prices for valuing opening intents: one bookTicker per symbol per second at most.
  const books = new Map<string, { at: number; p: Promise<{ bidPrice: string; askPrice: string }> }>();
  function bookOf(symbol: string): Promise<{ bidPrice: string; askPrice: string }> {
    const t = Date.now();
    const c = books.get(symbol);
    if (c && t - c.at < 1000) return c.p;
    const p = opts.api.bookTicker(symbol);
    books.set(symbol, { at: t, p });
    p.catch(() => books.delete(symbol));
    return p;
  }

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

  // A trader sees the orders that carry its intents (its own, or netted onto them), no others.
  const involves = (e: NetEntry | undefined, trader: string): boolean =>
    e !== undefined && (e.carrier.trader === trader || e.attributed.some((a) => a.trader === trader));

  app.get('/v1/orders/:clientOrderId', async (req, reply) => {
    const trader = (req as FastifyRequest & { trader: string }).trader;
    const { clientOrderId: id } = req.params as { clientOrderId: string };
    const o = tracker.get(id);
    const e = carriers.get(id);
    if (!o || !involves(e, trader))
      return reply.code(404).send({ error: 'not-found', msg: `no order ${id}` });
    return { order: o, carrier: e?.carrier, attributed: e?.attributed ?? [] };
  });

  app.get('/v1/orders', async (req) => {
    const trader = (req as FastifyRequest & { trader: string }).trader;
    const q = req.query as { symbol?: string; active?: string };
    let list = tracker.list().filter((o) => involves(carriers.get(o.clientOrderId), trader));
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
  // A maker's taker follow-up rides on the maker's entry: the same traders follow it.
  tracker.on('followUp', (maker, taker) => {
    const e = carriers.get(maker.clientOrderId);
    if (e) carriers.set(taker.clientOrderId, e);
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
      name,
      url,
      aggregator: agg ? agg.connected : undefined,
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
      await agg?.close();
      await app.close();
    },
  };
}
