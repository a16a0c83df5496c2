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
