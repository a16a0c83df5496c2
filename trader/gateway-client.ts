// A trader's side of the order gateway: sends intents, learns which order carries each one, and
// follows those orders' status until they are final: pushed by the gateway's event stream
// (GET /v1/events, Server-Sent Events), with polling as the fallback while the stream is down.
//
// - A maker's taker follow-up is followed as the same intent: the maker's final state carries
//   `followUpId`, and the intent stays active (never `cancelled`) until the follow-up is final.
// - Views of an order are applied like the tracker applies the exchange's: an older one (a late
//   poll answer) never moves an order back, nor its filled quantity down.
// - A fill no newer than the last position record is in that record already: not counted again.

import { request } from 'undici';
import type { Logger } from '../core/log.ts';
import { intentId, type Quote } from './orders.ts';
import { PendingFills } from './pending-fills.ts';
import type { Intent } from './strategy.ts';
import { isFinal, type OrderState, stale, type TrackedOrder } from './tracker.ts';

interface Sent {
  key: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  /** Not reduce-only (counts toward exposure while active). */
  opening: boolean;
  /** Base quantity estimated at the decision price (until the gateway's order says). */
  estQty: number;
  /** The order followed now (a maker's follow-up replaces it). */
  clientOrderId?: string;
  state: OrderState;
  /** Filled over every leg (maker, then its follow-up). */
  executedQty: number;
  /** Filled by the legs before the current one. */
  doneExec: number;
  /** Exchange time of the last fill change. */
  time: number;
  order?: TrackedOrder;
  netted?: boolean;
  error?: string;
  /** The request body, kept to ask again when the answer was lost. */
  body: Record<string, unknown>;
  /** A POST is on its way (no second one meanwhile). */
  posting: boolean;
  asks: number;
  /** Local time of the first POST, and when the next ask may go. */
  firstAskAt: number;
  nextAskAt: number;
}

export class GatewayClient {
  private readonly sent = new Map<string, Sent>();
  private readonly fills = new PendingFills();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private tick = 0;
  private eventsAbort: AbortController | undefined;
  /** The event stream is up (polling slows to a safety net). */
  eventsConnected = false;
  readonly stats = { pushed: 0, polled: 0, eventStreams: 0, followUps: 0, staleViews: 0 };

  constructor(
    private readonly opts: {
      url: string;
      token: string;
      trader: string;
      log?: Logger;
      pollMs?: number;
      /** After this long without an answer a re-asked intent is looked up, not placed (30 s). */
      intentTtlMs?: number;
      /** Follow the gateway's event stream (default true). */
      events?: boolean;
    },
  ) {
    if (opts.events !== false) void this.followEvents();
  }

  /** Reads GET /v1/events for as long as the client lives, reconnecting with backoff. */
  private async followEvents(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      const ac = new AbortController();
      this.eventsAbort = ac;
      try {
        const res = await request(`${this.opts.url}/v1/events`, {
          headers: { authorization: `Bearer ${this.opts.token}`, accept: 'text/event-stream' },
          signal: ac.signal,
          // The gateway sends a comment every 15 s: a minute of silence is a dead stream.
          bodyTimeout: 60_000,
        });
        if (res.statusCode !== 200) {
          await res.body.dump();
          throw new Error(`event stream: HTTP ${res.statusCode}`);
        }
        this.eventsConnected = true;
        this.stats.eventStreams++;
        attempt = 0;
        // Orders may have moved while the stream was down: the next poll catches up.
        this.schedule();
        let buf = '';
        for await (const chunk of res.body) {
          buf += (chunk as Buffer).toString('utf8');
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            this.onEvent(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch (err) {
        if (!this.closed) this.opts.log?.debug({ err: String(err) }, 'gateway event stream down');
      }
      this.eventsConnected = false;
      if (this.closed) return;
      this.schedule();
      const delay = Math.min(250 * 2 ** attempt++, 5000);
      await new Promise((r) => setTimeout(r, delay).unref());
    }
  }

  private onEvent(block: string): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trimStart();
    }
    if (event !== 'order' || data === '') return;
    let o: TrackedOrder;
    try {
      o = (JSON.parse(data) as { order: TrackedOrder }).order;
    } catch {
      return;
    }
    if (typeof o?.clientOrderId !== 'string') return;
    for (const s of this.sent.values())
      if (s.clientOrderId === o.clientOrderId && !isFinal(s.state)) {
        this.update(s, o);
        this.stats.pushed++;
      }
  }

  has(key: string): boolean {
    return this.sent.has(key);
  }

  active(symbol: string): number {
    let n = 0;
    for (const s of this.sent.values()) if (s.symbol === symbol && !isFinal(s.state)) n++;
    return n;
  }

  /** Opening intents of the symbol not yet final, and their unfilled base quantity. */
  activeOpening(symbol: string): { count: number; qty: number } {
    let count = 0;
    let qty = 0;
    for (const s of this.sent.values()) {
      if (s.symbol !== symbol || !s.opening || isFinal(s.state)) continue;
      count++;
      const o = s.order;
      const rest =
        o && o.clientOrderId === s.clientOrderId && Number(o.quantity) > 0
          ? Number(o.quantity) - Number(o.executedQty)
          : s.estQty - s.executedQty;
      if (rest > 0) qty += rest;
    }
    return { count, qty };
  }

  /** Symbols with an opening intent not yet final. */
  activeOpeningSymbols(): Set<string> {
    const out = new Set<string>();
    for (const s of this.sent.values()) if (s.opening && !isFinal(s.state)) out.add(s.symbol);
    return out;
  }

  pendingFills(symbol: string): number {
    return this.fills.total(symbol);
  }

  /** Symbols with fills not yet in a position record. */
  pendingSymbols(): string[] {
    return this.fills.symbols();
  }

  /** A position record with exchange time `ts` arrived: fills up to ts are in it. */
  positionSeen(symbol: string, ts: number): void {
    this.fills.positionSeen(symbol, ts);
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
    const price = Number(quote.last ?? (Number(quote.bid) + Number(quote.ask)) / 2);
    const estQty =
      'base' in intent.size
        ? Number(intent.size.base)
        : Number(intent.size.quote) / (price > 0 ? price : Number.NaN);
    const s: Sent = {
      key: intentId(intent),
      symbol: intent.symbol,
      side: intent.side,
      opening: intent.action !== 'close',
      estQty: Number.isFinite(estQty) ? estQty : 0,
      state: 'inflight',
      executedQty: 0,
      doneExec: 0,
      time: 0,
      body,
      posting: false,
      asks: 0,
      firstAskAt: Date.now(),
      nextAskAt: 0,
    };
    this.sent.set(s.key, s);
    this.post(s);
    this.schedule();
  }

  /**
   * POSTs the intent. An answer lost to the network or a 5xx leaves it `unknown` and the poll
   * asks again with `retry: true`: the gateway then looks for the order under the intent's
   * deterministic id before placing one, so a lost answer never becomes a second order.
   */
  private post(s: Sent): void {
    s.posting = true;
    // Past its time to live an intent is only looked up, never placed: the market it was decided
    // on is gone.
    const late = Date.now() - s.firstAskAt > (this.opts.intentTtlMs ?? 30_000);
    const body =
      s.asks === 0 ? s.body : { ...s.body, retry: true, ...(late ? { placeIfMissing: false } : {}) };
    s.nextAskAt = Date.now() + Math.min(250 * 2 ** s.asks, 5000);
    s.asks++;
    this.call('POST', '/v1/intents', body)
      .then(
        ({ status, json }) => {
          if (status !== 200) {
            s.error = JSON.stringify(json);
            if (status === 404 && (json as { error?: string } | null)?.error === 'not-placed') {
              s.state = 'rejected';
              this.opts.log?.warn({ key: s.body.key }, 'intent expired before the gateway placed it');
            } else if (status >= 500) {
              s.state = 'unknown';
              this.opts.log?.warn(
                { status, answer: json, key: s.body.key },
                'gateway unavailable; will ask again',
              );
            } else {
              s.state = 'rejected';
              this.opts.log?.warn({ status, answer: json, key: s.body.key }, 'gateway refused the intent');
            }
            return;
          }
          const a = json as { clientOrderId: string; netted: boolean; order: TrackedOrder };
          s.clientOrderId = a.clientOrderId;
          s.netted = a.netted;
          s.error = undefined;
          this.update(s, a.order);
        },
        (err: unknown) => {
          s.state = 'unknown';
          s.error = String(err);
        },
      )
      .finally(() => {
        s.posting = false;
        if (!isFinal(s.state)) this.schedule();
      });
  }

  private update(s: Sent, o: TrackedOrder): void {
    // A leg this intent no longer follows (a maker whose follow-up took over): nothing new.
    if (s.clientOrderId !== undefined && o.clientOrderId !== s.clientOrderId) return;
    const prev = s.order;
    if (prev && prev.clientOrderId === o.clientOrderId) {
      // A late view (a poll answer overtaken by a pushed event): never back, never less filled.
      if (stale(prev, o.state, o.exchangeTime) || Number(o.executedQty) < Number(prev.executedQty)) {
        this.stats.staleViews++;
        return;
      }
    }
    s.order = o;
    s.state = o.state;
    const exec = s.doneExec + Number(o.executedQty);
    if (exec !== s.executedQty) {
      const delta = exec - s.executedQty;
      s.executedQty = exec;
      this.fills.add(s.symbol, s.side === 'BUY' ? delta : -delta, o.exchangeTime ?? Date.now());
    }
    if (isFinal(o.state) && o.followUpId && o.followUpId !== o.clientOrderId) {
      // The maker ended unfilled and the gateway sent its taker follow-up: follow that one.
      s.doneExec = s.executedQty;
      s.clientOrderId = o.followUpId;
      s.state = 'inflight';
      this.stats.followUps++;
      this.schedule();
    }
  }

  /** The gateway's status (its name among it); undefined when it cannot be asked. */
  async info(): Promise<{ name?: string } | undefined> {
    try {
      const { status, json } = await this.call('GET', '/v1/status');
      return status === 200 ? (json as { name?: string }) : undefined;
    } catch {
      return undefined;
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
    // With the event stream up, a status query goes out every 8th round only (a safety net).
    const query = !this.eventsConnected || ++this.tick % 8 === 0;
    const now = Date.now();
    for (const [key, s] of this.sent) {
      if (isFinal(s.state)) {
        // A decision's key is remembered for a day (the same key is never sent twice meanwhile).
        if (now - s.firstAskAt > 86_400_000) this.sent.delete(key);
        continue;
      }
      pending = true;
      if (!s.clientOrderId) {
        if (s.state === 'unknown' && !s.posting && now >= s.nextAskAt) this.post(s);
        continue;
      }
      if (!query) continue;
      try {
        const { status, json } = await this.call('GET', `/v1/orders/${encodeURIComponent(s.clientOrderId)}`);
        if (status === 200) {
          this.update(s, (json as { order: TrackedOrder }).order);
          this.stats.polled++;
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
    this.eventsAbort?.abort();
    clearTimeout(this.timer);
  }
}
