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
// Waiting is a queue per budget with one timer at the moment the head fits; no polling. The queue
// is ordered by priority, FIFO within one: clock samples (GET /fapi/v1/time), then writes (orders,
// cancels, anything not a GET), then reads. Reads may not use the last `reserve` units of an
// address's weight, so a clock sample or a cancel finds room at once on a saturated address. A
// request that needs nothing from a budget (weight 0: POST order) only checks its ban/pause fence,
// never the queue. Every wait has a deadline (maxWaitMs): past it the request fails with
// ThrottleTimeoutError (retry-safe, never sent) instead of going out late.
//
// Beside the weight, two per-address request-count pools (fundingRate/fundingInfo 500 / 5 min,
// /futures/data/* 1000 / 5 min) are budgets of their own.

import type { Logger } from '../log.ts';
import { IpBannedError, RateLimitError, ThrottleTimeoutError } from './errors.ts';
import { LIMITS, POOLS, type PoolName, type Weight } from './weights.ts';

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

/** Queue order: lower goes first. Reads may not use an address's reserve. */
export const Priority = { clock: 0, write: 1, read: 2 } as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

export type BudgetKind = 'address' | 'account' | 'pool';

export interface TakeOptions {
  /** Fail at once instead of waiting (RateLimitError). */
  noWait?: boolean;
  whenBanned?: BanPolicy;
  signal?: AbortSignal;
  /** Default read. */
  priority?: Priority;
  /** The longest wait for room (ms); past it ThrottleTimeoutError. Default: no limit. */
  maxWaitMs?: number;
}

interface Waiter {
  amounts: number[];
  zero: boolean;
  priority: Priority;
  enqueuedAt: number;
  deadline: number;
  maxWaitMs: number;
  whenBanned: BanPolicy;
  resolve: (at: number) => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  timer?: NodeJS.Timeout;
}

const isZero = (amounts: number[]): boolean => amounts.every((a) => !a);

export interface BudgetUsage {
  kind: BudgetKind;
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
  /** Requests that gave up waiting (maxWaitMs). */
  timeouts: number;
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
  timeouts = 0;
  /** Units of each window that reads may not use (kept for clock samples and writes). */
  reserve: number[];
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;

  constructor(
    readonly kind: BudgetKind,
    readonly label: string,
    windows: Array<{ windowMs: number; limit: number; reserve?: number }>,
    safetyMargin: number,
    bucketMs: number,
    private readonly logger?: Logger,
  ) {
    this.windows = windows.map((w) => new RollingWindow(w.windowMs, bucketMs));
    this.serverLimits = windows.map((w) => w.limit);
    this.limits = windows.map((w) => effectiveLimit(w.limit, safetyMargin));
    this.reserve = windows.map((w, i) => Math.min(w.reserve ?? 0, this.limits[i] - 1));
  }

  /** Lowers the limits (a second client asking for a smaller budget on the same address). */
  tighten(serverLimits: number[], safetyMargin: number): void {
    for (let i = 0; i < this.limits.length; i++) {
      const l = serverLimits[i];
      if (l === undefined) continue;
      this.serverLimits[i] = Math.min(this.serverLimits[i], l);
      this.limits[i] = Math.min(this.limits[i], effectiveLimit(l, safetyMargin));
      this.reserve[i] = Math.max(0, Math.min(this.reserve[i], this.limits[i] - 1));
    }
  }

  /** The limit of window i for a request of this priority (reads leave the reserve free). */
  limitFor(i: number, priority: Priority): number {
    return priority === Priority.read ? this.limits[i] - this.reserve[i] : this.limits[i];
  }

  /** 0 when `amounts` fit now, else the ms until they would (ban and pause included). */
  blockedFor(now: number, amounts: number[], priority: Priority = Priority.read): number {
    let wait = Math.max(0, this.bannedUntil - now, this.pausedUntil - now);
    for (let i = 0; i < this.windows.length; i++) {
      const a = amounts[i];
      if (!a) continue;
      const w = this.windows[i];
      // A request heavier than the whole budget goes alone, into an empty window.
      const target = Math.max(0, this.limitFor(i, priority) - a);
      wait = Math.max(wait, w.msUntilBelow(now, target));
    }
    return wait;
  }

  /** Whether a request of this priority must wait behind the queue (zero amounts never do). */
  private behindQueue(amounts: number[], priority: Priority): boolean {
    if (isZero(amounts)) return false;
    return this.queue.some((w) => !w.zero && w.priority <= priority);
  }

  /** 0 when the request may go now: fits and nobody it must wait behind is queued. */
  canGo(now: number, amounts: number[], priority: Priority = Priority.read): boolean {
    return !this.behindQueue(amounts, priority) && this.blockedFor(now, amounts, priority) === 0;
  }

  get queued(): number {
    return this.queue.length;
  }

  isBanned(now = Date.now()): boolean {
    return this.bannedUntil > now;
  }

  /** Charges at once when the amounts fit and nothing queued goes first; the booking time, or undefined. */
  tryTake(amounts: number[], now = Date.now(), priority: Priority = Priority.read): number | undefined {
    if (!this.canGo(now, amounts, priority)) return undefined;
    this.charge(now, amounts);
    return now;
  }

  private what(): string {
    return this.kind === 'address'
      ? 'request weight'
      : this.kind === 'account'
        ? 'order count'
        : 'request count';
  }

  private scope(): 'ip' | 'orders' | 'pool' {
    return this.kind === 'address' ? 'ip' : this.kind === 'account' ? 'orders' : 'pool';
  }

  private timeoutError(waitedMs: number, moreMs: number): ThrottleTimeoutError {
    this.timeouts++;
    return new ThrottleTimeoutError(
      `${this.what()} budget of ${this.label}: no room within ${Math.round(waitedMs)} ms (about ${Math.ceil(moreMs)} ms more needed); not sent`,
      { retryAfterMs: moreMs, scope: this.scope(), waitedMs },
    );
  }

  /** Waits for room (priority order, FIFO within one), charges, resolves with the booking time. */
  take(amounts: number[], opts: TakeOptions = {}): Promise<number> {
    const now = Date.now();
    const whenBanned = opts.whenBanned ?? 'fail';
    const priority = opts.priority ?? Priority.read;
    if (this.bannedUntil > now && (whenBanned === 'fail' || opts.noWait)) {
      return Promise.reject(this.bannedError());
    }
    const at = this.tryTake(amounts, now, priority);
    if (at !== undefined) return Promise.resolve(at);
    const ms = this.blockedFor(now, amounts, priority);
    if (opts.noWait) {
      return Promise.reject(
        new RateLimitError(
          `${this.what()} budget of ${this.label} is used up for ${Math.ceil(ms)} ms (not sent)`,
          { retryAfterMs: ms, scope: this.scope() },
        ),
      );
    }
    const maxWaitMs = opts.maxWaitMs ?? Number.POSITIVE_INFINITY;
    // Certain not to fit in time (a 429 pause, a full window): fail now rather than at the deadline.
    // Waiting out a ban (policy 'wait') is what the caller asked for: the deadline counts from its end.
    const banWait = this.bannedUntil > now && whenBanned === 'wait' ? this.bannedUntil - now : 0;
    if (ms - banWait > maxWaitMs) return Promise.reject(this.timeoutError(0, ms));
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = {
        amounts,
        zero: isZero(amounts),
        priority,
        enqueuedAt: now,
        deadline: now + banWait + maxWaitMs,
        maxWaitMs,
        whenBanned,
        resolve,
        reject,
        signal: opts.signal,
      };
      if (opts.signal) {
        w.onAbort = () => {
          this.remove(w);
          reject(abortError(opts.signal!));
          this.pump();
        };
        opts.signal.addEventListener('abort', w.onAbort, { once: true });
      }
      if (Number.isFinite(w.deadline)) this.armDeadline(w);
      // Insert after every waiter of the same or a higher priority.
      let i = this.queue.findIndex((q) => q.priority > priority);
      if (i < 0) i = this.queue.length;
      this.queue.splice(i, 0, w);
      this.waits++;
      this.pump();
    });
  }

  private armDeadline(w: Waiter): void {
    w.timer = setTimeout(
      () => {
        w.timer = undefined;
        if (!this.queue.includes(w)) return;
        const now = Date.now();
        if (w.whenBanned === 'wait' && this.bannedUntil > now) {
          // The ban was extended: the deadline moves with its end.
          w.deadline = this.bannedUntil + w.maxWaitMs;
          this.armDeadline(w);
          return;
        }
        this.remove(w);
        w.reject(this.timeoutError(now - w.enqueuedAt, this.blockedFor(now, w.amounts, w.priority)));
        this.pump();
      },
      Math.max(0, w.deadline - Date.now()),
    );
    w.timer.unref?.();
  }

  private remove(w: Waiter): void {
    const i = this.queue.indexOf(w);
    if (i >= 0) this.queue.splice(i, 1);
    this.detach(w);
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
    // In queue order; the first waiter that needs room and has none blocks those behind it that
    // need room too. Waiters that need nothing (zero amounts) only wait for the fence.
    let next = Number.POSITIVE_INFINITY;
    let blocked = false;
    for (let i = 0; i < this.queue.length; ) {
      const w = this.queue[i];
      if (!w.zero && blocked) {
        i++;
        continue;
      }
      const wait = this.blockedFor(now, w.amounts, w.priority);
      if (wait > 0) {
        if (!w.zero) blocked = true;
        next = Math.min(next, wait);
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.detach(w);
      this.charge(now, w.amounts);
      this.waitedMs += now - w.enqueuedAt;
      w.resolve(now);
    }
    if (Number.isFinite(next)) {
      this.timerAt = now + next;
      this.timer = setTimeout(() => this.pump(), Math.ceil(next) + 1);
    }
  }

  private detach(w: Waiter): void {
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    if (w.timer) clearTimeout(w.timer);
    w.timer = undefined;
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
      timeouts: this.timeouts,
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
  /**
   * IP weight reads may not use, kept for clock samples and writes (default: 0.5 % of the
   * effective limit, at least 3: a 3-sample clock sync).
   */
  reserveWeight?: number;
  logger?: Logger;
}

/** The default weight reserve of an address with this effective limit. */
export function defaultReserve(effective: number): number {
  return Math.max(3, Math.ceil(effective * 0.005));
}

export interface ThrottlerOptions {
  /** Window lengths (ms); tests shorten them. Defaults: 60 s weight, 10 s and 60 s orders. */
  weightWindowMs?: number;
  orders10sWindowMs?: number;
  orders1mWindowMs?: number;
  /** The request-count pools' window (default 5 min, reference §4.2). */
  poolWindowMs?: number;
  bucketMs?: number;
}

export interface AcquireOptions extends Omit<TakeOptions, 'maxWaitMs'> {
  /** The longest total wait for room (ms), over every budget involved. */
  maxWaitMs?: number;
  /** The endpoint's request-count pool on this address, if any. */
  pool?: Budget;
}

/** A granted request: what was charged where and when, to settle or refund. */
export interface Permit {
  address: Budget;
  addressAt: number;
  ip: number;
  account?: Budget;
  accountAt?: number;
  orders: [number, number];
  pool?: Budget;
  poolAt?: number;
}

export const DEFAULT_SAFETY_MARGIN = 0.02;

/** The registry of budgets: one per (server, egress address) and one per (server, account). */
export class Throttler {
  private readonly addresses = new Map<string, Budget>();
  private readonly accounts = new Map<string, Budget>();
  private readonly pools = new Map<string, Budget>();
  private readonly poolWindowMs: number | undefined;
  private readonly weightWindowMs: number;
  private readonly orders10sWindowMs: number;
  private readonly orders1mWindowMs: number;
  private readonly bucketMs: number;

  constructor(opts: ThrottlerOptions = {}) {
    this.weightWindowMs = opts.weightWindowMs ?? 60_000;
    this.orders10sWindowMs = opts.orders10sWindowMs ?? 10_000;
    this.orders1mWindowMs = opts.orders1mWindowMs ?? 60_000;
    this.poolWindowMs = opts.poolWindowMs;
    this.bucketMs = opts.bucketMs ?? 1000;
  }

  /** The weight budget of an egress address (key: server + address). */
  address(key: string, label: string, cfg: BudgetConfig = {}): Budget {
    const margin = cfg.safetyMargin ?? DEFAULT_SAFETY_MARGIN;
    const limit = cfg.weightLimit ?? LIMITS.weightPerMinute;
    const reserve = cfg.reserveWeight ?? defaultReserve(effectiveLimit(limit, margin));
    let b = this.addresses.get(key);
    if (!b) {
      b = new Budget(
        'address',
        label,
        [{ windowMs: this.weightWindowMs, limit, reserve }],
        margin,
        this.bucketMs,
        cfg.logger,
      );
      this.addresses.set(key, b);
    } else b.tighten([limit], margin);
    return b;
  }

  /** A request-count pool of an egress address (key: server + address). */
  pool(key: string, label: string, name: PoolName, cfg: BudgetConfig = {}): Budget {
    const margin = cfg.safetyMargin ?? DEFAULT_SAFETY_MARGIN;
    const k = `${key}|${name}`;
    let b = this.pools.get(k);
    if (!b) {
      const def = POOLS[name];
      b = new Budget(
        'pool',
        `${label} ${name}`,
        [{ windowMs: this.poolWindowMs ?? def.windowMs, limit: def.limit }],
        margin,
        this.bucketMs,
        cfg.logger,
      );
      this.pools.set(k, b);
    }
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

  /** Grants at once if every budget involved has room and nobody queued goes first; otherwise undefined. */
  tryAcquire(
    address: Budget,
    account: Budget | undefined,
    weight: Weight,
    priority: Priority = Priority.read,
    pool?: Budget,
  ): Permit | undefined {
    const now = Date.now();
    const orders: [number, number] = [weight.orders10s, weight.orders1m];
    const needsAccount = account !== undefined && (orders[0] > 0 || orders[1] > 0);
    if (!address.canGo(now, [weight.ip], priority)) return undefined;
    if (needsAccount && !account.canGo(now, orders, priority)) return undefined;
    if (pool && !pool.canGo(now, [1], priority)) return undefined;
    const accountAt = needsAccount ? account.tryTake(orders, now, priority) : undefined;
    const poolAt = pool ? pool.tryTake([1], now, priority) : undefined;
    const addressAt = address.tryTake([weight.ip], now, priority)!;
    return {
      address,
      addressAt,
      ip: weight.ip,
      account: needsAccount ? account : undefined,
      accountAt,
      orders,
      pool,
      poolAt,
    };
  }

  /**
   * Waits until every budget has room (account, then pool, then address), charges them all.
   * `maxWaitMs` bounds the whole wait: past it ThrottleTimeoutError, nothing charged.
   */
  async acquire(
    address: Budget,
    account: Budget | undefined,
    weight: Weight,
    opts: AcquireOptions = {},
  ): Promise<Permit> {
    const priority = opts.priority ?? Priority.read;
    const fast = address.isBanned()
      ? undefined
      : this.tryAcquire(address, account, weight, priority, opts.pool);
    if (fast) return fast;
    const orders: [number, number] = [weight.orders10s, weight.orders1m];
    const needsAccount = account !== undefined && (orders[0] > 0 || orders[1] > 0);
    // A banned address fails fast before an order-count charge is made.
    if (address.isBanned() && (opts.noWait || (opts.whenBanned ?? 'fail') === 'fail')) {
      throw address.bannedError();
    }
    const start = Date.now();
    const left = () =>
      opts.maxWaitMs === undefined ? undefined : Math.max(0, opts.maxWaitMs - (Date.now() - start));
    const takeOpts = (): TakeOptions => ({
      noWait: opts.noWait,
      whenBanned: opts.whenBanned,
      signal: opts.signal,
      priority,
      maxWaitMs: left(),
    });
    const accountAt = needsAccount ? await account.take(orders, takeOpts()) : undefined;
    let poolAt: number | undefined;
    let addressAt: number;
    try {
      if (opts.pool) poolAt = await opts.pool.take([1], takeOpts());
      addressAt = await address.take([weight.ip], takeOpts());
    } catch (err) {
      if (needsAccount && accountAt !== undefined) account.refund(accountAt, orders);
      if (opts.pool && poolAt !== undefined) opts.pool.refund(poolAt, [1]);
      throw err;
    }
    return {
      address,
      addressAt,
      ip: weight.ip,
      account: needsAccount ? account : undefined,
      accountAt,
      orders,
      pool: opts.pool,
      poolAt,
    };
  }

  /** The request's outcome is known at `doneAt`: the server counted it before then. */
  settle(p: Permit, doneAt = Date.now()): void {
    p.address.settle(p.addressAt, doneAt, [p.ip]);
    if (p.account && p.accountAt !== undefined) p.account.settle(p.accountAt, doneAt, p.orders);
    if (p.pool && p.poolAt !== undefined) p.pool.settle(p.poolAt, doneAt, [1]);
  }

  /** Gives a permit back (the request was never sent). */
  release(p: Permit): void {
    p.address.refund(p.addressAt, [p.ip]);
    if (p.account && p.accountAt !== undefined) p.account.refund(p.accountAt, p.orders);
    if (p.pool && p.poolAt !== undefined) p.pool.refund(p.poolAt, [1]);
  }

  usage(): { addresses: BudgetUsage[]; accounts: BudgetUsage[]; pools: BudgetUsage[] } {
    const now = Date.now();
    return {
      addresses: [...this.addresses.values()].map((b) => b.usage(now)),
      accounts: [...this.accounts.values()].map((b) => b.usage(now)),
      pools: [...this.pools.values()].map((b) => b.usage(now)),
    };
  }
}

/** The process-wide throttler: every client on one (server, address) shares that address's budget. */
export const sharedThrottler = new Throttler();
