// Request signing as Binance verifies it: over the exact bytes sent (the query string, then the
// form body, no separator), with `signature` the last parameter. HMAC-SHA256 gives lower-case
// hex; Ed25519 gives base64, URL-encoded because it contains "+", "/" and "=".

import { createHmac, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { ParamValue, RequestParams } from './types.ts';

/** One parameter value in Binance's canonical text form. */
export function encodeValue(v: Exclude<ParamValue, undefined>): string {
  if (typeof v === 'string') return encodeURIComponent(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (!Number.isFinite(v)) throw new TypeError(`parameter value ${v} is not a finite number`);
  const s = String(v);
  // 1e-7 or 1e+21 would reach Binance as exponent text: prices and quantities go as strings.
  if (s.includes('e')) throw new TypeError(`number ${s} has no plain decimal form; pass it as a string`);
  return s;
}

/**
 * The canonical encoding of parameters: in insertion order, undefined skipped, booleans as
 * "true"/"false", values percent-encoded with encodeURIComponent (JSON arrays for batchOrders
 * included).
 */
export function encodeParams(params: RequestParams | undefined): string {
  if (!params) return '';
  let out = '';
  for (const k in params) {
    const v = params[k];
    if (v === undefined) continue;
    if (out !== '') out += '&';
    out += `${encodeURIComponent(k)}=${encodeValue(v)}`;
  }
  return out;
}

export function hmacSha256Hex(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** Ed25519 over the payload, base64 (not yet URL-encoded). */
export function ed25519Base64(key: KeyObject | string, payload: string): string {
  const k = typeof key === 'string' ? createPrivateKey(key) : key;
  return cryptoSign(null, Buffer.from(payload), k).toString('base64');
}

export interface Signer {
  readonly kind: 'hmac' | 'ed25519';
  /** The signature of payload as it goes on the wire (already URL-safe). */
  sign(payload: string): string;
}

export function hmacSigner(secret: string): Signer {
  return { kind: 'hmac', sign: (payload) => hmacSha256Hex(secret, payload) };
}

/** An Ed25519 signer from a PEM (PKCS#8) private key or a KeyObject. */
export function ed25519Signer(privateKey: string | KeyObject): Signer {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`expected an Ed25519 private key, got ${key.asymmetricKeyType ?? key.type}`);
  }
  return { kind: 'ed25519', sign: (payload) => encodeURIComponent(ed25519Base64(key, payload)) };
}

/**
 * The signed wire form: `query` and `body` as sent, with "&signature=…" appended to the body when
 * there is one, else to the query. The signature covers query + body (no separator).
 */
export function signRequest(
  signer: Signer,
  query: string,
  body: string,
): { query: string; body: string; signature: string } {
  const signature = signer.sign(query + body);
  if (body !== '') return { query, body: `${body}&signature=${signature}`, signature };
  return {
    query: query === '' ? `signature=${signature}` : `${query}&signature=${signature}`,
    body,
    signature,
  };
}
