// The throttler: linked budgets that a request must pass before it is sent, so that a client never
// causes a 429 by itself.
//
// - Per egress address (and server): IP request weight over a rolling minute, Binance's 2400
//   minus a safety margin. One process with several local addresses has several budgets.
// - Per account (and server): order counts over 10 s (300) and over a minute (1200).
//
// The server's window is a rolling minute in 1 s buckets keyed by its receive time (as Binance
// and the simulator count). Locally a charge is booked at send time, moved to the bucket of the
// response's arrival once it is known (the server received it in between), and kept one bucket
// longer than the server keeps it: so the local count is never below the server's at any moment,
// whatever the alignment of the two clocks' seconds. After each response the local count is
// clamped UP to X-MBX-USED-WEIGHT-1M (other processes on the same address) and to the order-count
// headers. 429 pauses the budget until Retry-After; 418 fences the address until the ban ends:
// requests wait or fail fast with IpBannedError, and the ban is logged once.
//
// Waiting is a FIFO per budget with one timer at the moment the head fits; no polling.

import type { Logger } from '../log.ts';
import { IpBannedError, RateLimitError } from './errors.ts';
import { LIMITS, type Weight } from './weights.ts';

/** Counts over a rolling window in fixed buckets, holding each bucket one bucket longer than the window. */
export class RollingWindow {
  private readonly buckets: Float64Array;
  private readonly stamps: Float64Array;
  readonly bucketMs: number;
  readonly windowMs: number;

  constructor(windowMs: number, bucketMs = 1000) {
    const n = Math.ceil(windowMs / bucketMs) + 1;
    this.buckets = new Float64Array(n);
    this.stamps = new Float64Array(n).fill(-1);
    this.bucketMs = bucketMs;
    this.windowMs = windowMs;
  }

  add(now: number, amount: number): void {
    if (amount === 0) return;
    const slot = Math.floor(now / this.bucketMs);
    const i = slot % this.buckets.length;
    if (this.stamps[i] !== slot) {
      this.stamps[i] = slot;
      this.buckets[i] = 0;
    }
    this.buckets[i] += amount;
  }

  /** Takes back `amount` booked at time `at` (if that bucket is still held). */
  subtract(at: number, amount: number): void {
    if (amount === 0) return;
    const slot = Math.floor(at / this.bucketMs);
    const i = slot % this.buckets.length;
    if (this.stamps[i] === slot) this.buckets[i] = Math.max(0, this.buckets[i] - amount);
  }

  /** Moves `amount` booked at `from` to the bucket of `to` (later). */
  move(from: number, to: number, amount: number): void {
    if (amount === 0 || Math.floor(from / this.bucketMs) === Math.floor(to / this.bucketMs)) return;
    this.subtract(from, amount);
    this.add(to, amount);
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

  /** Milliseconds until the total drops to at most `target` (0 if it already has). */
  msUntilBelow(now: number, target: number): number {
    let total = this.total(now);
    if (total <= target) return 0;
    const slot = Math.floor(now / this.bucketMs);
    const n = this.buckets.length;
    const oldest = slot - n + 1;
    const live: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const s = this.stamps[i];
      if (s >= oldest && s <= slot && this.buckets[i] > 0) live.push([s, this.buckets[i]]);
    }
    live.sort((a, b) => a[0] - b[0]);
    for (const [s, v] of live) {
      total -= v;
      if (total <= target) return (s + n) * this.bucketMs - now;
    }
    return n * this.bucketMs;
  }

  clear(): void {
    this.stamps.fill(-1);
    this.buckets.fill(0);
  }
}

export type BanPolicy = 'wait' | 'fail';

interface Waiter {
  amounts: number[];
  enqueuedAt: number;
  whenBanned: BanPolicy;
  resolve: (at: number) => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export interface BudgetUsage {
  kind: 'address' | 'account';
  label: string;
  /** Per window: used now (local, conservative) and the effective limit. */
  used: number[];
  limits: number[];
  /** The server's limits before the safety margin. */
  serverLimits: number[];
  granted: number;
  queued: number;
  waits: number;
  waitedMs: number;
  http429: number;
  http418: number;
  bans: number;
  pausedUntil: number;
  bannedUntil: number;
}

/** A set of linked rolling windows with a FIFO of waiting requests. */
export class Budget {
  readonly windows: RollingWindow[];
  limits: number[];
  serverLimits: number[];
  pausedUntil = 0;
  bannedUntil = 0;
  granted = 0;
  waits = 0;
  waitedMs = 0;
  http429 = 0;
  http418 = 0;
  bans = 0;
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;

  constructor(
    readonly kind: 'address' | 'account',
    readonly label: string,
    windows: Array<{ windowMs: number; limit: number }>,
    safetyMargin: number,
    bucketMs: number,
    private readonly logger?: Logger,
  ) {
    this.windows = windows.map((w) => new RollingWindow(w.windowMs, bucketMs));
    this.serverLimits = windows.map((w) => w.limit);
    this.limits = windows.map((w) => effectiveLimit(w.limit, safetyMargin));
  }

  /** Lowers the limits (a second client asking for a smaller budget on the same address). */
  tighten(serverLimits: number[], safetyMargin: number): void {
    for (let i = 0; i < this.limits.length; i++) {
      const l = serverLimits[i];
      if (l === undefined) continue;
      this.serverLimits[i] = Math.min(this.serverLimits[i], l);
      this.limits[i] = Math.min(this.limits[i], effectiveLimit(l, safetyMargin));
    }
  }

  /** 0 when `amounts` fit now, else the ms until they would (ban and pause included). */
  blockedFor(now: number, amounts: number[]): number {
    let wait = Math.max(0, this.bannedUntil - now, this.pausedUntil - now);
    for (let i = 0; i < this.windows.length; i++) {
      const a = amounts[i];
      if (!a) continue;
      const w = this.windows[i];
      // A request heavier than the whole budget goes alone, into an empty window.
      const target = Math.max(0, this.limits[i] - a);
      wait = Math.max(wait, w.msUntilBelow(now, target));
    }
    return wait;
  }

  get queued(): number {
    return this.queue.length;
  }

  isBanned(now = Date.now()): boolean {
    return this.bannedUntil > now;
  }

  /** Charges at once when nothing waits and the amounts fit; returns the booking time, or undefined. */
  tryTake(amounts: number[], now = Date.now()): number | undefined {
    if (this.queue.length > 0 || this.blockedFor(now, amounts) > 0) return undefined;
    this.charge(now, amounts);
    return now;
  }

  /** Waits for room (FIFO), charges, resolves with the booking time. */
  take(
    amounts: number[],
    opts: { noWait?: boolean; whenBanned?: BanPolicy; signal?: AbortSignal } = {},
  ): Promise<number> {
    const now = Date.now();
    const whenBanned = opts.whenBanned ?? 'fail';
    if (this.bannedUntil > now && (whenBanned === 'fail' || opts.noWait)) {
      return Promise.reject(this.bannedError());
    }
    const at = this.tryTake(amounts, now);
    if (at !== undefined) return Promise.resolve(at);
    if (opts.noWait) {
      const ms = this.blockedFor(now, amounts);
      return Promise.reject(
        new RateLimitError(
          `${this.kind === 'address' ? 'request weight' : 'order count'} budget of ${this.label} is used up for ${Math.ceil(ms)} ms (not sent)`,
          { retryAfterMs: ms, scope: this.kind === 'address' ? 'ip' : 'orders' },
        ),
      );
    }
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = { amounts, enqueuedAt: now, whenBanned, resolve, reject, signal: opts.signal };
      if (opts.signal) {
        w.onAbort = () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          reject(abortError(opts.signal!));
          this.pump();
        };
        opts.signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
      this.waits++;
      this.pump();
    });
  }

  /** Gives back a charge that was never sent. */
  refund(at: number, amounts: number[]): void {
    for (let i = 0; i < this.windows.length; i++) this.windows[i].subtract(at, amounts[i] ?? 0);
    this.granted = Math.max(0, this.granted - 1);
    if (this.queue.length > 0) this.pump();
  }

  /** The server received the request between `sentAt` and `doneAt`: book it at the latter. */
  settle(sentAt: number, doneAt: number, amounts: number[]): void {
    for (let i = 0; i < this.windows.length; i++) this.windows[i].move(sentAt, doneAt, amounts[i] ?? 0);
  }

  /** Raises window i's count to what the server reported (never lowers it). */
  clampUp(i: number, serverCount: number, now = Date.now()): void {
    const w = this.windows[i];
    if (!w || !(serverCount > 0)) return;
    const local = w.total(now);
    if (serverCount > local) w.add(now, serverCount - local);
  }

  /** 429: nothing leaves this budget before `until`. Logged once per pause. */
  pause(until: number, detail: Record<string, unknown> = {}): void {
    const now = Date.now();
    if (until > this.pausedUntil) {
      if (this.pausedUntil <= now) {
        this.logger?.warn(
          { [this.kind]: this.label, pausedForMs: until - now, ...detail },
          `429: ${this.kind} ${this.label} paused until the limit has room`,
        );
      }
      this.pausedUntil = until;
    }
    this.pump();
  }

  /** 418: the address is banned until `until`. Logged once per ban. */
  ban(until: number, detail: Record<string, unknown> = {}): void {
    const now = Date.now();
    if (until <= now) return;
    if (this.bannedUntil <= now) {
      this.bans++;
      this.logger?.error(
        { address: this.label, until: new Date(until).toISOString(), banMs: until - now, ...detail },
        `418: IP ${this.label} banned by the exchange; its requests are fenced until the ban ends`,
      );
    }
    if (until > this.bannedUntil) this.bannedUntil = until;
    this.pump();
  }

  bannedError(): IpBannedError {
    return new IpBannedError(
      `IP ${this.label} is banned until ${new Date(this.bannedUntil).toISOString()} (request not sent)`,
      { until: this.bannedUntil, address: this.label, status: 418, code: -1003 },
    );
  }

  private charge(now: number, amounts: number[]): void {
    for (let i = 0; i < this.windows.length; i++) this.windows[i].add(now, amounts[i] ?? 0);
    this.granted++;
  }

  private pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const now = Date.now();
    if (this.bannedUntil > now) {
      // Fail-fast waiters leave now; the others wait for the end of the ban.
      for (let i = this.queue.length - 1; i >= 0; i--) {
        const w = this.queue[i];
        if (w.whenBanned === 'fail') {
          this.queue.splice(i, 1);
          this.detach(w);
          w.reject(this.bannedError());
        }
      }
    }
    while (this.queue.length > 0) {
      const w = this.queue[0];
      const wait = this.blockedFor(now, w.amounts);
      if (wait > 0) {
        this.timerAt = now + wait;
        this.timer = setTimeout(() => this.pump(), Math.ceil(wait) + 1);
        return;
      }
      this.queue.shift();
      this.detach(w);
      this.charge(now, w.amounts);
      this.waitedMs += now - w.enqueuedAt;
      w.resolve(now);
    }
  }

  private detach(w: Waiter): void {
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
  }

  usage(now = Date.now()): BudgetUsage {
    return {
      kind: this.kind,
      label: this.label,
      used: this.windows.map((w) => w.total(now)),
      limits: [...this.limits],
      serverLimits: [...this.serverLimits],
      granted: this.granted,
      queued: this.queue.length,
      waits: this.waits,
      waitedMs: Math.round(this.waitedMs),
      http429: this.http429,
      http418: this.http418,
      bans: this.bans,
      pausedUntil: this.pausedUntil > now ? this.pausedUntil : 0,
      bannedUntil: this.bannedUntil > now ? this.bannedUntil : 0,
    };
  }

  /** When the head of the queue is next checked (0: no timer). */
  get nextCheckAt(): number {
    return this.timer ? this.timerAt : 0;
  }
}

function effectiveLimit(limit: number, safetyMargin: number): number {
  return Math.max(1, Math.floor(limit * (1 - safetyMargin)));
}

function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  return r instanceof Error ? r : new Error('aborted while waiting for rate-limit budget');
}

export interface BudgetConfig {
  /** The server's IP weight per minute (Binance 2400; the simulator's --weight-limit). */
  weightLimit?: number;
  ordersPer10s?: number;
  ordersPerMinute?: number;
  /** Fraction of each limit kept free (default 0.02). */
  safetyMargin?: number;
  logger?: Logger;
}

export interface ThrottlerOptions {
  /** Window lengths (ms); tests shorten them. Defaults: 60 s weight, 10 s and 60 s orders. */
  weightWindowMs?: number;
  orders10sWindowMs?: number;
  orders1mWindowMs?: number;
  bucketMs?: number;
}

/** A granted request: what was charged where and when, to settle or refund. */
export interface Permit {
  address: Budget;
  addressAt: number;
  ip: number;
  account?: Budget;
  accountAt?: number;
  orders: [number, number];
}

export const DEFAULT_SAFETY_MARGIN = 0.02;

/** The registry of budgets: one per (server, egress address) and one per (server, account). */
export class Throttler {
  private readonly addresses = new Map<string, Budget>();
  private readonly accounts = new Map<string, Budget>();
  private readonly weightWindowMs: number;
  private readonly orders10sWindowMs: number;
  private readonly orders1mWindowMs: number;
  private readonly bucketMs: number;

  constructor(opts: ThrottlerOptions = {}) {
    this.weightWindowMs = opts.weightWindowMs ?? 60_000;
    this.orders10sWindowMs = opts.orders10sWindowMs ?? 10_000;
    this.orders1mWindowMs = opts.orders1mWindowMs ?? 60_000;
    this.bucketMs = opts.bucketMs ?? 1000;
  }

  /** The weight budget of an egress address (key: server + address). */
  address(key: string, label: string, cfg: BudgetConfig = {}): Budget {
    const margin = cfg.safetyMargin ?? DEFAULT_SAFETY_MARGIN;
    const limit = cfg.weightLimit ?? LIMITS.weightPerMinute;
    let b = this.addresses.get(key);
    if (!b) {
      b = new Budget(
        'address',
        label,
        [{ windowMs: this.weightWindowMs, limit }],
        margin,
        this.bucketMs,
        cfg.logger,
      );
      this.addresses.set(key, b);
    } else b.tighten([limit], margin);
    return b;
  }

  /** The order-count budget of an account (key: server + API key). */
  account(key: string, label: string, cfg: BudgetConfig = {}): Budget {
    const margin = cfg.safetyMargin ?? DEFAULT_SAFETY_MARGIN;
    const limits = [cfg.ordersPer10s ?? LIMITS.ordersPer10s, cfg.ordersPerMinute ?? LIMITS.ordersPerMinute];
    let b = this.accounts.get(key);
    if (!b) {
      b = new Budget(
        'account',
        label,
        [
          { windowMs: this.orders10sWindowMs, limit: limits[0] },
          { windowMs: this.orders1mWindowMs, limit: limits[1] },
        ],
        margin,
        this.bucketMs,
        cfg.logger,
      );
      this.accounts.set(key, b);
    } else b.tighten(limits, margin);
    return b;
  }

  /** Grants at once if both budgets have room and nobody waits; otherwise undefined. */
  tryAcquire(address: Budget, account: Budget | undefined, weight: Weight): Permit | undefined {
    const now = Date.now();
    const orders: [number, number] = [weight.orders10s, weight.orders1m];
    const needsAccount = account !== undefined && (orders[0] > 0 || orders[1] > 0);
    if (address.queued > 0 || address.blockedFor(now, [weight.ip]) > 0) return undefined;
    if (needsAccount && (account.queued > 0 || account.blockedFor(now, orders) > 0)) return undefined;
    const accountAt = needsAccount ? account.tryTake(orders, now) : undefined;
    const addressAt = address.tryTake([weight.ip], now)!;
    return {
      address,
      addressAt,
      ip: weight.ip,
      account: needsAccount ? account : undefined,
      accountAt,
      orders,
    };
  }

  /** Waits until both budgets have room (account first, then address), charges both. */
  async acquire(
    address: Budget,
    account: Budget | undefined,
    weight: Weight,
    opts: { noWait?: boolean; whenBanned?: BanPolicy; signal?: AbortSignal } = {},
  ): Promise<Permit> {
    const fast = address.isBanned() ? undefined : this.tryAcquire(address, account, weight);
    if (fast) return fast;
    const orders: [number, number] = [weight.orders10s, weight.orders1m];
    const needsAccount = account !== undefined && (orders[0] > 0 || orders[1] > 0);
    // A banned address fails fast before an order-count charge is made.
    if (address.isBanned() && (opts.noWait || (opts.whenBanned ?? 'fail') === 'fail')) {
      throw address.bannedError();
    }
    const accountAt = needsAccount ? await account.take(orders, opts) : undefined;
    let addressAt: number;
    try {
      addressAt = await address.take([weight.ip], opts);
    } catch (err) {
      if (needsAccount && accountAt !== undefined) account.refund(accountAt, orders);
      throw err;
    }
    return {
      address,
      addressAt,
      ip: weight.ip,
      account: needsAccount ? account : undefined,
      accountAt,
      orders,
    };
  }

  /** The request's outcome is known at `doneAt`: the server counted it before then. */
  settle(p: Permit, doneAt = Date.now()): void {
    p.address.settle(p.addressAt, doneAt, [p.ip]);
    if (p.account && p.accountAt !== undefined) p.account.settle(p.accountAt, doneAt, p.orders);
  }

  /** Gives a permit back (the request was never sent). */
  release(p: Permit): void {
    p.address.refund(p.addressAt, [p.ip]);
    if (p.account && p.accountAt !== undefined) p.account.refund(p.accountAt, p.orders);
  }

  usage(): { addresses: BudgetUsage[]; accounts: BudgetUsage[] } {
    const now = Date.now();
    return {
      addresses: [...this.addresses.values()].map((b) => b.usage(now)),
      accounts: [...this.accounts.values()].map((b) => b.usage(now)),
    };
  }
}

/** The process-wide throttler: every client on one (server, address) shares that address's budget. */
export const sharedThrottler = new Throttler();
