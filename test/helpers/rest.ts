// A minimal, independent Binance REST caller for tests: signs exactly as Binance documents
// (HMAC-SHA256 hex over the query string as sent), optionally from a given local address.

import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';

export interface Account {
  apiKey: string;
  apiSecret: string;
}

export interface CallResult {
  status: number;
  headers: Record<string, string>;
  body: any;
}

const agents = new Map<string, Agent>();
function agentFor(localAddress: string | undefined): Agent | undefined {
  if (!localAddress) return undefined;
  let a = agents.get(localAddress);
  if (!a) {
    a = new Agent({ localAddress });
    agents.set(localAddress, a);
  }
  return a;
}

export async function closeAgents(): Promise<void> {
  await Promise.all([...agents.values()].map((a) => a.close()));
  agents.clear();
}

export async function call(
  origin: string,
  method: string,
  path: string,
  params: Record<string, string | number | boolean> = {},
  opts: {
    account?: Account;
    signed?: boolean;
    localAddress?: string;
    inBody?: boolean;
    timestamp?: number;
  } = {},
): Promise<CallResult> {
  const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
  if (opts.signed) qs.set('timestamp', String(opts.timestamp ?? Date.now()));
  let payload = qs.toString();
  if (opts.signed && opts.account) {
    payload += `&signature=${createHmac('sha256', opts.account.apiSecret).update(payload).digest('hex')}`;
  }
  const headers: Record<string, string> = {};
  if (opts.account) headers['x-mbx-apikey'] = opts.account.apiKey;
  let url = `${origin}${path}`;
  let body: string | undefined;
  if (opts.inBody) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = payload;
  } else if (payload) url += `?${payload}`;
  const res = await request(url, {
    method: method as 'GET',
    headers,
    body,
    dispatcher: agentFor(opts.localAddress),
  });
  const text = await res.body.text();
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h[k] = v;
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.statusCode, headers: h, body: parsed };
}

export async function control(origin: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await request(`${origin}${path}`, {
    method: method as 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${path} → ${res.statusCode} ${text}`);
  return JSON.parse(text);
}
