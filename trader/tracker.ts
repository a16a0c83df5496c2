// The order tracker: every order of a trader (or of the gateway) from the decision to its end.
//
// - The client order id is deterministic from (trader, intent) and the order is recorded
//   (in memory, and appended to a journal file when configured) before the request is sent; a
//   second submit of the same id is refused: the same decision can never become two orders.
// - States: new → inflight → open | partial | filled | cancelled | rejected | expired, and
//   `unknown` when the POST's outcome is unknown (timeout, 5xx, 503 "Unknown error"): the order
//   stays unknown until a query by origClientOrderId or the user stream settles it. Never a
//   blind resend. Not found for `settleWindowMs` after the send → rejected (it was not placed).
// - Reconciliation with the exchange on start and periodically: open orders carrying this
//   trader's prefix that the tracker does not know are adopted or cancelled (policy); tracked
//   orders that are no longer open are queried for their final state.
// - Maker-with-timeout: a resting maker order is cancelled after its timeout and, when the intent
//   says so, the unfilled rest is sent as a taker order (its own deterministic id: `<key>:t`) --
//   only once the maker is final (cancelled or expired, not filled): a cancel that fails is
//   retried (bounded), never a taker beside a maker that may still rest. A post-only order the
//   exchange expires at once (GTX would have taken) falls through to the taker the same way. The
//   maker carries `followUpId` from the moment its follow-up is decided (before its final state
//   is published), and `beforeFollowUp` (pre-trade risk) may refuse an opening follow-up.
// - Fills are kept per symbol with their exchange time, so a trader's position view can include
//   fills newer than the last position record it got; a fill no newer than the last position
//   record is already in it and is not counted again.
// - With a journal, `restore()` at start reloads the orders of the last 24 h: their ids are known
//   (the same decision is never sent again after a restart), and the unfinished ones are settled
//   by query.

import { EventEmitter } from 'node:events';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { NewOrderParams } from '../core/binance/endpoints.ts';
import {
  BinanceError,
  NetworkError,
  OrderNotFoundError,
  UnknownOutcomeError,
} from '../core/binance/errors.ts';
import type { Order } from '../core/binance/schemas.ts';
import { Decimal } from '../core/decimal.ts';
import type { Logger } from '../core/log.ts';
import { clientIdPrefix, clientOrderId } from './orders.ts';
import { PendingFills } from './pending-fills.ts';

export type OrderState =
  | 'new'
  | 'inflight'
  | 'unknown'
  | 'open'
  | 'partial'
  | 'filled'
  | 'cancelled'
  | 'rejected'
  | 'expired';

const FINAL: ReadonlySet<OrderState> = new Set(['filled', 'cancelled', 'rejected', 'expired']);
const RANK: Record<OrderState, number> = {
  new: 0,
  inflight: 1,
  unknown: 2,
  open: 3,
  partial: 4,
  filled: 5,
  cancelled: 5,
  rejected: 5,
  expired: 5,
};

/** An exchange view older than what is known, or one that would move a final order back. */
export function stale(
  o: Pick<TrackedOrder, 'state' | 'status' | 'exchangeTime'>,
  next: OrderState,
  time: number | undefined,
): boolean {
  // A local verdict (refused, or not found after the settle window) yields to the exchange's own.
  if (FINAL.has(o.state)) return !(o.state === 'rejected' && o.status === undefined);
  if (o.exchangeTime === undefined || time === undefined) return false;
  return time < o.exchangeTime || (time === o.exchangeTime && RANK[next] < RANK[o.state]);
}

export function isFinal(s: OrderState): boolean {
  return FINAL.has(s);
}

export interface TrackedOrder {
  clientOrderId: string;
  intentKey: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  type: string;
  quantity: string;
  price?: string;
  reduceOnly: boolean;
  state: OrderState;
  orderId?: number;
  executedQty: string;
  avgPrice?: string;
  /** Exchange status text as last seen. */
  status?: string;
  error?: string;
  maker?: { timeoutMs: number; thenTaker: boolean };
  /** Local times (ms). */
  createdAt: number;
  sentAt?: number;
  updatedAt: number;
  /** Exchange updateTime of the last state seen. */
  exchangeTime?: number;
  adopted?: boolean;
  /** Restored from the journal at start. */
  restored?: boolean;
  /**
   * The taker follow-up of this maker order (its client order id), set before the maker's final
   * state is published: whoever follows the maker follows this order next.
   */
  followUpId?: string;
  /** This order is the taker follow-up of that maker order. */
  followUpOf?: string;
}

/** What the tracker needs of FuturesApi. */
export interface OrderApi {
  newOrder(p: NewOrderParams): Promise<Order>;
  getOrder(p: { symbol: string; origClientOrderId: string }): Promise<Order>;
  cancelOrder(p: { symbol: string; origClientOrderId: string }): Promise<Order>;
  openOrders(symbol?: string): Promise<Order[]>;
}

export interface TrackerOptions {
  api: OrderApi;
  /** The trader (or gateway) name: the prefix of its client order ids. */
  trader: string;
  log?: Logger;
  /** Append every record (before sending) and state change as JSON lines. */
  journalPath?: string;
  /** How long an unknown outcome is queried before "not found" means "not placed" (default 10 s). */
  settleWindowMs?: number;
  /** Delay between settle queries (default 250 ms, doubling to 2 s). */
  settleRetryMs?: number;
  /** Unknown open orders with this trader's prefix: adopt (track) or cancel (default adopt). */
  orphanPolicy?: 'adopt' | 'cancel';
  /**
   * Pre-trade risk for a maker's taker follow-up: return a reason to refuse it (e.g. the symbol
   * or ALL is banned for an opening order), or undefined to send it (the hook counts it toward
   * the order rate).
   */
  beforeFollowUp?: (maker: TrackedOrder, params: NewOrderParams) => string | undefined;
  /** Cancel attempts at a maker timeout before giving up (default 5; no taker is then sent). */
  cancelAttempts?: number;
}

export interface TrackerEvents {
  update: [order: TrackedOrder];
  /** Just before the request is handed to the client (decision latency ends when it leaves). */
  sending: [order: TrackedOrder];
  /** A maker's taker follow-up was recorded (before its first update). */
  followUp: [maker: TrackedOrder, taker: TrackedOrder];
}

function stateOf(status: string): OrderState {
  switch (status) {
    case 'NEW':
      return 'open';
    case 'PARTIALLY_FILLED':
      return 'partial';
    case 'FILLED':
      return 'filled';
    case 'CANCELED':
      return 'cancelled';
    case 'REJECTED':
      return 'rejected';
    case 'EXPIRED':
    case 'EXPIRED_IN_MATCH':
      return 'expired';
    default:
      return 'open';
  }
}

export class OrderTracker extends EventEmitter<TrackerEvents> {
  readonly trader: string;
  readonly prefix: string;
  private readonly api: OrderApi;
  private readonly log: Logger | undefined;
  private readonly opts: TrackerOptions;
  private readonly orders = new Map<string, TrackedOrder>();
  /** Orders that were not final when last looked at (final ones are dropped lazily): the hot path
   * (pre-trade risk on every intent) iterates these, never the whole day's orders. */
  private readonly live = new Set<TrackedOrder>();
  private readonly done = new Map<
    string,
    { promise: Promise<TrackedOrder>; resolve: (o: TrackedOrder) => void }
  >();
  private readonly fills = new PendingFills();
  /** Maker orders whose timeout cancel is under way (their cancellation leads to the taker). */
  private readonly cancelling = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  readonly stats = {
    submitted: 0,
    duplicates: 0,
    unknown: 0,
    settledByQuery: 0,
    settledByStream: 0,
    adopted: 0,
    cancelledOrphans: 0,
    makerTimeouts: 0,
    followUps: 0,
    followUpsRefused: 0,
    restored: 0,
  };

  constructor(opts: TrackerOptions) {
    super();
    this.opts = opts;
    this.api = opts.api;
    this.trader = opts.trader;
    this.prefix = clientIdPrefix(opts.trader);
    this.log = opts.log;
  }

  get(clientOrderId: string): TrackedOrder | undefined {
    return this.orders.get(clientOrderId);
  }

  list(): TrackedOrder[] {
    return [...this.orders.values()];
  }

  /** Orders of the symbol that are not final. */
  active(symbol: string): number {
    let n = 0;
    for (const o of this.liveOrders()) if (o.symbol === symbol) n++;
    return n;
  }

  /** The orders that are not final (dropping the ones that became final since the last look). */
  private *liveOrders(): Generator<TrackedOrder> {
    for (const o of this.live) {
      if (FINAL.has(o.state)) this.live.delete(o);
      else yield o;
    }
  }

  /**
   * Opening (not reduce-only) orders of the symbol that are not final, and their unfilled base
   * quantity (what pre-trade risk adds to the symbol's exposure).
   */
  activeOpening(symbol: string): { count: number; qty: number } {
    let count = 0;
    let qty = 0;
    for (const o of this.liveOrders()) {
      if (o.symbol !== symbol || o.reduceOnly) continue;
      count++;
      const rest = Number(o.quantity) - Number(o.executedQty);
      if (rest > 0) qty += rest;
    }
    return { count, qty };
  }

  /** Symbols with an opening order that is not final. */
  activeOpeningSymbols(): Set<string> {
    const out = new Set<string>();
    for (const o of this.liveOrders()) if (!o.reduceOnly) out.add(o.symbol);
    return out;
  }

  /** Symbols with fills not yet in a position record. */
  pendingSymbols(): string[] {
    return this.fills.symbols();
  }

  /**
   * Signed quantity filled on the symbol that no position record has reflected yet (see
   * positionSeen). A trader adds it to the last position it got.
   */
  pendingFills(symbol: string): number {
    return this.fills.total(symbol);
  }

  /**
   * A position record with exchange time `ts` arrived: fills up to ts are in it, and a fill
   * learnt later with a time up to ts is not counted (it is in the record already).
   */
  positionSeen(symbol: string, ts: number): void {
    this.fills.positionSeen(symbol, ts);
  }

  /** Resolves when the order's outcome is known (any state but new, inflight, unknown). */
  settled(clientOrderId: string): Promise<TrackedOrder> {
    const o = this.orders.get(clientOrderId);
    if (!o) return Promise.reject(new Error(`unknown order ${clientOrderId}`));
    if (!['new', 'inflight', 'unknown'].includes(o.state)) return Promise.resolve(o);
    let d = this.done.get(clientOrderId);
    if (!d) {
      let resolve!: (o: TrackedOrder) => void;
      const promise = new Promise<TrackedOrder>((r) => {
        resolve = r;
      });
      d = { promise, resolve };
      this.done.set(clientOrderId, d);
    }
    return d.promise;
  }

  /**
   * Records and sends an order. `params.newClientOrderId` is the deterministic id (default: from
   * the intent key). Returns undefined when that id is already known (never sent twice).
   */
  submit(
    params: NewOrderParams,
    meta: {
      intentKey: string;
      maker?: { timeoutMs: number; thenTaker: boolean };
      /** This order is the taker follow-up of that maker order. */
      followUpOf?: string;
    },
  ): TrackedOrder | undefined {
    if (this.closed) return undefined;
    const id = params.newClientOrderId ?? clientOrderId(this.trader, meta.intentKey);
    if (this.orders.has(id)) {
      this.stats.duplicates++;
      return undefined;
    }
    const now = Date.now();
    const o: TrackedOrder = {
      clientOrderId: id,
      intentKey: meta.intentKey,
      symbol: params.symbol,
      side: params.side,
      type: params.timeInForce ? `${params.type} ${params.timeInForce}` : params.type,
      quantity: String(params.quantity ?? ''),
      price: params.price === undefined ? undefined : String(params.price),
      reduceOnly: params.reduceOnly === true,
      state: 'new',
      executedQty: '0',
      maker: meta.maker,
      createdAt: now,
      updatedAt: now,
    };
    if (meta.followUpOf !== undefined) o.followUpOf = meta.followUpOf;
    this.orders.set(id, o);
    this.live.add(o);
    this.journal({ op: 'record', order: o });
    this.stats.submitted++;
    o.state = 'inflight';
    o.sentAt = now;
    this.emit('sending', o);
    const req = this.api.newOrder({ ...params, newClientOrderId: id });
    req.then(
      (answer) => this.apply(answer, 'answer'),
      (err: unknown) => this.failed(o, err),
    );
    return o;
  }

  private failed(o: TrackedOrder, err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err);
    if (err instanceof UnknownOutcomeError || !(err instanceof BinanceError)) {
      // The order may exist. Settle by query (or by the user stream, whichever comes first).
      this.stats.unknown++;
      this.set(o, { state: 'unknown', error: msg });
      this.log?.warn(
        { clientOrderId: o.clientOrderId, symbol: o.symbol, err: msg },
        'order outcome unknown; settling by query',
      );
      void this.settle(o);
      return;
    }
    // A typed refusal (filters, margin, rate limit before processing) or nothing sent at all.
    this.set(o, { state: 'rejected', error: err instanceof NetworkError ? `not sent: ${msg}` : msg });
    this.log?.warn(
      { clientOrderId: o.clientOrderId, symbol: o.symbol, code: err.code, err: msg },
      'order refused',
    );
  }

  private async settle(o: TrackedOrder): Promise<void> {
    const windowMs = this.opts.settleWindowMs ?? 10_000;
    const start = Date.now();
    let delay = this.opts.settleRetryMs ?? 250;
    while (!this.closed && o.state === 'unknown') {
      try {
        const answer = await this.api.getOrder({ symbol: o.symbol, origClientOrderId: o.clientOrderId });
        if (o.state === 'unknown') this.stats.settledByQuery++;
        this.apply(answer, 'query');
        return;
      } catch (err) {
        if (o.state !== 'unknown') return;
        if (err instanceof OrderNotFoundError && Date.now() - start > windowMs) {
          this.set(o, { state: 'rejected', error: `not placed: not found ${windowMs} ms after the send` });
          return;
        }
      }
      await this.sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  /** Applies an exchange view of an order (REST answer or query). Unknown ids are ignored. */
  apply(answer: Order, _via: 'answer' | 'query' | 'reconcile' = 'answer'): TrackedOrder | undefined {
    const o = this.orders.get(answer.clientOrderId);
    if (!o) return undefined;
    if (stale(o, stateOf(answer.status), answer.updateTime)) return o;
    this.set(o, {
      state: stateOf(answer.status),
      status: answer.status,
      orderId: answer.orderId,
      executedQty: answer.executedQty,
      avgPrice: answer.avgPrice,
      exchangeTime: answer.updateTime,
    });
    return o;
  }

  /** A user-data event (ORDER_TRADE_UPDATE); other events are ignored. */
  onUserEvent(ev: { e: string; [k: string]: unknown }): void {
    if (ev.e !== 'ORDER_TRADE_UPDATE') return;
    const x = ev.o as Record<string, unknown> | undefined;
    if (!x || typeof x.c !== 'string') return;
    const o = this.orders.get(x.c);
    if (!o) return;
    const time = Number(x.T ?? ev.E ?? 0);
    if (stale(o, stateOf(String(x.X)), time)) return;
    if (o.state === 'unknown') this.stats.settledByStream++;
    this.set(o, {
      state: stateOf(String(x.X)),
      status: String(x.X),
      orderId: Number(x.i),
      executedQty: String(x.z ?? o.executedQty),
      avgPrice: x.ap === undefined ? o.avgPrice : String(x.ap),
      exchangeTime: time,
    });
  }

  private set(o: TrackedOrder, patch: Partial<TrackedOrder>): void {
    const wasState = o.state;
    const wasExec = o.executedQty;
    Object.assign(o, patch);
    o.updatedAt = Date.now();
    if (!FINAL.has(o.state)) this.live.add(o);
    // A maker that ends unfilled (cancelled by its timeout, or expired: a post-only refusal) goes
    // on as a taker: decided here, before its final state is published, so whoever follows the
    // maker learns the follow-up's id with it.
    const followUp = FINAL.has(o.state) && !FINAL.has(wasState) ? this.decideFollowUp(o) : undefined;
    if (patch.executedQty !== undefined && patch.executedQty !== wasExec) {
      const delta = Number(patch.executedQty) - Number(wasExec);
      this.fills.add(o.symbol, o.side === 'BUY' ? delta : -delta, o.exchangeTime ?? Date.now());
    }
    if (wasState !== o.state || patch.executedQty !== wasExec) {
      this.journal({
        op: 'state',
        id: o.clientOrderId,
        state: o.state,
        executedQty: o.executedQty,
        error: o.error,
        followUpId: o.followUpId,
      });
      this.emit('update', o);
    }
    if (!['new', 'inflight', 'unknown'].includes(o.state)) {
      const d = this.done.get(o.clientOrderId);
      if (d) {
        this.done.delete(o.clientOrderId);
        d.resolve(o);
      }
    }
    if (
      o.maker &&
      (o.state === 'open' || o.state === 'partial') &&
      wasState !== 'open' &&
      wasState !== 'partial'
    )
      this.armMakerTimeout(o);
    if (followUp) this.sendFollowUp(o, followUp);
  }

  /** The taker follow-up of a maker that just became final, or undefined (none, or refused). */
  private decideFollowUp(o: TrackedOrder): NewOrderParams | undefined {
    if (!o.maker?.thenTaker || o.followUpId !== undefined || this.closed) return undefined;
    if (o.state !== 'expired' && !(o.state === 'cancelled' && this.cancelling.has(o.clientOrderId)))
      return undefined;
    let rest: Decimal;
    try {
      rest = Decimal.parse(o.quantity).sub(o.executedQty);
    } catch {
      return undefined;
    }
    if (!rest.isPositive()) return undefined;
    const id = clientOrderId(this.trader, `${o.intentKey}:t`);
    if (this.orders.has(id)) return undefined;
    const params: NewOrderParams = {
      symbol: o.symbol,
      side: o.side,
      type: 'MARKET',
      quantity: rest.toString(),
      reduceOnly: o.reduceOnly || undefined,
      newClientOrderId: id,
    };
    const refused = this.opts.beforeFollowUp?.(o, params);
    if (refused !== undefined) {
      this.stats.followUpsRefused++;
      this.log?.warn(
        { clientOrderId: o.clientOrderId, symbol: o.symbol, reason: refused },
        'maker follow-up refused; no taker sent',
      );
      return undefined;
    }
    o.followUpId = id;
    return params;
  }

  private sendFollowUp(maker: TrackedOrder, params: NewOrderParams): void {
    const t = this.submit(params, { intentKey: `${maker.intentKey}:t`, followUpOf: maker.clientOrderId });
    if (!t) return;
    this.stats.followUps++;
    this.emit('followUp', maker, t);
  }

  private armMakerTimeout(o: TrackedOrder): void {
    const maker = o.maker!;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.makerTimeout(o);
    }, maker.timeoutMs);
    this.timers.add(t);
  }

  private async makerTimeout(o: TrackedOrder): Promise<void> {
    if (this.closed || isFinal(o.state)) return;
    this.stats.makerTimeouts++;
    // The taker goes only once the maker is final (set() decides it on the final state): a cancel
    // that fails (-1015, a timeout) is retried, and a maker that may still rest never has a
    // taker beside it.
    this.cancelling.add(o.clientOrderId);
    try {
      const attempts = Math.max(1, this.opts.cancelAttempts ?? 5);
      let delay = this.opts.settleRetryMs ?? 250;
      for (let i = 0; i < attempts && !this.closed && !isFinal(o.state); i++) {
        if (i > 0) {
          await this.sleep(delay);
          delay = Math.min(delay * 2, 2000);
          if (this.closed || isFinal(o.state)) break;
        }
        try {
          this.apply(
            await this.api.cancelOrder({ symbol: o.symbol, origClientOrderId: o.clientOrderId }),
            'query',
          );
        } catch (err) {
          // Filled meanwhile (-2011), or the cancel failed: the query says which.
          this.log?.debug(
            { clientOrderId: o.clientOrderId, err: String(err) },
            'maker timeout: cancel failed',
          );
          try {
            this.apply(
              await this.api.getOrder({ symbol: o.symbol, origClientOrderId: o.clientOrderId }),
              'query',
            );
          } catch (qerr) {
            this.log?.debug(
              { clientOrderId: o.clientOrderId, err: String(qerr) },
              'maker timeout: query failed',
            );
          }
        }
      }
      if (!isFinal(o.state) && !this.closed)
        this.log?.warn(
          { clientOrderId: o.clientOrderId, state: o.state },
          'maker timeout: the maker could not be cancelled; no taker sent (reconciliation follows it)',
        );
    } finally {
      this.cancelling.delete(o.clientOrderId);
    }
  }

  /**
   * Tracks an order the exchange has and this tracker does not (an orphan found by reconcile, or
   * an order placed before a restart and found by its deterministic id). Returns the tracked order.
   */
  adopt(x: Order, intentKey = `adopted:${x.clientOrderId}`): TrackedOrder {
    const known = this.orders.get(x.clientOrderId);
    if (known) return this.apply(x, 'reconcile') ?? known;
    const now = Date.now();
    const o: TrackedOrder = {
      clientOrderId: x.clientOrderId,
      intentKey,
      symbol: x.symbol,
      side: x.side,
      type: x.type,
      quantity: x.origQty,
      price: x.price,
      reduceOnly: x.reduceOnly,
      state: stateOf(x.status),
      status: x.status,
      orderId: x.orderId,
      executedQty: x.executedQty,
      exchangeTime: x.updateTime,
      createdAt: now,
      updatedAt: now,
      adopted: true,
    };
    this.orders.set(x.clientOrderId, o);
    if (!FINAL.has(o.state)) this.live.add(o);
    this.journal({ op: 'adopt', order: o });
    this.stats.adopted++;
    return o;
  }

  /**
   * Reconciles with the exchange: adopts or cancels open orders with this trader's prefix that
   * are not tracked, and queries tracked non-final orders that are no longer open.
   */
  async reconcile(): Promise<{ adopted: number; cancelled: number; queried: number }> {
    const open = await this.api.openOrders();
    const openIds = new Set<string>();
    let adopted = 0;
    let cancelled = 0;
    let queried = 0;
    for (const x of open) {
      openIds.add(x.clientOrderId);
      if (!x.clientOrderId.startsWith(this.prefix)) continue;
      if (this.orders.has(x.clientOrderId)) {
        this.apply(x, 'reconcile');
        continue;
      }
      if ((this.opts.orphanPolicy ?? 'adopt') === 'cancel') {
        try {
          await this.api.cancelOrder({ symbol: x.symbol, origClientOrderId: x.clientOrderId });
          cancelled++;
          this.stats.cancelledOrphans++;
        } catch (err) {
          this.log?.warn({ clientOrderId: x.clientOrderId, err: String(err) }, 'orphan cancel failed');
        }
        continue;
      }
      this.adopt(x);
      adopted++;
    }
    for (const o of this.orders.values()) {
      if (isFinal(o.state) || o.state === 'new' || o.state === 'inflight' || o.state === 'unknown') continue;
      if (openIds.has(o.clientOrderId)) continue;
      try {
        this.apply(
          await this.api.getOrder({ symbol: o.symbol, origClientOrderId: o.clientOrderId }),
          'reconcile',
        );
        queried++;
      } catch (err) {
        this.log?.warn({ clientOrderId: o.clientOrderId, err: String(err) }, 'reconcile query failed');
      }
    }
    return { adopted, cancelled, queried };
  }

  /**
   * Reloads the journal (when one is configured): every order recorded in the last `maxAgeMs`
   * (default 24 h) becomes known again, so submit() refuses its id (Binance accepts a client id
   * again once its order is no longer open: a restarted trader must not send the same decision
   * twice). Orders the journal leaves unfinished are settled by query (getOrder by
   * origClientOrderId); one the exchange does not know within the settle window was not placed.
   * Call once, before sending anything.
   */
  restore(maxAgeMs = 86_400_000): { loaded: number; settling: number } {
    const path = this.opts.journalPath;
    if (!path || !existsSync(path)) return { loaded: 0, settling: 0 };
    const since = Date.now() - maxAgeMs;
    const found = new Map<string, TrackedOrder>();
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let e: { t?: number; op?: string; order?: TrackedOrder; id?: string; [k: string]: unknown };
      try {
        e = JSON.parse(line);
      } catch {
        continue; // a torn last line after a crash
      }
      if ((e.op === 'record' || e.op === 'adopt') && e.order && typeof e.order.clientOrderId === 'string') {
        if ((e.t ?? 0) < since) continue;
        found.set(e.order.clientOrderId, { ...e.order });
      } else if (e.op === 'state' && typeof e.id === 'string') {
        const o = found.get(e.id);
        if (!o) continue;
        if (typeof e.state === 'string') o.state = e.state as OrderState;
        if (typeof e.executedQty === 'string') o.executedQty = e.executedQty;
        if (typeof e.error === 'string') o.error = e.error;
        if (typeof e.followUpId === 'string') o.followUpId = e.followUpId;
      }
    }
    let loaded = 0;
    const unsettled: TrackedOrder[] = [];
    for (const o of found.values()) {
      if (this.orders.has(o.clientOrderId)) continue;
      o.restored = true;
      o.exchangeTime = undefined;
      o.updatedAt = Date.now();
      this.orders.set(o.clientOrderId, o);
      loaded++;
      if (!FINAL.has(o.state)) {
        // Whatever it was, the exchange says what it is now.
        o.state = 'unknown';
        unsettled.push(o);
        this.live.add(o);
      }
    }
    this.stats.restored += loaded;
    for (const o of unsettled) void this.settle(o);
    if (loaded > 0)
      this.log?.info({ loaded, settling: unsettled.length }, 'orders restored from the journal');
    return { loaded, settling: unsettled.length };
  }

  /** Counts by state. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const o of this.orders.values()) out[o.state] = (out[o.state] ?? 0) + 1;
    return out;
  }

  private journal(entry: Record<string, unknown>): void {
    if (!this.opts.journalPath) return;
    appendFileSync(this.opts.journalPath, `${JSON.stringify({ t: Date.now(), ...entry })}\n`);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
