// Rate limits exactly as Binance applies them: IP weight over a rolling minute (2400), account
// order counts over 10 s (300) and 1 min (1200). Over the weight limit → 429 -1003 with
// Retry-After; an IP that keeps sending while limited is banned (418) for a duration that
// doubles with each ban, from 2 minutes up to 3 days.

import { LIMITS } from '../../core/binance/weights.ts';
import type { SimClock } from '../contracts.ts';

/** Counts over a rolling window in fixed buckets (1 s buckets for a 60 s window). */
export class RollingCounter {
  private readonly buckets: Float64Array;
  private readonly stamps: Float64Array;
  private readonly bucketMs: number;

  constructor(windowMs: number, bucketMs: number) {
    const n = Math.ceil(windowMs / bucketMs);
    this.buckets = new Float64Array(n);
    this.stamps = new Float64Array(n).fill(-1);
    this.bucketMs = bucketMs;
  }

  add(now: number, amount: number): void {
    const slot = Math.floor(now / this.bucketMs);
    const i = slot % this.buckets.length;
    if (this.stamps[i] !== slot) {
      this.stamps[i] = slot;
      this.buckets[i] = 0;
    }
    this.buckets[i] += amount;
  }

  total(now: number): number {
    const slot = Math.floor(now / this.bucketMs);
    const oldest = slot - this.buckets.length + 1;
    let sum = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      const s = this.stamps[i];
      if (s >= oldest && s <= slot) sum += this.buckets[i];
    }
    return sum;
  }

  /** Milliseconds until the total would drop to at most `target` (0 if already). */
  msUntilBelow(now: number, target: number): number {
    let total = this.total(now);
    if (total <= target) return 0;
    const slot = Math.floor(now / this.bucketMs);
    const oldest = slot - this.buckets.length + 1;
    const live: Array<[number, number]> = [];
    for (let i = 0; i < this.buckets.length; i++) {
      const s = this.stamps[i];
      if (s >= oldest && s <= slot && this.buckets[i] > 0) live.push([s, this.buckets[i]]);
    }
    live.sort((a, b) => a[0] - b[0]);
    for (const [s, v] of live) {
      total -= v;
      if (total <= target) return (s + this.buckets.length) * this.bucketMs - now;
    }
    return this.buckets.length * this.bucketMs;
  }
}

export interface IpState {
  weight: RollingCounter;
  requests: number;
  http429: number;
  http418: number;
  /** 429s since the window last had room: continued sending while limited escalates to a ban. */
  strikes: number;
  bannedUntil: number;
  bans: number;
}

export type WeightVerdict =
  | { ok: true; used: number }
  | { ok: false; status: 429 | 418; used: number; retryAfterS: number; until?: number };

const BAN_MIN_MS = 2 * 60_000;
const BAN_MAX_MS = 3 * 24 * 3600_000;

export class RateLimiter {
  readonly ips = new Map<string, IpState>();
  readonly weightLimit: number;
  /** 429s an IP may collect while limited before it is banned. */
  readonly strikesBeforeBan: number;

  constructor(
    private readonly clock: SimClock,
    opts: { weightLimit?: number; strikesBeforeBan?: number } = {},
  ) {
    this.weightLimit = opts.weightLimit ?? LIMITS.weightPerMinute;
    this.strikesBeforeBan = opts.strikesBeforeBan ?? 10;
  }

  ip(address: string): IpState {
    let s = this.ips.get(address);
    if (!s) {
      s = {
        weight: new RollingCounter(60_000, 1000),
        requests: 0,
        http429: 0,
        http418: 0,
        strikes: 0,
        bannedUntil: 0,
        bans: 0,
      };
      this.ips.set(address, s);
    }
    return s;
  }

  /** Charges a request's weight to its IP and says whether it may be served. */
  charge(address: string, weight: number): WeightVerdict {
    const now = this.clock.now();
    const s = this.ip(address);
    s.requests++;
    if (s.bannedUntil > now) {
      s.http418++;
      return {
        ok: false,
        status: 418,
        used: s.weight.total(now),
        retryAfterS: Math.ceil((s.bannedUntil - now) / 1000),
        until: s.bannedUntil,
      };
    }
    const before = s.weight.total(now);
    if (before + weight > this.weightLimit) {
      // Rejected requests still count, as on Binance: hammering keeps the window full.
      s.weight.add(now, weight);
      s.strikes++;
      if (s.strikes > this.strikesBeforeBan) {
        const ms = Math.min(BAN_MAX_MS, BAN_MIN_MS * 2 ** s.bans);
        s.bans++;
        s.bannedUntil = now + ms;
        s.strikes = 0;
        s.http418++;
        return {
          ok: false,
          status: 418,
          used: before + weight,
          retryAfterS: Math.ceil(ms / 1000),
          until: s.bannedUntil,
        };
      }
      s.http429++;
      const wait = s.weight.msUntilBelow(now, this.weightLimit - weight);
      return {
        ok: false,
        status: 429,
        used: before + weight,
        retryAfterS: Math.max(1, Math.ceil(wait / 1000)),
      };
    }
    s.strikes = 0;
    s.weight.add(now, weight);
    return { ok: true, used: before + weight };
  }

  used(address: string): number {
    return this.ip(address).weight.total(this.clock.now());
  }

  reset(): void {
    this.ips.clear();
  }
}

export interface OrderCountState {
  tenSeconds: RollingCounter;
  minute: RollingCounter;
  /** Orders refused with 429 -1015 (too many orders). */
  http429: number;
}

export type OrderVerdict =
  | { ok: true; count10s: number; count1m: number }
  | { ok: false; count10s: number; count1m: number; limit: number; per: string; retryAfterS: number };

export class OrderLimiter {
  private readonly accounts = new Map<string, OrderCountState>();

  constructor(
    private readonly clock: SimClock,
    private readonly per10s = LIMITS.ordersPer10s,
    private readonly perMinute = LIMITS.ordersPerMinute,
  ) {}

  private state(apiKey: string): OrderCountState {
    let s = this.accounts.get(apiKey);
    if (!s) {
      s = {
        tenSeconds: new RollingCounter(10_000, 1000),
        minute: new RollingCounter(60_000, 1000),
        http429: 0,
      };
      this.accounts.set(apiKey, s);
    }
    return s;
  }

  counts(apiKey: string): { count10s: number; count1m: number } {
    const now = this.clock.now();
    const s = this.state(apiKey);
    return { count10s: s.tenSeconds.total(now), count1m: s.minute.total(now) };
  }

  charge(apiKey: string, n10s: number, n1m: number): OrderVerdict {
    const now = this.clock.now();
    const s = this.state(apiKey);
    const c10 = s.tenSeconds.total(now);
    const c1m = s.minute.total(now);
    if (c10 + n10s > this.per10s) {
      s.http429++;
      return {
        ok: false,
        count10s: c10,
        count1m: c1m,
        limit: this.per10s,
        per: '10s',
        retryAfterS: Math.max(1, Math.ceil(s.tenSeconds.msUntilBelow(now, this.per10s - n10s) / 1000)),
      };
    }
    if (c1m + n1m > this.perMinute) {
      s.http429++;
      return {
        ok: false,
        count10s: c10,
        count1m: c1m,
        limit: this.perMinute,
        per: '1m',
        retryAfterS: Math.max(1, Math.ceil(s.minute.msUntilBelow(now, this.perMinute - n1m) / 1000)),
      };
    }
    s.tenSeconds.add(now, n10s);
    s.minute.add(now, n1m);
    return { ok: true, count10s: c10 + n10s, count1m: c1m + n1m };
  }

  /** 429 -1015 answers per account (API key). */
  http429ByAccount(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, s] of this.accounts) out.set(k, s.http429);
    return out;
  }

  reset(): void {
    this.accounts.clear();
  }
}
