// Request parameter parsing with Binance's error codes. Parameters arrive as the strings the
// client sent; an empty string counts as "not sent".

import { Decimal } from '../../core/decimal.ts';
import { ApiError, apiError, type Params } from '../contracts.ts';

/** The value of a parameter, undefined when absent or empty. */
export function opt(p: Params, name: string): string | undefined {
  const v = p[name];
  return v === undefined || v === '' ? undefined : v;
}

/** A mandatory parameter: -1102 when absent or empty. */
export function need(p: Params, name: string): string {
  const v = opt(p, name);
  if (v === undefined) throw apiError(-1102, name);
  return v;
}

/** -1102 in its two-parameter form. */
export function eitherMissing(a: string, b: string): ApiError {
  return new ApiError(-1102, `Param '${a}' or '${b}' must be sent, but both were empty/null!`);
}

export function invalid(name: string): ApiError {
  return apiError(-1130, name);
}

export function notRequired(name: string): ApiError {
  return apiError(-1106, name);
}

const DECIMAL_TEXT = /^[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$/;
const NEG_DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$/;

/** Decimal text (sign allowed, so range checks can answer with their own codes). */
export function parseDecimal(text: string): Decimal | undefined {
  const s = text.trim();
  if (!NEG_DECIMAL_TEXT.test(s)) return undefined;
  try {
    return Decimal.parse(s);
  } catch {
    return undefined;
  }
}

/** A decimal parameter: malformed → -1102 when mandatory, -1130 otherwise. */
export function decimalParam(p: Params, name: string, mandatory: true): Decimal;
export function decimalParam(p: Params, name: string, mandatory?: false): Decimal | undefined;
export function decimalParam(p: Params, name: string, mandatory = false): Decimal | undefined {
  const v = mandatory ? need(p, name) : opt(p, name);
  if (v === undefined) return undefined;
  const d = parseDecimal(v);
  if (d === undefined) throw mandatory ? apiError(-1102, name) : invalid(name);
  return d;
}

/** True when text is a plain non-negative decimal (no sign, no exponent needed). */
export function isPlainDecimal(text: string): boolean {
  return DECIMAL_TEXT.test(text.trim());
}

/** A boolean parameter "true"/"false" (case-insensitive only where Binance is); bad → -1130. */
export function boolParam(p: Params, name: string, caseInsensitive = false): boolean | undefined {
  const v = opt(p, name);
  if (v === undefined) return undefined;
  const s = caseInsensitive ? v.toLowerCase() : v;
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw invalid(name);
}

const INT_RE = /^-?\d{1,19}$/;

/** An integer parameter (ids, times, limits). Malformed → -1102 when mandatory, -1130 otherwise. */
export function intParam(p: Params, name: string, mandatory: true): number;
export function intParam(p: Params, name: string, mandatory?: false): number | undefined;
export function intParam(p: Params, name: string, mandatory = false): number | undefined {
  const v = mandatory ? need(p, name) : opt(p, name);
  if (v === undefined) return undefined;
  const s = v.trim();
  const n = Number(s);
  if (!INT_RE.test(s) || !Number.isSafeInteger(n)) throw mandatory ? apiError(-1102, name) : invalid(name);
  return n;
}

/** An enum parameter; a value outside the list answers with `code` (-1130 names the parameter). */
export function enumParam<T extends string>(
  p: Params,
  name: string,
  values: readonly T[],
  code: number,
  mandatory = false,
): T | undefined {
  const v = mandatory ? need(p, name) : opt(p, name);
  if (v === undefined) return undefined;
  if ((values as readonly string[]).includes(v)) return v as T;
  throw code === -1130 ? invalid(name) : apiError(code);
}

/** JSON list parameter (batchOrders, orderIdList, origClientOrderIdList). */
export function jsonParam(p: Params, name: string): unknown {
  const v = need(p, name);
  try {
    return JSON.parse(v);
  } catch {
    throw invalid(name);
  }
}

/** Turns a batch item (numbers, booleans as the client wrote them) into string params. */
export function toParams(item: unknown): Params | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined;
  const out: Params = {};
  for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return out;
}

/** Window rules shared by the history queries. */
export interface TimeWindow {
  start: number;
  end: number;
  /** The client sent startTime (results start there rather than at the most recent). */
  fromStart: boolean;
}

/**
 * startTime/endTime with a maximum span: both absent → the last `span` ms; one absent → span
 * from the other; start > end → -1023 ... (Binance's rule for allOrders/userTrades/allAlgoOrders).
 */
export function timeWindow(p: Params, now: number, span: number, maxSpan: number | undefined): TimeWindow {
  const s = intParam(p, 'startTime');
  const e = intParam(p, 'endTime');
  if (s !== undefined && e !== undefined && s > e) throw apiError(-1023);
  if (s !== undefined && e !== undefined) {
    if (maxSpan !== undefined && e - s > maxSpan)
      throw apiError(-1127, String(Math.round(maxSpan / 3_600_000)));
    return { start: s, end: e, fromStart: true };
  }
  if (s !== undefined) return { start: s, end: s + span, fromStart: true };
  if (e !== undefined) return { start: e - span, end: e, fromStart: false };
  return { start: now - span, end: now, fromStart: false };
}

/** limit with a default and a maximum; out of range → -1130 (0 or negative) or clamped to max. */
export function limitParam(p: Params, def: number, max: number): number {
  const n = intParam(p, 'limit');
  if (n === undefined) return def;
  if (n <= 0) throw invalid('limit');
  return Math.min(n, max);
}
