// A trader's side of the order gateway: sends intents, learns which order carries each one, and
// follows those orders' status by polling until they are final.

import { request } from 'undici';
import type { Logger } from '../core/log.ts';
import { intentId, type Quote } from './orders.ts';
import type { Intent } from './strategy.ts';
import { isFinal, type OrderState, type TrackedOrder } from './tracker.ts';

interface Sent {
  key: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  clientOrderId?: string;
  state: OrderState;
  executedQty: number;
  /** Exchange time of the last fill change. */
  time: number;
  order?: TrackedOrder;
  netted?: boolean;
  error?: string;
}

export class GatewayClient {
  private readonly sent = new Map<string, Sent>();
  private readonly fills = new Map<string, Array<{ qty: number; time: number }>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly opts: { url: string; token: string; trader: string; log?: Logger; pollMs?: number },
  ) {}

  has(key: string): boolean {
    return this.sent.has(key);
  }

  active(symbol: string): number {
    let n = 0;
    for (const s of this.sent.values()) if (s.symbol === symbol && !isFinal(s.state)) n++;
    return n;
  }

  pendingFills(symbol: string): number {
    let q = 0;
    for (const f of this.fills.get(symbol) ?? []) q += f.qty;
    return q;
  }

  positionSeen(symbol: string, ts: number): void {
    const list = this.fills.get(symbol);
    if (!list) return;
    if (list.some((f) => f.time <= ts))
      this.fills.set(
        symbol,
        list.filter((f) => f.time > ts),
      );
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.sent.values()) out[s.state] = (out[s.state] ?? 0) + 1;
    return out;
  }

  list(): TrackedOrder[] {
    return [...this.sent.values()].flatMap((s) => (s.order ? [s.order] : []));
  }

  /** Sends an intent (the gateway sizes and rounds it); returns at once. */
  send(intent: Intent, quote: Quote): void {
    const s: Sent = {
      key: intentId(intent),
      symbol: intent.symbol,
      side: intent.side,
      state: 'inflight',
      executedQty: 0,
      time: 0,
    };
    this.sent.set(s.key, s);
    const q: Record<string, number> = {};
    for (const [k, v] of Object.entries(quote)) if (typeof v === 'number' && v > 0) q[k] = v;
    const body = {
      key: intent.key,
      symbol: intent.symbol,
      action: intent.action,
      side: intent.side,
      size: intent.size,
      style: intent.style,
      refPrice: intent.refPrice !== undefined && intent.refPrice > 0 ? intent.refPrice : undefined,
      quote: q,
      reason: intent.reason?.slice(0, 500),
    };
    this.call('POST', '/v1/intents', body).then(
      ({ status, json }) => {
        if (status !== 200) {
          s.state = status >= 500 ? 'unknown' : 'rejected';
          s.error = JSON.stringify(json);
          this.opts.log?.warn({ status, answer: json, key: intent.key }, 'gateway refused the intent');
          return;
        }
        const a = json as { clientOrderId: string; netted: boolean; order: TrackedOrder };
        s.clientOrderId = a.clientOrderId;
        s.netted = a.netted;
        this.update(s, a.order);
      },
      (err: unknown) => {
        // The gateway may have taken it: the same key asked again answers idempotently.
        s.state = 'unknown';
        s.error = String(err);
        this.schedule();
      },
    );
    this.schedule();
  }

  private update(s: Sent, o: TrackedOrder): void {
    s.order = o;
    s.state = o.state;
    const exec = Number(o.executedQty);
    if (exec !== s.executedQty) {
      const delta = exec - s.executedQty;
      s.executedQty = exec;
      let list = this.fills.get(s.symbol);
      if (!list) {
        list = [];
        this.fills.set(s.symbol, list);
      }
      list.push({ qty: s.side === 'BUY' ? delta : -delta, time: o.exchangeTime ?? Date.now() });
    }
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.opts.pollMs ?? 250);
  }

  private async poll(): Promise<void> {
    let pending = false;
    for (const s of this.sent.values()) {
      if (isFinal(s.state)) continue;
      pending = true;
      try {
        if (s.clientOrderId) {
          const { status, json } = await this.call(
            'GET',
            `/v1/orders/${encodeURIComponent(s.clientOrderId)}`,
          );
          if (status === 200) this.update(s, (json as { order: TrackedOrder }).order);
        }
      } catch {
        // next round
      }
    }
    if (pending) this.schedule();
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const res = await request(`${this.opts.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.opts.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.statusCode, json };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
