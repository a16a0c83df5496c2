// The simulator's HTTP front: Binance's REST conventions (parameters from query and form body,
// query wins), weights and order counts charged per request, authentication, fault injection,
// gzip as Binance serves it, and the /sim/ control endpoints.

import type { KeyObject } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { endpointWeight } from '../../core/binance/weights.ts';
import {
  ApiError,
  apiError,
  type EngineApi,
  type ListenKeyApi,
  type MarketView,
  type Params,
  type SimClock,
} from '../contracts.ts';
import { addAccountRoutes } from './account-routes.ts';
import { authenticate } from './auth.ts';
import { FaultBook } from './faults.ts';
import { OrderLimiter, RateLimiter } from './limits.ts';
import { addMarketRoutes } from './market-routes.ts';
import { RouteTable } from './routes.ts';

export interface HttpDeps {
  market: MarketView;
  engine: EngineApi;
  listenKeys: ListenKeyApi;
  /** Weight per IP per minute (Binance: 2400). */
  weightLimit?: number;
  /** Gzip answers of at least this many bytes when the client accepts gzip (Binance compresses). */
  gzipMinBytes?: number;
  /** The time the server reports and checks timestamps against (skewed); default market.clock. */
  serverClock?: SimClock;
}

export interface SimHttp {
  app: FastifyInstance;
  routes: RouteTable;
  limiter: RateLimiter;
  orders: OrderLimiter;
  faults: FaultBook;
  /** API key → Ed25519 public key of the accounts that sign with Ed25519 instead of HMAC. */
  ed25519Keys: Map<string, KeyObject>;
}

const JSON_TYPE = 'application/json;charset=UTF-8';
const UNKNOWN_503 = { code: -1007, msg: 'Unknown error, please check your request or try again later.' };

/** "::ffff:127.0.0.2" → "127.0.0.2". */
export function normalizeIp(addr: string | undefined): string {
  if (!addr) return 'unknown';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/**
 * Merges query and form body; the query's value wins over the body's. A parameter sent twice in
 * the query, or twice in the body, is Binance's -1101 "Duplicate values for a parameter detected."
 */
export function mergeParams(rawQuery: string, rawBody: string): Params {
  const out: Params = {};
  const fromQuery = new Set<string>();
  if (rawQuery) {
    for (const [k, v] of new URLSearchParams(rawQuery)) {
      if (fromQuery.has(k)) throw apiError(-1101);
      fromQuery.add(k);
      out[k] = v;
    }
  }
  if (rawBody) {
    const fromBody = new Set<string>();
    for (const [k, v] of new URLSearchParams(rawBody)) {
      if (fromBody.has(k)) throw apiError(-1101);
      fromBody.add(k);
      if (!fromQuery.has(k)) out[k] = v;
    }
  }
  return out;
}

function isForm(contentType: string | undefined): boolean {
  return contentType === undefined || contentType.startsWith('application/x-www-form-urlencoded');
}

export function createHttp(deps: HttpDeps): SimHttp {
  const { market, engine, listenKeys } = deps;
  const gzipMin = deps.gzipMinBytes ?? 1024;
  const app = Fastify({ logger: false, bodyLimit: 1 << 20, keepAliveTimeout: 65_000 });
  const routes = new RouteTable();
  const limiter = new RateLimiter(market.clock, { weightLimit: deps.weightLimit });
  const orders = new OrderLimiter(market.clock);
  const faults = new FaultBook();
  const serverClock = deps.serverClock ?? market.clock;
  const ed25519Keys = new Map<string, KeyObject>();
  const keys = {
    secretOf: (apiKey: string) => engine.secretOf(apiKey),
    ed25519KeyOf: (apiKey: string) => ed25519Keys.get(apiKey),
  };
  addMarketRoutes(routes, market, serverClock);
  addAccountRoutes(routes, engine, listenKeys);

  // Bodies stay raw text: signatures are verified over the bytes as sent, and Binance does not
  // read JSON bodies.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  // Errors Fastify raises before a handler runs (a body over 1 MiB, a broken request): Binance's
  // error shape on /fapi, the control API's on /sim.
  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status =
      err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    const u = req.raw.url ?? '';
    if (u.startsWith('/fapi') || u.startsWith('/futures'))
      reply.code(status).send({ code: -1000, msg: err.message });
    else reply.code(status).send({ error: err.message });
  });

  const send = (
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    body: unknown,
    headers: Record<string, string>,
  ) => {
    const text = JSON.stringify(body);
    reply.code(status).headers(headers).header('content-type', JSON_TYPE);
    const accepts = req.headers['accept-encoding'];
    if (text.length >= gzipMin && typeof accepts === 'string' && accepts.includes('gzip')) {
      reply.header('content-encoding', 'gzip').header('vary', 'Accept-Encoding');
      return reply.send(gzipSync(text, { level: 5 }));
    }
    return reply.send(text);
  };

  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.raw.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const method = req.method;
    const ip = normalizeIp(req.socket.remoteAddress);
    const rawBody = typeof req.body === 'string' && isForm(req.headers['content-type']) ? req.body : '';
    const route = routes.get(method, path);
    let params: Params = {};
    let paramError: ApiError | undefined;
    try {
      params = mergeParams(rawQuery, rawBody);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      paramError = err;
    }
    const weight =
      (route || path.startsWith('/futures/data/')) && !paramError
        ? endpointWeight(method, path, params)
        : { ip: 1, orders10s: 0, orders1m: 0 };
    const verdict = limiter.charge(ip, weight.ip);
    const headers: Record<string, string> = { 'x-mbx-used-weight-1m': String(verdict.used) };
    if (!verdict.ok) {
      headers['retry-after'] = String(verdict.retryAfterS);
      const msg =
        verdict.status === 418
          ? `Way too many requests; IP(${ip}) banned until ${verdict.until}. Please use the websocket for live updates to avoid bans.`
          : `Too many requests; current limit of IP(${ip}) is ${limiter.weightLimit} requests per minute. Please use the websocket for live updates to avoid being banned.`;
      return send(req, reply, verdict.status, { code: -1003, msg }, headers);
    }
    if (!route) {
      return send(
        req,
        reply,
        404,
        { code: -5000, msg: `Path ${path}, Method ${method} is invalid` },
        headers,
      );
    }
    if (paramError) return send(req, reply, paramError.status, paramError.toJSON(), headers);
    const fault = faults.take(method, path);
    if (fault.latencyMs) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.error !== undefined) {
      const body =
        fault.error === 503
          ? { code: -1001, msg: 'Service Unavailable.' }
          : { code: -1001, msg: 'Internal error; unable to process your request. Please try again.' };
      return send(req, reply, fault.error, body, headers);
    }
    try {
      const apiKey = authenticate(
        route.security,
        {
          apiKeyHeader: req.headers['x-mbx-apikey'] as string | undefined,
          rawQuery,
          rawBody,
          params,
        },
        keys,
        serverClock.now(),
      );
      if (weight.orders10s > 0 && apiKey !== undefined) {
        const ov = orders.charge(apiKey, weight.orders10s, weight.orders1m);
        headers['x-mbx-order-count-10s'] = String(ov.count10s);
        headers['x-mbx-order-count-1m'] = String(ov.count1m);
        if (!ov.ok) {
          // Counted for the IP too, so "no 429 at all" checks on /sim/stats see it.
          limiter.ip(ip).http429++;
          headers['retry-after'] = String(ov.retryAfterS);
          const per = ov.per === '10s' ? '10 SECOND' : '1 MINUTE';
          return send(
            req,
            reply,
            429,
            { code: -1015, msg: `Too many new orders; current limit is ${ov.limit} orders per ${per}.` },
            headers,
          );
        }
      }
      const result = route.handler({ params, apiKey, ip });
      if (fault.unknown) return send(req, reply, 503, UNKNOWN_503, headers);
      return send(req, reply, 200, result, headers);
    } catch (err) {
      if (err instanceof ApiError) return send(req, reply, err.status, err.toJSON(), headers);
      return send(
        req,
        reply,
        500,
        { code: -1000, msg: 'An unknown error occured while processing the request.' },
        headers,
      );
    }
  };

  // Every method reaches the handler, so an unsupported one answers Binance's -5000, not Fastify's 404.
  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/fapi/*',
    handler: handle,
  });
  // /futures/data/* (statistics) are not simulated: Binance's error shape and weight header, not
  // Fastify's 404 page.
  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/futures/*',
    handler: handle,
  });
  return { app, routes, limiter, orders, faults, ed25519Keys };
}
