// Exchange time for the simulator: wall-clock time plus an injectable skew, or a virtual clock
// that only moves when a test advances it (deterministic scenarios).

import type { SimClock } from './contracts.ts';

export class ExchangeClock implements SimClock {
  private virtualNow: number | undefined;
  /**
   * Added to the time the exchange reports and checks against (clock-skew fault): serverTime,
   * the timestamp/recvWindow check, event times `E`. The market runs on `market` (no skew), so a
   * skew in either direction never stops or rewinds it.
   */
  skewMs = 0;
  /** The market's own clock: real (or virtual) time without the skew. */
  readonly market: SimClock = { now: () => this.virtualNow ?? Date.now() };

  constructor(opts: { virtual?: boolean; start?: number } = {}) {
    if (opts.virtual) this.virtualNow = opts.start ?? Date.UTC(2026, 0, 1);
  }

  get isVirtual(): boolean {
    return this.virtualNow !== undefined;
  }

  now(): number {
    return (this.virtualNow ?? Date.now()) + this.skewMs;
  }

  /** Virtual mode only: moves time forward. */
  advance(ms: number): number {
    if (this.virtualNow === undefined) throw new Error('the clock is not virtual');
    if (!(ms >= 0)) throw new Error('time only moves forward');
    this.virtualNow += ms;
    return this.now();
  }
}
