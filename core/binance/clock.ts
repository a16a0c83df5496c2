// Exchange time for signed requests: the offset between this machine's clock and Binance's,
// measured with GET /fapi/v1/time and corrected for the round trip (offset = serverTime - the
// midpoint of the request). Of a few samples the one with the smallest round trip wins (its
// midpoint is the tightest bound). Re-synced periodically and at once on -1021.

import type { Logger } from '../log.ts';

export interface ExchangeClockOptions {
  /**
   * Fetches Binance's serverTime (GET /fapi/v1/time). Calls `onSend` (when given) right before
   * the request goes out, after any wait for rate-limit budget: the round trip starts there.
   */
  fetchServerTime: (onSend?: () => void) => Promise<number>;
  /** Re-sync period (ms); 0 disables the periodic re-sync. Default 5 minutes. */
  resyncMs?: number;
  /** Samples per sync (default 3). */
  samples?: number;
  logger?: Logger;
}

export interface ClockSample {
  offsetMs: number;
  rttMs: number;
}

export class ExchangeClock {
  /** serverTime - local time, ms. */
  offsetMs = 0;
  /** Round trip of the sample the offset came from. */
  rttMs = Number.NaN;
  /** Local time of the last successful sync (0: never). */
  lastSyncAt = 0;
  /** Completed syncs; a request signed under an older generation knows a newer offset exists. */
  generation = 0;
  private inflight: Promise<number> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly fetchServerTime: (onSend?: () => void) => Promise<number>;
  private readonly resyncMs: number;
  private readonly samples: number;
  private readonly logger: Logger | undefined;

  constructor(opts: ExchangeClockOptions) {
    this.fetchServerTime = opts.fetchServerTime;
    this.resyncMs = opts.resyncMs ?? 5 * 60_000;
    this.samples = Math.max(1, opts.samples ?? 3);
    this.logger = opts.logger;
  }

  /** Exchange time now: local time + the synced offset. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Exchange ms → local ms. */
  toLocal(exchangeMs: number): number {
    return exchangeMs - this.offsetMs;
  }

  get synced(): boolean {
    return this.lastSyncAt > 0;
  }

  /** One measurement; the round trip is timed from `onSend` (queueing for budget excluded). */
  async sample(): Promise<ClockSample> {
    let wall0 = Date.now();
    let t0 = performance.now();
    const serverTime = await this.fetchServerTime(() => {
      wall0 = Date.now();
      t0 = performance.now();
    });
    const rttMs = performance.now() - t0;
    return { offsetMs: Math.round(serverTime - (wall0 + rttMs / 2)), rttMs };
  }

  /**
   * Measures the offset now (concurrent callers share one sync) and starts the periodic re-sync.
   * Resolves with the new offset.
   */
  sync(): Promise<number> {
    if (this.inflight) return this.inflight;
    const run = async (): Promise<number> => {
      let best: ClockSample | undefined;
      let lastErr: unknown;
      for (let i = 0; i < this.samples; i++) {
        try {
          const s = await this.sample();
          if (!best || s.rttMs < best.rttMs) best = s;
        } catch (err) {
          lastErr = err;
        }
      }
      if (!best) throw lastErr;
      const change = best.offsetMs - this.offsetMs;
      this.offsetMs = best.offsetMs;
      this.rttMs = best.rttMs;
      this.lastSyncAt = Date.now();
      this.generation++;
      if (Math.abs(change) >= 1000) {
        this.logger?.warn({ offsetMs: best.offsetMs, changeMs: change }, 'exchange clock offset changed');
      } else {
        this.logger?.debug({ offsetMs: best.offsetMs, rttMs: best.rttMs }, 'exchange clock synced');
      }
      this.schedule();
      return best.offsetMs;
    };
    this.inflight = run().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Syncs unless a sync completed after `generation` (another request already re-synced). */
  resyncAfter(generation: number): Promise<number> {
    if (this.generation > generation) return Promise.resolve(this.offsetMs);
    return this.sync();
  }

  private schedule(): void {
    if (this.resyncMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.sync().catch((err: unknown) => this.logger?.warn({ err }, 'exchange clock re-sync failed'));
    }, this.resyncMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
