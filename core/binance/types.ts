// The seams of the Binance client (core/binance/). The REST core (transport, signing, clock,
// throttling, errors) implements RestCaller; typed endpoints, order-parameter helpers and the
// user-data stream manager are written against it.

/** Binance's security types (general info): what a request needs besides its parameters. */
export type Security = 'NONE' | 'MARKET_DATA' | 'USER_STREAM' | 'TRADE' | 'USER_DATA';

export type ParamValue = string | number | boolean | undefined;
export type RequestParams = Record<string, ParamValue>;

export interface RequestOptions {
  security?: Security;
  /** Abort after this many ms (default: the client's timeout). An order endpoint that times out is an unknown outcome. */
  timeoutMs?: number;
  /** Do not wait for budget: fail with a RateLimitError instead (default: wait). */
  noWait?: boolean;
  /**
   * The longest wait for rate-limit budget (ms); past it the request fails, unsent, with a
   * ThrottleTimeoutError. Default: the client's maxWriteWaitMs / maxReadWaitMs.
   */
  maxWaitMs?: number;
}

export interface RestCaller {
  /**
   * One request. Parameters are sent in Binance's canonical form (query for GET/DELETE, form
   * body for POST/PUT), signed with exchange time when the security type needs it, after the
   * throttler granted budget. Resolves with the parsed JSON body; rejects with a typed
   * BinanceError subclass (see errors.ts).
   */
  request<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    params?: RequestParams,
    opts?: RequestOptions,
  ): Promise<T>;
  /** Exchange time now (local time + the synced offset). */
  now(): number;
}

/** Base URLs of the places the client talks to. */
export interface Endpoints {
  rest: string;
  ws: string;
}

export const PRODUCTION: Endpoints = { rest: 'https://fapi.binance.com', ws: 'wss://fstream.binance.com' };
export const DEMO: Endpoints = {
  rest: 'https://demo-fapi.binance.com',
  ws: 'wss://fstream.binancefuture.com',
};
export function simulator(restUrl = 'http://127.0.0.1:8600'): Endpoints {
  return { rest: restUrl, ws: restUrl.replace(/^http/, 'ws') };
}

export const EXCHANGES = ['simulator', 'demo', 'production'] as const;
export type Exchange = (typeof EXCHANGES)[number];

/**
 * The one rule every component uses to pick its exchange from the environment: FLEET_EXCHANGE
 * (`simulator` by default, `demo` or `production`), then FLEET_BINANCE_REST / FLEET_BINANCE_WS
 * override either base. Production is never a default: a process started without configuration
 * talks to the local simulator (http://127.0.0.1:8600), whatever component it is.
 */
export function endpointsFromEnv(env: {
  FLEET_EXCHANGE?: string;
  FLEET_BINANCE_REST?: string;
  FLEET_BINANCE_WS?: string;
}): Endpoints {
  const name = (env.FLEET_EXCHANGE || 'simulator').toLowerCase();
  if (!(EXCHANGES as readonly string[]).includes(name))
    throw new Error(`FLEET_EXCHANGE must be one of ${EXCHANGES.join(', ')} (got ${JSON.stringify(name)})`);
  const base = name === 'production' ? PRODUCTION : name === 'demo' ? DEMO : simulator();
  const rest = env.FLEET_BINANCE_REST || base.rest;
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw new Error(`FLEET_BINANCE_REST is not a URL: ${JSON.stringify(rest)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`FLEET_BINANCE_REST must be http(s): ${JSON.stringify(rest)}`);
  // A REST override without a WS override means "that exchange's WS on the same host" only for
  // the simulator; for Binance itself the WS host differs, so keep the named exchange's WS.
  const ws =
    env.FLEET_BINANCE_WS || (env.FLEET_BINANCE_REST && name === 'simulator' ? simulator(rest).ws : base.ws);
  return { rest: rest.replace(/\/$/, ''), ws: ws.replace(/\/$/, '') };
}

/** True when the REST base is on this machine (the simulator's built-in account may be used). */
export function isLoopback(restUrl: string): boolean {
  return /^https?:\/\/(127\.|localhost[:/]|localhost$|\[::1\])/.test(restUrl);
}
