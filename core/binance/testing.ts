// A small RestCaller for tests only (the real one is rest.ts): undici, HMAC-SHA256 hex signature
// over the query string with timestamp, X-MBX-APIKEY header, GET/DELETE parameters in the query,
// POST/PUT in a form body. No throttling, no clock sync, no retries. Records every call so tests
// can check the security type each endpoint asked for.

import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import type { RequestOptions, RequestParams, RestCaller, Security } from './types.ts';

export interface TestAccount {
  apiKey: string;
  apiSecret: string;
}

/** A non-2xx answer: HTTP status plus Binance's {code, msg}. */
export class TestRestError extends Error {
  override name = 'TestRestError';
  readonly status: number;
  readonly code: number | undefined;
  readonly msg: string;
  constructor(status: number, code: number | undefined, msg: string, where: string) {
    super(`${where}: HTTP ${status} ${code ?? ''} ${msg}`.replace(/\s+/g, ' '));
    this.status = status;
    this.code = code;
    this.msg = msg;
  }
}

export interface RecordedCall {
  method: string;
  path: string;
  security: Security;
  params: RequestParams;
}

export class TestRestCaller implements RestCaller {
  readonly calls: RecordedCall[] = [];
  private readonly agent = new Agent({ keepAliveTimeout: 10_000 });

  constructor(
    private readonly baseUrl: string,
    private readonly account?: TestAccount,
  ) {}

  now(): number {
    return Date.now();
  }

  async request<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    params: RequestParams = {},
    opts: RequestOptions = {},
  ): Promise<T> {
    const security = opts.security ?? 'NONE';
    this.calls.push({ method, path, security, params });
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) qs.append(k, String(v));
    const headers: Record<string, string> = {};
    if (security !== 'NONE') {
      if (!this.account) throw new Error(`${method} ${path}: ${security} needs an account`);
      headers['x-mbx-apikey'] = this.account.apiKey;
    }
    if (security === 'TRADE' || security === 'USER_DATA') {
      qs.set('timestamp', String(this.now()));
      const payload = qs.toString();
      qs.append('signature', createHmac('sha256', this.account!.apiSecret).update(payload).digest('hex'));
    }
    const text = qs.toString();
    let url = `${this.baseUrl}${path}`;
    let body: string | undefined;
    if (method === 'GET' || method === 'DELETE') {
      if (text) url += `?${text}`;
    } else {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = text;
    }
    const res = await request(url, { method, headers, body, dispatcher: this.agent });
    const raw = await res.body.text();
    let json: unknown;
    try {
      json = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      json = undefined;
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const e = (json ?? {}) as { code?: unknown; msg?: unknown };
      throw new TestRestError(
        res.statusCode,
        typeof e.code === 'number' ? e.code : undefined,
        typeof e.msg === 'string' ? e.msg : raw.slice(0, 200),
        `${method} ${path}`,
      );
    }
    return json as T;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
