// Decimal text the way Binance writes it, plus id generators.

import { randomBytes } from 'node:crypto';
import { Decimal } from '../../core/decimal.ts';

/** Exactly dp decimals ("0.000", "65000.10"). */
export function pad(d: Decimal, dp: number): string {
  return d.toFixed(dp);
}

/** At least minDp decimals, more (up to maxDp) when the value needs them (avgPrice, cumQuote). */
export function padMin(d: Decimal, minDp: number, maxDp = 8): string {
  const dp = Math.max(minDp, Math.min(d.decimalPlaces(), maxDp));
  return d.toFixed(dp);
}

/** Eight decimals, Binance's balance format ("122607.35137903"). */
export function fix8(d: Decimal): string {
  return d.toFixed(8);
}

/** Plain text without trailing zeros, at most 8 decimals ("0", "9.91", "-0.00028"). */
export function plain(d: Decimal): string {
  return d.decimalPlaces() > 8 ? d.round(8).toString() : d.toString();
}

/** Prices of positions (entry, break-even): plain, "0.0" when zero. */
export function posPrice(d: Decimal): string {
  return d.isZero() ? '0.0' : plain(d);
}

/** Plain, "0" for zero (notional, liquidation price, isolated wallet). */
export function zeroOr8(d: Decimal): string {
  return d.isZero() ? '0' : fix8(d);
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A 22-character alphanumeric id, like the ones Binance generates for clientOrderId. */
export function randomClientId(): string {
  const bytes = randomBytes(22);
  let s = '';
  for (let i = 0; i < 22; i++) s += ALNUM[bytes[i] % 62];
  return s;
}

/** FNV-1a, for deterministic per-symbol id bases. */
export function fnv32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** accountAlias as Binance shows it: a short mixed-case tag fixed per account. */
export function accountAlias(apiKey: string): string {
  let h = fnv32(apiKey);
  let s = '';
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  for (let i = 0; i < 4; i++) {
    s += letters[h % 52];
    h = Math.floor(h / 52) + fnv32(s);
  }
  return s;
}

export const ZERO = Decimal.ZERO;
