// Test support for the aggregator: an aggregator on 127.0.0.1:0 with one token per role and a
// silent logger, a raw protocol client that waits for frames by predicate with a deadline
// (never a fixed sleep), and record builders.

import { once } from 'node:events';
import { type ClientOptions, WebSocket } from 'ws';
import { createLogger } from '../core/log.ts';
import type { Role } from '../core/protocol/topics.ts';
import { type AggregatorOptions, type RunningAggregator, startAggregator } from './server.ts';

export const TOKENS: Record<Role, string> = {
  collector: 'collector-test-token-0123456789',
  trader: 'trader-test-token-0123456789',
  admin: 'admin-test-token-0123456789',
};

export function testTokens(): AggregatorOptions['tokens'] {
  return (Object.keys(TOKENS) as Role[]).map((role) => ({ role, token: TOKENS[role] }));
}

export function startTestAggregator(opts: Partial<AggregatorOptions> = {}): Promise<RunningAggregator> {
  return startAggregator({
    port: 0,
    tokens: testTokens(),
    logger: createLogger('aggregator', 'silent'),
    ...opts,
  });
}

/** Polls `cond` until it holds or the deadline passes. */
export async function waitUntil(cond: () => boolean, what = 'condition', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

// biome-ignore lint/suspicious/noExplicitAny: frames are checked field by field in tests
export type Frame = Record<string, any>;

/** A raw protocol client: every frame it receives is kept; `next()` takes them by predicate. */
export class RawClient {
  readonly frames: Frame[] = [];
  private taken = 0;
  private readonly takenSet = new Set<number>();
  private readonly waiters = new Set<() => void>();
  closeCode: number | undefined;
  private nextId = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      try {
        this.frames.push(JSON.parse(String(data)));
      } catch {
        this.frames.push({ op: '<unparsable>', text: String(data) });
      }
      this.wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
    ws.on('error', () => {});
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  static async connect(
    url: string,
    role: Role | null,
    opts: ClientOptions & { token?: string } = {},
  ): Promise<RawClient> {
    const token = opts.token ?? (role ? TOKENS[role] : undefined);
    const ws = new WebSocket(url, {
      ...opts,
      headers: token ? { authorization: `Bearer ${token}`, ...opts.headers } : opts.headers,
    });
    const c = new RawClient(ws);
    await once(ws, 'open');
    if (role) await c.next((f) => f.op === 'hello');
    return c;
  }

  /** The HTTP status an upgrade with these headers gets (101 when it opens, 0 when refused). */
  static async upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
    const ws = new WebSocket(url, { headers });
    return new Promise((resolve) => {
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        ws.terminate();
      });
      ws.on('open', () => {
        resolve(101);
        ws.close();
      });
      ws.on('error', () => resolve(0)); // refused: no HTTP answer at all
    });
  }

  send(frame: Frame | string | Buffer, opts: { binary?: boolean } = {}): void {
    const data = typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
    this.ws.send(data, { binary: opts.binary ?? false });
  }

  /** Sends a frame with a fresh numeric id; returns the id. */
  request(frame: Frame): number {
    const id = this.nextId++;
    this.send({ ...frame, id });
    return id;
  }

  /** The first frame not yet taken that matches, waiting up to the deadline for it. */
  async next(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = this.taken; i < this.frames.length; i++) {
        if (this.takenSet.has(i)) continue;
        if (pred(this.frames[i])) {
          this.takenSet.add(i);
          while (this.takenSet.has(this.taken)) this.takenSet.delete(this.taken++);
          return this.frames[i];
        }
      }
      if (this.closeCode !== undefined)
        throw new Error(`connection closed (${this.closeCode}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for a frame; last: ${JSON.stringify(this.frames.at(-1))}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  /** Sends a ping and waits for its pong: everything sent before has been processed. */
  async roundTrip(timeoutMs = 5000): Promise<void> {
    const id = this.request({ op: 'ping' });
    await this.next((f) => f.op === 'pong' && f.id === id, timeoutMs);
  }

  /** Frames of one op (all received so far, taken or not). */
  all(op: string): Frame[] {
    return this.frames.filter((f) => f.op === op);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = once(this.ws, 'close');
    this.ws.close();
    await closed;
  }
}

export function bookRecord(symbol: string, ts: number, bid = '100.0') {
  return {
    key: symbol,
    ts,
    data: { symbol, bidPrice: bid, bidQty: '1.000', askPrice: '100.1', askQty: '2.000', time: ts },
  };
}

export function positionRecord(symbol: string, side: 'BOTH' | 'LONG' | 'SHORT', ts: number, amt: string) {
  return {
    key: `${symbol}:${side}`,
    ts,
    data: { symbol, positionSide: side, positionAmt: amt, entryPrice: '100.0', updateTime: ts },
  };
}

export function klineRecord(symbol: string, ts: number, openTime: number, close = '100.0') {
  const bar = (t: number) => [
    t,
    '99.0',
    '101.0',
    '98.0',
    close,
    '10.5',
    t + 59_999,
    '1050.0',
    42,
    '5.0',
    '500.0',
    '0',
  ];
  return { key: symbol, ts, data: { bars: [bar(openTime - 60_000), bar(openTime)] } };
}
