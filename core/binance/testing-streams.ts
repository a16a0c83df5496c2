// Test-only helpers for the stream clients: a tiny RestCaller (so these tests do not depend on
// rest.ts), the simulator's control endpoints, and waiting for an event with a deadline (never a
// fixed sleep). Not for production use.

import { createHmac } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { request } from 'undici';
import type { RequestOptions, RequestParams, RestCaller } from './types.ts';

export interface RestCall {
  method: string;
  path: string;
  status: number;
  code?: number;
}

/** Error thrown by TestRest: carries Binance's `code` and `msg` and the HTTP status. */
export class TestRestError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    readonly msg: string,
  ) {
    super(`HTTP ${status} ${code ?? ''} ${msg}`);
    this.name = 'TestRestError';
  }
}

/**
 * Minimal RestCaller: API-key header for everything but NONE, HMAC-SHA256 hex signature over the
 * query string (with timestamp) for TRADE/USER_DATA, parameters always in the query string.
 * Records every call's outcome in `calls`.
 */
export class TestRest implements RestCaller {
  offsetMs = 0;
  readonly calls: RestCall[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly apiSecret: string,
  ) {}

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Aligns now() with the exchange clock (needed for signed requests under a virtual clock). */
  async syncTime(): Promise<void> {
    const t0 = Date.now();
    const r = await this.request<{ serverTime: number }>('GET', '/fapi/v1/time');
    const t1 = Date.now();
    this.offsetMs = r.serverTime - Math.round((t0 + t1) / 2);
  }

  async request<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    params: RequestParams = {},
    opts: RequestOptions = {},
  ): Promise<T> {
    const security = opts.security ?? 'NONE';
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) qs.append(k, String(v));
    let query = qs.toString();
    if (security === 'TRADE' || security === 'USER_DATA') {
      query += `${query ? '&' : ''}timestamp=${this.now()}`;
      query += `&signature=${createHmac('sha256', this.apiSecret).update(query).digest('hex')}`;
    }
    const headers: Record<string, string> = {};
    if (security !== 'NONE') headers['X-MBX-APIKEY'] = this.apiKey;
    const res = await request(`${this.baseUrl}${path}${query ? `?${query}` : ''}`, {
      method,
      headers,
      headersTimeout: opts.timeoutMs ?? 10_000,
      bodyTimeout: opts.timeoutMs ?? 10_000,
    });
    const text = await res.body.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = text;
    }
    const b = (body ?? {}) as { code?: unknown; msg?: unknown };
    const code = typeof b.code === 'number' ? b.code : undefined;
    this.calls.push({ method, path, status: res.statusCode, code });
    if (res.statusCode >= 400) {
      throw new TestRestError(res.statusCode, code, typeof b.msg === 'string' ? b.msg : text.slice(0, 200));
    }
    return body as T;
  }
}

/** POST/DELETE/GET a simulator control endpoint (JSON in, JSON out). */
export async function simControl(
  restUrl: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await request(`${restUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new Error(`${method} ${path}: HTTP ${res.statusCode} ${text}`);
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/**
 * Resolves with the arguments of the first `event` emitted from now on for which `pred` holds;
 * rejects after `ms` with a message naming what was awaited.
 */
export function waitFor<A extends unknown[] = unknown[]>(
  // biome-ignore lint/suspicious/noExplicitAny: any typed emitter
  emitter: EventEmitter<any>,
  event: string,
  pred: (...args: A) => boolean = () => true,
  ms = 5_000,
): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const em = emitter as unknown as EventEmitter;
    const timer = setTimeout(() => {
      em.off(event, on);
      reject(new Error(`timed out after ${ms} ms waiting for '${event}'`));
    }, ms);
    const on = (...args: unknown[]): void => {
      let ok = false;
      try {
        ok = pred(...(args as A));
      } catch (err) {
        clearTimeout(timer);
        em.off(event, on);
        reject(err);
        return;
      }
      if (!ok) return;
      clearTimeout(timer);
      em.off(event, on);
      resolve(args as A);
    };
    em.on(event, on);
  });
}

/** Polls `check` (every 10 ms) until it returns a truthy value; rejects after `ms`. */
export async function until<T>(check: () => T | Promise<T>, ms = 5_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
