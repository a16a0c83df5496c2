// Small pieces shared by the market-data and user-data stream clients: reconnect backoff with
// jitter, frame decoding, the duplicate filter used while two sockets overlap, and the ping/pong
// liveness check.

import WebSocket, { type RawData } from 'ws';

export interface BackoffOptions {
  /** Delay of the first retry (ms). */
  minMs: number;
  /** Ceiling of the delay (ms). */
  maxMs: number;
  /** 0..1: fraction of the delay that is randomised away (0 = exact delays, 1 = "full jitter"). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 250, maxMs: 30_000, jitter: 0.5 };

/** Binance cuts a connection after 24 h; reconnect 10 minutes before. */
export const DEFAULT_MAX_LIFETIME_MS = 23 * 3_600_000 + 50 * 60_000;

export function backoffOptions(b: Partial<BackoffOptions> | undefined): BackoffOptions {
  const o = { ...DEFAULT_BACKOFF, ...b };
  const minMs = Math.max(0, o.minMs);
  return { minMs, maxMs: Math.max(minMs, o.maxMs), jitter: Math.min(1, Math.max(0, o.jitter)) };
}

/** Delay before retry number `attempt` (0-based): exponential, capped, then jittered downwards. */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (1 - b.jitter * random()));
}

export function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/**
 * Remembers the last `cap` frames seen. While an old and a new socket both deliver (the
 * make-before-break rotation before the 24 h cut), every frame goes through `add`, and a frame
 * already delivered by the other socket is dropped: Binance serialises an event once and sends
 * the same bytes to every subscriber.
 */
export class RecentFrames {
  private readonly seen = new Set<string>();
  constructor(private readonly cap = 100_000) {}

  /** True when the frame is new (and is now remembered). */
  add(frame: string): boolean {
    if (this.seen.has(frame)) return false;
    this.seen.add(frame);
    if (this.seen.size > this.cap) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }
}

export function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Clears a timer field's value if set (helper for the many optional timers). */
export function clear(t: NodeJS.Timeout | undefined): undefined {
  if (t !== undefined) clearTimeout(t);
  return undefined;
}

/** Closes a socket on purpose; resolves once it is closed (terminated if the close handshake takes over 1 s). */
export function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => ws.terminate(), 1000);
    force.unref();
    ws.once('close', () => {
      clearTimeout(force);
      resolve();
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  });
}

/** The liveness fields a stream socket keeps (ms, local clock). */
export interface Liveness {
  ws: WebSocket;
  /** Last frame or pong received. */
  lastSeenAt: number;
  /** Last ping sent, and the oldest ping still waiting for anything back (0 = none). */
  lastPingAt: number;
  pingSentAt: number;
}

/**
 * One periodic liveness step: returns a reason to kill the socket when nothing came back within
 * `pongTimeoutMs` of a ping, else sends a ping when `pingIntervalMs` has passed (returns true
 * then, so a caller that counts outgoing messages can count it).
 */
export function pingStep(
  sock: Liveness,
  t: number,
  o: { pingIntervalMs: number; pongTimeoutMs: number },
): { kill: string } | boolean {
  if (sock.pingSentAt > 0 && sock.lastSeenAt < sock.pingSentAt && t - sock.pingSentAt > o.pongTimeoutMs)
    return { kill: `pong timeout: nothing received for ${t - sock.lastSeenAt} ms` };
  if (t - sock.lastPingAt < o.pingIntervalMs) return false;
  sock.lastPingAt = t;
  if (sock.pingSentAt === 0 || sock.lastSeenAt >= sock.pingSentAt) sock.pingSentAt = t;
  try {
    sock.ws.ping();
  } catch {
    // closing; the close handler takes over
  }
  return true;
}
