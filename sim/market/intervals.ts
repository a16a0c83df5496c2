// Kline interval arithmetic, as Binance aligns bars: fixed intervals from 1m to 3d on multiples of
// their length since the epoch (so 1d opens at 00:00 UTC and 3d every third day counted from
// 1970-01-01), 1w on Mondays 00:00 UTC, 1M on the first of the calendar month.

import type { KlineInterval } from '../contracts.ts';

export const MINUTE = 60_000;
const DAY = 86_400_000;
/** 1970-01-05 was the first Monday after the epoch. */
const MONDAY = 4 * DAY;

const FIXED: Record<Exclude<KlineInterval, '1M'>, number> = {
  '1m': MINUTE,
  '3m': 3 * MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '30m': 30 * MINUTE,
  '1h': 60 * MINUTE,
  '2h': 120 * MINUTE,
  '4h': 240 * MINUTE,
  '6h': 360 * MINUTE,
  '8h': 480 * MINUTE,
  '12h': 720 * MINUTE,
  '1d': DAY,
  '3d': 3 * DAY,
  '1w': 7 * DAY,
};

/** Open time of the bar containing t. */
export function barOpen(interval: KlineInterval, t: number): number {
  if (interval === '1M') {
    const d = new Date(t);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
  const len = FIXED[interval];
  const base = interval === '1w' ? MONDAY : 0;
  return Math.floor((t - base) / len) * len + base;
}

/** Open time of the bar after the one opening at `open`. */
export function nextOpen(interval: KlineInterval, open: number): number {
  if (interval === '1M') {
    const d = new Date(open);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
  return open + FIXED[interval];
}

/** Open time of the bar before the one opening at `open`. */
export function prevOpen(interval: KlineInterval, open: number): number {
  if (interval === '1M') {
    const d = new Date(open);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
  }
  return open - FIXED[interval];
}

/**
 * Open times a GET /fapi/v1/klines query returns, ascending, given the open times of the oldest
 * and the newest (forming) bar that exist. Binance's rules: no times → the newest `limit`;
 * startTime → bars opening at or after it, ascending, `limit` of them; endTime → bars opening at
 * or before it; both → within, counted from startTime.
 */
export function selectOpens(
  interval: KlineInterval,
  firstOpen: number,
  lastOpen: number,
  q: { startTime?: number; endTime?: number; limit: number },
): number[] {
  let lo = firstOpen;
  let hi = lastOpen;
  if (q.endTime !== undefined) hi = Math.min(hi, barOpen(interval, q.endTime));
  if (q.startTime !== undefined) {
    let s = barOpen(interval, q.startTime);
    if (s < q.startTime) s = nextOpen(interval, s);
    lo = Math.max(lo, s);
  }
  const out: number[] = [];
  if (lo > hi || q.limit <= 0) return out;
  if (q.startTime !== undefined) {
    for (let o = lo; o <= hi && out.length < q.limit; o = nextOpen(interval, o)) out.push(o);
    return out;
  }
  for (let o = hi; o >= lo && out.length < q.limit; o = prevOpen(interval, o)) out.push(o);
  return out.reverse();
}

/** Generic Binance time-window selection over an ascending list of times (funding history). */
export function selectByTime(
  times: readonly number[],
  q: { startTime?: number; endTime?: number; limit: number },
): [number, number] {
  let lo = 0;
  let hi = times.length; // exclusive
  if (q.startTime !== undefined) lo = lowerBound(times, q.startTime);
  if (q.endTime !== undefined) hi = lowerBound(times, q.endTime + 1);
  if (lo >= hi) return [0, 0];
  if (q.startTime !== undefined) return [lo, Math.min(hi, lo + q.limit)];
  return [Math.max(lo, hi - q.limit), hi];
}

function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
