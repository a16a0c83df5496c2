// /sim/ control endpoints for tests and scenarios: statistics, prices and paths, faults, the
// virtual clock, accounts, reset. JSON in, JSON out. Served to loopback clients only unless the
// simulator was started with control open.

import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Decimal } from '../../core/decimal.ts';
import type { ExchangeClock } from '../clock.ts';
import type { AccountStats, MarketControl } from '../contracts.ts';
import { parseEd25519PublicKey } from './auth.ts';
import { FaultSchema } from './faults.ts';
import { isLoopback, normalizeIp, type SimHttp } from './server.ts';

export interface ControlDeps {
  http: SimHttp;
  market: MarketControl;
  clock: ExchangeClock;
  engine: {
    stats(): Record<string, AccountStats>;
    addAccount(a: { apiKey: string; apiSecret: string; balance: string }): void;
    reset(): void;
  };
  listenKeys: { reset(): void };
  ws: { dropAll(): number; stats(): unknown };
  /** Moves the market (and listenKey expiry) up to the clock's now. */
  sync(): void;
  /** Allow non-loopback clients. */
  open?: boolean;
}

const decimalText = z.string().refine((s) => Decimal.isValid(s) && Decimal.parse(s).isPositive(), {
  message: 'must be a positive decimal number as text',
});

const PriceBody = z.object({ symbol: z.string(), price: decimalText });
const PathBody = z
  .object({
    symbol: z.string(),
    target: decimalText.optional(),
    changePercent: z.number().gt(-99).lt(10_000).optional(),
    durationMs: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600_000),
    noise: z.boolean().default(false),
  })
  .refine((b) => (b.target === undefined) !== (b.changePercent === undefined), {
    message: 'give exactly one of target or changePercent',
  });
const ClockBody = z
  .object({
    advanceMs: z
      .number()
      .int()
      .min(0)
      .max(366 * 24 * 3600_000)
      .optional(),
    skewMs: z.number().int().optional(),
  })
  .refine((b) => b.advanceMs !== undefined || b.skewMs !== undefined, {
    message: 'give advanceMs or skewMs',
  });
const AccountBody = z
  .object({
    apiKey: z.string().regex(/^[\x21-\x7e]{8,128}$/),
    apiSecret: z.string().min(8).max(256).optional(),
    /** Ed25519 public key, PEM (SPKI). */
    ed25519PublicKey: z.string().max(4096).optional(),
    balance: decimalText.default('10000'),
  })
  .refine((b) => (b.apiSecret === undefined) !== (b.ed25519PublicKey === undefined), {
    message: 'give exactly one of apiSecret or ed25519PublicKey',
  });

class BadRequest extends Error {}

function body<T>(schema: z.ZodType<T>, req: FastifyRequest): T {
  let json: unknown;
  try {
    json = typeof req.body === 'string' && req.body !== '' ? JSON.parse(req.body) : {};
  } catch {
    throw new BadRequest('body is not valid JSON');
  }
  const r = schema.safeParse(json);
  if (!r.success)
    throw new BadRequest(r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

export function addControlRoutes(app: FastifyInstance, deps: ControlDeps): void {
  const { http, market, clock, engine } = deps;

  const symbolOf = (s: string): string => {
    const up = s.toUpperCase();
    if (!market.spec(up)) throw new BadRequest(`unknown symbol ${s}`);
    return up;
  };

  const wrap =
    (fn: (req: FastifyRequest) => unknown) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      if (!deps.open && !isLoopback(normalizeIp(req.socket.remoteAddress))) {
        return reply.code(403).send({ error: 'the /sim/ control endpoints answer loopback clients only' });
      }
      try {
        return reply
          .code(200)
          .header('content-type', 'application/json')
          .send(JSON.stringify(fn(req) ?? { ok: true }));
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        return reply.code(err instanceof BadRequest ? 400 : 500).send({ error: msg });
      }
    };

  app.get(
    '/sim',
    wrap(() => ({
      endpoints: {
        'GET /sim/stats': 'per-IP weight and request counts, per-account order counts and positions',
        'POST /sim/price': '{"symbol","price"}: move a symbol to a price at once',
        'POST /sim/path': '{"symbol","target"|"changePercent","durationMs","noise"?}: script a path',
        'GET|POST|DELETE /sim/faults':
          'list, add ({"kind":"error"|"unknown"|"latency"|"drop-ws"|"stale"|"skew",…}), clear',
        'POST /sim/clock': '{"advanceMs"} (virtual clock) or {"skewMs"}',
        'POST /sim/accounts':
          '{"apiKey","apiSecret"|"ed25519PublicKey" (PEM),"balance"?}: add an account (or replace its key)',
        'POST /sim/reset': 'accounts, limits, faults and listenKeys back to the start',
      },
      virtualClock: clock.isVirtual,
      time: clock.now(),
    })),
  );

  app.get(
    '/sim/stats',
    wrap(() => {
      const now = clock.now();
      const ips: Record<string, unknown> = {};
      for (const [addr, s] of http.limiter.ips) {
        ips[addr] = {
          weight1m: s.weight.total(now),
          requests: s.requests,
          http429: s.http429,
          http418: s.http418,
          bannedUntil: s.bannedUntil > now ? s.bannedUntil : 0,
        };
      }
      // 429 -1015 (too many orders) per account; 418 bans are per IP only (ips[…].http418).
      const orders429 = http.orders.http429ByAccount();
      const accounts: Record<string, unknown> = {};
      for (const [key, a] of Object.entries(engine.stats())) {
        accounts[key] = { ...a, http429: orders429.get(key) ?? 0 };
      }
      return { time: now, ips, accounts, ws: deps.ws.stats() };
    }),
  );

  app.post(
    '/sim/price',
    wrap((req) => {
      const b = body(PriceBody, req);
      const symbol = symbolOf(b.symbol);
      market.setPrice(symbol, b.price);
      return { symbol, price: market.lastPrice(symbol), mark: market.markPrice(symbol) };
    }),
  );

  app.post(
    '/sim/path',
    wrap((req) => {
      const b = body(PathBody, req);
      const symbol = symbolOf(b.symbol);
      const target =
        b.target ??
        Decimal.parse(market.lastPrice(symbol))
          .mul(Decimal.fromNumber(1 + (b.changePercent ?? 0) / 100))
          .toString();
      market.setPath(symbol, target, b.durationMs, b.noise);
      return { symbol, from: market.lastPrice(symbol), target, durationMs: b.durationMs };
    }),
  );

  app.get(
    '/sim/faults',
    wrap(() => ({ faults: http.faults.list(), skewMs: clock.skewMs })),
  );
  app.post(
    '/sim/faults',
    wrap((req) => {
      const f = body(FaultSchema, req);
      switch (f.kind) {
        case 'drop-ws':
          return { dropped: deps.ws.dropAll() };
        case 'stale':
          market.freeze(f.symbol === undefined ? undefined : symbolOf(f.symbol), f.ms);
          return { ok: true };
        case 'skew':
          clock.skewMs = f.ms;
          return { skewMs: clock.skewMs };
        default:
          http.faults.add(f);
          return { faults: http.faults.list() };
      }
    }),
  );
  app.delete(
    '/sim/faults',
    wrap(() => {
      http.faults.clear();
      market.freeze(undefined, 0); // ends any stale-data freeze
      clock.skewMs = 0;
      return { ok: true };
    }),
  );

  app.post(
    '/sim/clock',
    wrap((req) => {
      const b = body(ClockBody, req);
      if (b.skewMs !== undefined) clock.skewMs = b.skewMs;
      if (b.advanceMs !== undefined) {
        if (!clock.isVirtual)
          throw new BadRequest('the clock is real time; start the simulator with --virtual-clock');
        clock.advance(b.advanceMs);
      }
      deps.sync();
      return { time: clock.now(), skewMs: clock.skewMs };
    }),
  );

  app.post(
    '/sim/accounts',
    wrap((req) => {
      const b = body(AccountBody, req);
      if (b.ed25519PublicKey !== undefined) {
        let key: ReturnType<typeof parseEd25519PublicKey>;
        try {
          key = parseEd25519PublicKey(b.ed25519PublicKey);
        } catch (err) {
          throw new BadRequest(`ed25519PublicKey: ${(err as Error).message}`);
        }
        // The secret is never used to verify: the account signs with Ed25519 only.
        engine.addAccount({
          apiKey: b.apiKey,
          apiSecret: randomBytes(32).toString('hex'),
          balance: b.balance,
        });
        http.ed25519Keys.set(b.apiKey, key);
      } else {
        engine.addAccount({ apiKey: b.apiKey, apiSecret: b.apiSecret as string, balance: b.balance });
        http.ed25519Keys.delete(b.apiKey);
      }
      return { apiKey: b.apiKey, balance: b.balance };
    }),
  );

  app.post(
    '/sim/reset',
    wrap(() => {
      engine.reset();
      http.limiter.reset();
      http.orders.reset();
      http.faults.clear();
      market.freeze(undefined, 0);
      deps.listenKeys.reset();
      clock.skewMs = 0;
      return { ok: true };
    }),
  );
}
