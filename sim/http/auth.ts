// Binance's request authentication: API key header, HMAC-SHA256 (hex) or Ed25519 (base64,
// URL-encoded) signature over the raw bytes as sent (query string before "&signature=" followed by
// the raw body, no separator), timestamp within recvWindow.

import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';
import { ApiError, apiError } from '../contracts.ts';

export type Security = 'NONE' | 'USER_STREAM' | 'MARKET_DATA' | 'SIGNED';

/**
 * Splits the signed payload from the signature. Binance requires `signature` to be the last
 * parameter of totalParams (the query string followed by the body): when it is in the query, the
 * body may follow (it is signed: the payload is the query before `&signature=` plus the whole
 * body); nothing may follow it in its own part. Anything after it → -1022, as an unsigned
 * parameter must never be applied.
 */
export function extractSignature(
  rawQuery: string,
  rawBody: string,
): { payload: string; signature: string } | undefined {
  const cut = (s: string): { before: string; sig: string } | undefined => {
    let i: number;
    if (s.startsWith('signature=')) i = 0;
    else {
      i = s.lastIndexOf('&signature=');
      if (i < 0) return undefined;
      i += 1;
    }
    const rest = s.slice(i + 'signature='.length);
    const amp = rest.indexOf('&');
    const raw = amp < 0 ? rest : rest.slice(0, amp);
    // Parameters after the signature are not covered by it.
    if (amp >= 0 && /[^&]/.test(rest.slice(amp))) throw apiError(-1022);
    let sig: string;
    try {
      sig = decodeURIComponent(raw);
    } catch {
      sig = raw; // malformed escapes: left as sent, so verification fails with -1022
    }
    return { before: i === 0 ? '' : s.slice(0, i - 1), sig };
  };
  const q = cut(rawQuery);
  const b = cut(rawBody);
  // A signature in the query with another in the body: the query's is not last.
  if (q && b) throw apiError(-1022);
  if (q) return { payload: q.before + rawBody, signature: q.sig };
  if (b) return { payload: rawQuery + b.before, signature: b.sig };
  return undefined;
}

export function hmacHex(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** Verifies a hex HMAC-SHA256 signature (case-insensitive, constant time). */
export function verifyHmac(secret: string, payload: string, signature: string): boolean {
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) return false;
  const expected = Buffer.from(hmacHex(secret, payload), 'hex');
  const given = Buffer.from(signature, 'hex');
  return timingSafeEqual(expected, given);
}

/**
 * An Ed25519 public key from PEM (SPKI, "-----BEGIN PUBLIC KEY-----"). Throws TypeError for
 * anything else, a private key included (register the public half, as on Binance).
 */
export function parseEd25519PublicKey(pem: string): KeyObject {
  if (/PRIVATE KEY/.test(pem)) throw new TypeError('expected an Ed25519 public key, got a private key');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new TypeError(`not a PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`expected an Ed25519 public key, got ${key.asymmetricKeyType ?? key.type}`);
  }
  return key;
}

/** Verifies a base64 Ed25519 signature (64 bytes; already URL-decoded) over the payload. */
export function verifyEd25519(key: KeyObject, payload: string, signature: string): boolean {
  if (!/^[A-Za-z0-9+/]{86}==$/.test(signature)) return false;
  return verify(null, Buffer.from(payload), key, Buffer.from(signature, 'base64'));
}

/** Binance's timing rule: timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow. */
export function checkTimestamp(params: Record<string, string>, serverTime: number): void {
  const ts = params.timestamp;
  if (ts === undefined || ts === '') throw apiError(-1102, 'timestamp');
  if (!/^\d{1,16}$/.test(ts)) throw apiError(-1102, 'timestamp');
  let recvWindow = 5000;
  if (params.recvWindow !== undefined) {
    if (!/^\d{1,16}$/.test(params.recvWindow)) throw apiError(-1102, 'recvWindow');
    recvWindow = Number(params.recvWindow);
  }
  const t = Number(ts);
  if (t >= serverTime + 1000) {
    throw new ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.");
  }
  if (serverTime - t > recvWindow) {
    throw new ApiError(-1021, 'Timestamp for this request is outside of the recvWindow.');
  }
}

// Binance keys are letters and digits; any printable ASCII is accepted so test keys of any shape work.
const KEY_RE = /^[\x21-\x7e]{1,128}$/;

/**
 * Authenticates a request of the given security type; returns the account's API key (undefined
 * for NONE). Throws ApiError as Binance answers: -2014 malformed key, -2015 unknown key (HTTP 401),
 * -1102 missing timestamp/signature, -1021 timing, -1022 bad signature.
 */
export function authenticate(
  security: Security,
  req: {
    apiKeyHeader: string | undefined;
    rawQuery: string;
    rawBody: string;
    params: Record<string, string>;
  },
  accounts: {
    secretOf(apiKey: string): string | undefined;
    /** The account's Ed25519 public key, when it signs with Ed25519 instead of HMAC. */
    ed25519KeyOf?(apiKey: string): KeyObject | undefined;
  },
  serverTime: number,
): string | undefined {
  if (security === 'NONE') return undefined;
  const key = req.apiKeyHeader;
  if (key === undefined || key === '') {
    throw new ApiError(-2014, 'API-key format invalid.', 401);
  }
  if (!KEY_RE.test(key)) throw new ApiError(-2014, 'API-key format invalid.', 401);
  const secret = accounts.secretOf(key);
  if (secret === undefined) throw new ApiError(-2015, 'Invalid API-key, IP, or permissions for action.', 401);
  if (security !== 'SIGNED') return key;
  checkTimestamp(req.params, serverTime);
  const sig = extractSignature(req.rawQuery, req.rawBody);
  if (!sig || sig.signature === '') throw apiError(-1102, 'signature');
  const edKey = accounts.ed25519KeyOf?.(key);
  const valid = edKey
    ? verifyEd25519(edKey, sig.payload, sig.signature)
    : verifyHmac(secret, sig.payload, sig.signature);
  if (!valid) throw apiError(-1022);
  return key;
}
