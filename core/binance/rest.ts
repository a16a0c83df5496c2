// The REST core of the Binance client: transport (undici keep-alive pool, bound to a local
// address when given, gzip), Binance's request conventions (GET/DELETE parameters in the query,
// POST/PUT in a form body; signed requests get exchange timestamp, recvWindow and the signature
// last), the throttler (budget before sending, header clamp after), the exchange clock (re-sync
// and one retry on -1021 / -5028, which the exchange rejected before execution) and typed errors.
// Order placement is never retried: an unknown outcome reaches the caller as UnknownOutcomeError.
//
// Queueing for budget: clock samples (GET /fapi/v1/time) go first, then writes (anything not a
// GET), then reads; a weight-0 order only checks the ban/pause fence. No request waits longer
// than maxWriteWaitMs / maxReadWaitMs: it fails unsent with ThrottleTimeoutError instead.

import type { KeyObject } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { gunzipSync } from 'node:zlib';
import { type Dispatcher, Pool } from 'undici';
import { createLogger, type Logger } from '../log.ts';
import { ExchangeClock } from './clock.ts';
import {
  AuthError,
  type BinanceError,
  ClockError,
  clientOrderIdOf,
  IpBannedError,
  RateLimitError,
  ServerError,
  toBinanceError,
  transportError,
  UnknownOutcomeError,
} from './errors.ts';
import { ed25519Signer, encodeParams, hmacSigner, type Signer, signRequest } from './sign.ts';
import {
  type BanPolicy,
  type Budget,
  type BudgetUsage,
  DEFAULT_SAFETY_MARGIN,
  type Permit,
  Priority,
  sharedThrottler,
  type Throttler,
} from './throttle.ts';
import {
  DEMO,
  type Endpoints,
  PRODUCTION,
  type RequestOptions,
  type RequestParams,
  type RestCaller,
  type Security,
  simulator,
} from './types.ts';
import { endpointWeight, type PoolName } from './weights.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface BinanceRestOptions {
  /** Where to talk to (types.ts: PRODUCTION, DEMO, simulator(url)). Default PRODUCTION. */
  endpoints?: Endpoints;
  apiKey?: string;
  /** HMAC-SHA256 secret. */
  apiSecret?: string;
  /** Ed25519 private key (PEM, PKCS#8) instead of an HMAC secret. */
  ed25519PrivateKey?: string | KeyObject;
  /** Bind outgoing connections to this local address: one egress IP, one weight budget. */
  localAddress?: string;
  /** recvWindow of signed requests (default 5000, at most 60000). */
  recvWindow?: number;
  /** Per-request timeout (ms) for headers and body; default 10 000. */
  timeoutMs?: number;
  /** Fraction of each rate limit kept free (default 0.02). */
  safetyMargin?: number;
  /** The server's IP weight per minute (Binance 2400; the simulator's --weight-limit). */
  weightLimit?: number;
  ordersPer10s?: number;
  ordersPerMinute?: number;
  logger?: Logger;
  /** Periodic clock re-sync (ms); 0 disables it. Default 5 minutes. */
  clockSyncMs?: number;
  /** A request from a banned address: wait for the end of the ban, or fail fast (default). */
  whenBanned?: BanPolicy;
  /** Budgets shared with other clients (default: the process-wide one, shared by address). */
  throttler?: Throttler;
  /** Keep-alive connections of the pool (default 16). */
  connections?: number;
  /**
   * The longest wait for rate-limit budget of a write (anything not a GET) and of a clock sample;
   * past it the request fails unsent with ThrottleTimeoutError (retry-safe). Default 10 000.
   */
  maxWriteWaitMs?: number;
  /** The same for reads (GET). Default 120 000 (a full window plus a 429 pause). */
  maxReadWaitMs?: number;
  /** IP weight reads may not use, kept for clock samples and writes (default 0.5 % of the budget, ≥ 3). */
  reserveWeight?: number;
}

export const DEFAULT_MAX_WRITE_WAIT_MS = 10_000;
export const DEFAULT_MAX_READ_WAIT_MS = 120_000;

export interface RestUsage {
  origin: string;
  /** The egress address ("default" when not bound). */
  address: string;
  /** IP weight counted locally in the rolling minute (conservative: ≥ the server's count). */
  weightUsed: number;
  /** The budget: the server's limit minus the safety margin. */
  weightLimit: number;
  serverWeightLimit: number;
  /** Responses this client received. */
  requests: number;
  /** Of them, not 2xx. */
  errors: number;
  /** 429 / 418 answers seen on this address (all clients sharing it). */
  http429: number;
  http418: number;
  bans: number;
  bannedUntil: number;
  /** Requests waiting for budget on this address now, times a request had to wait, total wait. */
  queued: number;
  waits: number;
  waitedMs: number;
  /** Requests that gave up waiting for budget on this address (ThrottleTimeoutError). */
  timeouts: number;
  orders10s?: number;
  orders1m?: number;
  clockOffsetMs: number;
  clockSyncs: number;
  clockRetries: number;
  /** Every address budget of the throttler (the process). */
  addresses: BudgetUsage[];
}

/** Paths Binance serves without an API key (security NONE). */
const PUBLIC_PATHS = new Set([
  '/fapi/v1/ping',
  '/fapi/v1/time',
  '/fapi/v1/exchangeInfo',
  '/fapi/v1/depth',
  '/fapi/v1/rpiDepth',
  '/fapi/v1/trades',
  '/fapi/v1/aggTrades',
  '/fapi/v1/klines',
  '/fapi/v1/continuousKlines',
  '/fapi/v1/indexPriceKlines',
  '/fapi/v1/markPriceKlines',
  '/fapi/v1/premiumIndexKlines',
  '/fapi/v1/premiumIndex',
  '/fapi/v1/fundingRate',
  '/fapi/v1/fundingInfo',
  '/fapi/v1/ticker/24hr',
  '/fapi/v1/ticker/price',
  '/fapi/v2/ticker/price',
  '/fapi/v1/ticker/bookTicker',
  '/fapi/v1/openInterest',
  '/fapi/v1/indexInfo',
  '/fapi/v1/constituents',
  '/fapi/v1/assetIndex',
  '/fapi/v1/insuranceBalance',
]);

/** The security type of an endpoint when the caller does not state it. */
export function defaultSecurity(method: string, path: string): Security {
  if (PUBLIC_PATHS.has(path) || path.startsWith('/futures/data/')) return 'NONE';
  if (path === '/fapi/v1/listenKey') return 'USER_STREAM';
  if (path === '/fapi/v1/historicalTrades') return 'MARKET_DATA';
  return method === 'GET' ? 'USER_DATA' : 'TRADE';
}

/** Binance: "X-MBX-USED-WEIGHT-1M … is not accurate from this endpoint, please ignore." */
const INACCURATE_WEIGHT_HEADER = new Set(['/fapi/v1/ticker/bookTicker', '/fapi/v2/ticker/price']);

const SIGN_PARAMS = new Set(['timestamp', 'signature', 'recvWindow']);
const MAX_RECV_WINDOW = 60_000;

/** recvWindow must be a whole number of ms in 1..60000 (Binance's maximum); thrown before sending. */
function checkRecvWindow(v: number): number {
  if (!(Number.isInteger(v) && v > 0 && v <= MAX_RECV_WINDOW)) {
    throw new RangeError(`recvWindow must be a whole number of ms in 1..${MAX_RECV_WINDOW}, got ${v}`);
  }
  return v;
}

function headerOf(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

type Headers = Record<string, string | string[] | undefined>;

/** A request that got no complete answer; `sent`: whether it may have reached the server. */
class TransportFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly sent: boolean,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export class BinanceRest implements RestCaller {
  readonly endpoints: Endpoints;
  readonly origin: string;
  readonly localAddress: string | undefined;
  readonly recvWindow: number;
  readonly timeoutMs: number;
  readonly clock: ExchangeClock;
  readonly throttler: Throttler;
  readonly logger: Logger;
  private readonly apiKey: string | undefined;
  private readonly signer: Signer | undefined;
  private readonly whenBanned: BanPolicy;
  private readonly pool: Pool;
  private readonly addressBudget: Budget;
  private readonly accountBudget: Budget | undefined;
  private readonly poolBudgets: Record<PoolName, Budget>;
  readonly maxWriteWaitMs: number;
  readonly maxReadWaitMs: number;
  private readonly abort = new AbortController();
  private readonly hdrPublic: Record<string, string>;
  private readonly hdrKey: Record<string, string>;
  private readonly hdrKeyForm: Record<string, string>;
  private readonly hdrPublicForm: Record<string, string>;
  private closed = false;
  private requests = 0;
  private errors = 0;
  private clockRetries = 0;

  constructor(opts: BinanceRestOptions = {}) {
    this.endpoints = opts.endpoints ?? PRODUCTION;
    const url = new URL(this.endpoints.rest);
    this.origin = url.origin;
    this.localAddress = opts.localAddress;
    this.recvWindow = checkRecvWindow(opts.recvWindow ?? 5000);
    this.maxWriteWaitMs = opts.maxWriteWaitMs ?? DEFAULT_MAX_WRITE_WAIT_MS;
    this.maxReadWaitMs = opts.maxReadWaitMs ?? DEFAULT_MAX_READ_WAIT_MS;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.logger = opts.logger ?? createLogger('binance-rest');
    this.whenBanned = opts.whenBanned ?? 'fail';
    this.apiKey = opts.apiKey;
    if (opts.ed25519PrivateKey !== undefined) this.signer = ed25519Signer(opts.ed25519PrivateKey);
    else if (opts.apiSecret !== undefined) this.signer = hmacSigner(opts.apiSecret);
    this.throttler = opts.throttler ?? sharedThrottler;
    const address = opts.localAddress ?? 'default';
    const cfg = {
      weightLimit: opts.weightLimit,
      ordersPer10s: opts.ordersPer10s,
      ordersPerMinute: opts.ordersPerMinute,
      safetyMargin: opts.safetyMargin ?? DEFAULT_SAFETY_MARGIN,
      reserveWeight: opts.reserveWeight,
      logger: this.logger,
    };
    const addressKey = `${this.origin}|${address}`;
    this.addressBudget = this.throttler.address(addressKey, address, cfg);
    this.poolBudgets = {
      funding: this.throttler.pool(addressKey, address, 'funding', cfg),
      futuresData: this.throttler.pool(addressKey, address, 'futuresData', cfg),
    };
    this.accountBudget = this.apiKey
      ? this.throttler.account(`${this.origin}|${this.apiKey}`, `${this.apiKey.slice(0, 8)}…`, cfg)
      : undefined;
    this.pool = new Pool(this.origin, {
      connections: opts.connections ?? 16,
      pipelining: 1,
      // undici binds the local address only from the top-level option (connect: {…} ignores it).
      localAddress: opts.localAddress,
      connectTimeout: this.timeoutMs,
      // Backstops only: each request has its own precise deadline (exchange()).
      headersTimeout: 2 * this.timeoutMs,
      bodyTimeout: 2 * this.timeoutMs,
      keepAliveTimeout: 30_000,
    });
    this.clock = new ExchangeClock({
      // The sample's round trip starts when budget is granted (onSend), not while it waits.
      fetchServerTime: async (onSend) =>
        (
          await this.perform<{ serverTime: number }>(
            'GET',
            '/fapi/v1/time',
            undefined,
            { security: 'NONE', maxWaitMs: this.maxWriteWaitMs },
            onSend,
          )
        ).serverTime,
      resyncMs: opts.clockSyncMs,
      logger: this.logger,
    });
    setMaxListeners(100_000, this.abort.signal);
    this.hdrPublic = { 'accept-encoding': 'gzip' };
    this.hdrPublicForm = { ...this.hdrPublic, 'content-type': 'application/x-www-form-urlencoded' };
    this.hdrKey = this.apiKey ? { ...this.hdrPublic, 'x-mbx-apikey': this.apiKey } : this.hdrPublic;
    this.hdrKeyForm = { ...this.hdrKey, 'content-type': 'application/x-www-form-urlencoded' };
  }

  /** Exchange time now (local time + the synced offset). */
  now(): number {
    return this.clock.now();
  }

  /** Measures the exchange clock offset now (also done before the first signed request). */
  syncClock(): Promise<number> {
    return this.clock.sync();
  }

  request<T = unknown>(
    method: Method,
    path: string,
    params?: RequestParams,
    opts: RequestOptions = {},
  ): Promise<T> {
    return this.perform<T>(method, path, params, opts);
  }

  /** request(), and `onSend` called once budget is granted, right before the request goes out. */
  private async perform<T>(
    method: Method,
    path: string,
    params: RequestParams | undefined,
    opts: RequestOptions,
    onSend?: () => void,
  ): Promise<T> {
    if (this.closed) throw new Error('BinanceRest is closed');
    const security = opts.security ?? defaultSecurity(method, path);
    const signed = security === 'TRADE' || security === 'USER_DATA';
    if (security !== 'NONE' && !this.apiKey) {
      throw new AuthError(`${method} ${path} needs an API key and none is configured`, { method, path });
    }
    if (signed && !this.signer) {
      throw new AuthError(`${method} ${path} is signed and no API secret or key is configured`, {
        method,
        path,
      });
    }
    let recvWindow = this.recvWindow;
    if (
      signed &&
      params &&
      (params.timestamp !== undefined || params.signature !== undefined || params.recvWindow !== undefined)
    ) {
      if (params.recvWindow !== undefined) recvWindow = checkRecvWindow(Number(params.recvWindow));
      params = Object.fromEntries(Object.entries(params).filter(([k]) => !SIGN_PARAMS.has(k)));
    }
    const weight = endpointWeight(method, path, (params ?? {}) as Record<string, string | undefined>);
    const priority =
      path === '/fapi/v1/time' ? Priority.clock : method === 'GET' ? Priority.read : Priority.write;
    const maxWaitMs = opts.maxWaitMs ?? (method === 'GET' ? this.maxReadWaitMs : this.maxWriteWaitMs);
    const poolBudget = weight.pool === undefined ? undefined : this.poolBudgets[weight.pool];
    const base = encodeParams(params);
    const inQuery = method === 'GET' || method === 'DELETE';
    const headers =
      security === 'NONE'
        ? inQuery
          ? this.hdrPublic
          : this.hdrPublicForm
        : inQuery
          ? this.hdrKey
          : this.hdrKeyForm;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    if (signed && !this.clock.synced) await this.clock.sync();

    for (let attempt = 0; ; attempt++) {
      const permit =
        this.throttler.tryAcquire(this.addressBudget, this.accountBudget, weight, priority, poolBudget) ??
        (await this.throttler.acquire(this.addressBudget, this.accountBudget, weight, {
          noWait: opts.noWait,
          whenBanned: this.whenBanned,
          signal: this.abort.signal,
          priority,
          maxWaitMs,
          pool: poolBudget,
        }));
      onSend?.();
      let payload = base;
      const generation = this.clock.generation;
      if (signed) {
        payload = `${base === '' ? '' : `${base}&`}timestamp=${this.clock.now()}&recvWindow=${recvWindow}`;
      }
      let query = inQuery ? payload : '';
      let body = inQuery ? '' : payload;
      if (signed) ({ query, body } = signRequest(this.signer!, query, body));
      try {
        return await this.send<T>(method, path, query, body, headers, permit, timeoutMs, params);
      } catch (err) {
        if (err instanceof ClockError && signed && attempt === 0) {
          // Rejected before execution (-1021, -5028): safe to send again with a re-synced timestamp.
          this.clockRetries++;
          this.logger.warn(
            { method, path, offsetMs: this.clock.offsetMs, code: err.code },
            `${err.code}: re-syncing the exchange clock and retrying once`,
          );
          await this.clock.resyncAfter(generation);
          continue;
        }
        throw err;
      }
    }
  }

  private async send<T>(
    method: Method,
    path: string,
    query: string,
    body: string,
    headers: Record<string, string>,
    permit: Permit,
    timeoutMs: number,
    params: RequestParams | undefined,
  ): Promise<T> {
    let status: number;
    let resHeaders: Headers;
    let text: string;
    try {
      const res = await this.exchange(
        method,
        query === '' ? path : `${path}?${query}`,
        body,
        headers,
        timeoutMs,
      );
      status = res.status;
      resHeaders = res.headers;
      text =
        headerOf(resHeaders, 'content-encoding') === 'gzip'
          ? gunzipSync(res.body).toString('utf8')
          : res.body.toString('utf8');
    } catch (err) {
      const sent = err instanceof TransportFailure ? err.sent : true;
      const cause = err instanceof TransportFailure ? err.cause : err;
      if (sent) this.throttler.settle(permit);
      else this.throttler.release(permit);
      throw transportError(cause, { method, path, params, sent });
    }
    const doneAt = Date.now();
    this.requests++;
    this.throttler.settle(permit, doneAt);
    this.observe(path, resHeaders, doneAt);
    if (status >= 200 && status < 300) {
      if (text === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        const msg = `unparseable ${status} answer (${text.slice(0, 80)}) (${method} ${path})`;
        // A write that answered 2xx happened; what it did is unknown.
        if (method !== 'GET')
          throw new UnknownOutcomeError(msg, {
            status,
            method,
            path,
            cause: err,
            clientOrderId: clientOrderIdOf(params),
            raw: text,
          });
        throw new ServerError(msg, { status, method, path, cause: err });
      }
    }
    this.errors++;
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    const err = toBinanceError(status, parsed, {
      method,
      path,
      headers: resHeaders,
      params,
      now: doneAt,
      toLocalTime: (ms) => this.clock.toLocal(ms),
    });
    this.onError(err, doneAt, permit.pool, resHeaders);
    throw err;
  }

  /**
   * One HTTP exchange on the pool through undici's dispatch API (no stream per response), with a
   * precise deadline (undici's own headers/body timeouts tick at ~0.5-1 s). Rejects with a
   * TransportFailure that says whether anything may have left: undici calls onRequestStart right
   * before it writes the request on a connected socket.
   */
  private exchange(
    method: Method,
    path: string,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number; headers: Headers; body: Buffer }> {
    return new Promise((resolve, reject) => {
      let controller: Dispatcher.DispatchController | undefined;
      let started = false;
      let done = false;
      let status = 0;
      let resHeaders: Headers = {};
      let chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        const err = Object.assign(new Error(`no complete answer within ${timeoutMs} ms`), {
          code: 'TIMEOUT',
        });
        controller?.abort(err);
        reject(new TransportFailure(err, started));
      }, timeoutMs);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (c) => {
          controller = c;
          if (done) c.abort(new Error('timed out before sending'));
          else started = true;
        },
        onResponseStart: (_c, statusCode, h) => {
          status = statusCode;
          resHeaders = h;
          chunks = [];
        },
        onResponseData: (_c, chunk) => {
          chunks.push(chunk);
        },
        onResponseEnd: () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
          resolve({ status, headers: resHeaders, body: buf });
        },
        onResponseError: (_c, err) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          // Once undici started writing, the request may have reached the server whatever the
          // error says (UND_ERR_DESTROYED / UND_ERR_CLOSED mid-flight included).
          reject(new TransportFailure(err, started));
        },
      };
      try {
        this.pool.dispatch({ method, path, headers, body: body === '' ? null : body }, handler);
      } catch (err) {
        done = true;
        clearTimeout(timer);
        reject(new TransportFailure(err, false));
      }
    });
  }

  /** Clamps the local counts up to what the server reports. */
  private observe(path: string, h: Record<string, string | string[] | undefined>, now: number): void {
    if (!INACCURATE_WEIGHT_HEADER.has(path)) {
      const used = headerOf(h, 'x-mbx-used-weight-1m');
      if (used !== undefined) this.addressBudget.clampUp(0, Number(used), now);
    }
    if (this.accountBudget) {
      const c10 = headerOf(h, 'x-mbx-order-count-10s');
      if (c10 !== undefined) this.accountBudget.clampUp(0, Number(c10), now);
      const c1m = headerOf(h, 'x-mbx-order-count-1m');
      if (c1m !== undefined) this.accountBudget.clampUp(1, Number(c1m), now);
    }
  }

  private onError(err: BinanceError, now: number, pool: Budget | undefined, h: Headers): void {
    if (err instanceof IpBannedError) {
      this.addressBudget.http418++;
      this.addressBudget.ban(err.until, { path: err.path, message: err.message });
    } else if (err instanceof RateLimitError) {
      // Without Retry-After (Binance futures does not promise one): back off a whole window.
      const until = now + (err.retryAfterMs ?? 60_000);
      const used = Number(headerOf(h, 'x-mbx-used-weight-1m'));
      const weightFull = Number.isFinite(used) && used >= this.addressBudget.serverLimits[0];
      if (pool && err.scope === 'ip' && !weightFull) {
        // A pooled endpoint (fundingRate, /futures/data/*) refused while the IP weight has room:
        // its own pool is exhausted; the rest of the address goes on.
        pool.http429++;
        pool.pause(err.retryAfterMs === undefined ? now + pool.windows[0].windowMs : until, {
          path: err.path,
          code: err.code,
        });
      } else if (err.scope === 'orders' && this.accountBudget) {
        this.accountBudget.http429++;
        this.accountBudget.pause(until, { path: err.path, code: err.code });
      } else {
        this.addressBudget.http429++;
        this.addressBudget.pause(until, { path: err.path, code: err.code });
      }
    }
  }

  usage(): RestUsage {
    const a = this.addressBudget.usage();
    const o = this.accountBudget?.usage();
    return {
      origin: this.origin,
      address: this.addressBudget.label,
      weightUsed: a.used[0],
      weightLimit: a.limits[0],
      serverWeightLimit: a.serverLimits[0],
      requests: this.requests,
      errors: this.errors,
      http429: a.http429,
      http418: a.http418,
      bans: a.bans,
      bannedUntil: a.bannedUntil,
      queued: a.queued,
      waits: a.waits,
      waitedMs: a.waitedMs,
      timeouts: a.timeouts,
      orders10s: o?.used[0],
      orders1m: o?.used[1],
      clockOffsetMs: this.clock.offsetMs,
      clockSyncs: this.clock.generation,
      clockRetries: this.clockRetries,
      addresses: this.throttler.usage().addresses,
    };
  }

  /** Stops the clock, fails this client's requests still waiting for budget, closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.stop();
    this.abort.abort(new Error('BinanceRest closed'));
    await this.pool.close();
  }
}

export type ClientOptions = BinanceRestOptions & {
  /** Shorthand for endpoints: 'production' (default), 'demo' or 'simulator' (with restUrl). */
  env?: 'production' | 'demo' | 'simulator';
  /** The simulator's REST URL (env 'simulator'; default http://127.0.0.1:8600). */
  restUrl?: string;
};

/** A REST client: `createClient({ env: 'simulator', restUrl, apiKey, apiSecret })`. */
export function createClient(opts: ClientOptions = {}): BinanceRest {
  const { env, restUrl, ...rest } = opts;
  const endpoints =
    rest.endpoints ??
    (env === 'demo' ? DEMO : env === 'simulator' || restUrl !== undefined ? simulator(restUrl) : PRODUCTION);
  return new BinanceRest({ ...rest, endpoints });
}
