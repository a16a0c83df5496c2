// The kline book: per symbol, the last N bars of one interval in typed arrays (no per-bar objects
// on the hot path).
//
// - Slots are keyed by open time: slot = (openTime / intervalMs) mod capacity, and each slot keeps
//   the open time it holds. Out-of-order deltas therefore land where they belong, an old delta
//   never overwrites a newer bar, and a missing bar is simply a slot whose open time is not the
//   expected one (its values read as NaN, so any condition over it is false).
// - Filled from `kline.<iv>.window` (closed bars), kept current from `kline.<iv>` deltas (last
//   closed + forming bar). Per slot the exchange ts of the record that wrote it is kept: a record
//   with an older ts than the one already applied to that bar is ignored.
// - The forming bar's close, high and low are corrected from `book` ticks (mid price) newer than
//   the kline record that wrote it; a tick in a later interval opens the next bar provisionally.
// - Gaps: when the newest bar moves more than one interval ahead of the previous newest, or a
//   write leaves the bar before it missing, `onGap(symbol, fromOpen, toOpen)` reports the missing
//   open times so the owner can re-fill (from the window mirror or REST). The first fill of a
//   symbol is checked too: holes inside the bars it brought are gaps.
// - Data age: per symbol the newest kline record ts and the newest tick time (exchange time).

import type { KlineBarRow } from '../core/protocol/topics.ts';

const FIXED_INTERVALS: Record<string, number> = {
  '1m': 60_000,
  '3m': 180_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '4h': 14_400_000,
  '6h': 21_600_000,
  '8h': 28_800_000,
  '12h': 43_200_000,
  '1d': 86_400_000,
  '3d': 259_200_000,
  '1w': 604_800_000,
};

export function intervalMs(interval: string): number {
  const ms = FIXED_INTERVALS[interval];
  if (ms === undefined) throw new RangeError(`the kline book needs a fixed-length interval, not ${interval}`);
  return ms;
}

/** One symbol's bars. Fields are public for hot loops; write through KlineBook only. */
export class SymbolBars {
  readonly openTime: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
  /** Exchange ts of the kline record that last wrote the slot. */
  readonly klineTs: Float64Array;
  /** Time of the last tick applied to the slot. */
  readonly tickTs: Float64Array;
  /** Open time of the newest bar (-1 when empty). */
  newest = -1;
  /** Newest kline record ts seen (exchange time). */
  barsTs = 0;
  /** Newest book tick time seen (exchange time). */
  bookTs = 0;
  bid = Number.NaN;
  ask = Number.NaN;
  gaps = 0;

  constructor(
    readonly symbol: string,
    readonly capacity: number,
    readonly intervalMs: number,
  ) {
    this.openTime = new Float64Array(capacity).fill(-1);
    this.open = new Float64Array(capacity);
    this.high = new Float64Array(capacity);
    this.low = new Float64Array(capacity);
    this.close = new Float64Array(capacity);
    this.volume = new Float64Array(capacity);
    this.klineTs = new Float64Array(capacity);
    this.tickTs = new Float64Array(capacity);
  }

  slot(openTime: number): number {
    return Math.floor(openTime / this.intervalMs) % this.capacity;
  }

  /** Slot of the bar `back` intervals before the newest, or -1 when that bar is missing. */
  at(back: number): number {
    if (this.newest < 0 || back >= this.capacity) return -1;
    const t = this.newest - back * this.intervalMs;
    const s = this.slot(t);
    return this.openTime[s] === t ? s : -1;
  }

  /** Close `back` bars before the newest (0 = the forming bar); NaN when missing. */
  closeAt(back: number): number {
    const s = this.at(back);
    return s < 0 ? Number.NaN : this.close[s];
  }

  /** Percent change of the close over `bars` bars (close-to-close); NaN when a bar is missing. */
  changePct(bars = 1): number {
    const a = this.closeAt(bars);
    const b = this.closeAt(0);
    return ((b - a) / a) * 100;
  }

  /** How many consecutive bars back from the newest are present. */
  depth(): number {
    let n = 0;
    while (n < this.capacity && this.at(n) >= 0) n++;
    return n;
  }

  /** Bars from the oldest one held to the newest (what `missing()` checks by default). */
  span(): number {
    if (this.newest < 0) return 0;
    let oldest = this.newest;
    const floor = this.newest - (this.capacity - 1) * this.intervalMs;
    for (let i = 0; i < this.capacity; i++) {
      const t = this.openTime[i];
      if (t >= floor && t < oldest) oldest = t;
    }
    return (this.newest - oldest) / this.intervalMs + 1;
  }

  /** Open times missing among the last `count` bars (default: the span held), oldest first. */
  missing(count = this.span()): number[] {
    const out: number[] = [];
    if (this.newest < 0) return out;
    for (let i = Math.min(count, this.capacity) - 1; i >= 0; i--) {
      if (this.at(i) < 0) out.push(this.newest - i * this.intervalMs);
    }
    return out;
  }
}

export interface KlineBookOptions {
  /** Kline interval (default 1m). */
  interval?: string;
  /** Bars kept per symbol (default 45, the predecessor's book). */
  capacity?: number;
  /** Missing bars were found: open times from..to (inclusive) are absent. */
  onGap?: (symbol: string, fromOpen: number, toOpen: number) => void;
}

export class KlineBook {
  readonly interval: string;
  readonly intervalMs: number;
  readonly capacity: number;
  private readonly bySymbol = new Map<string, SymbolBars>();
  private readonly onGap: KlineBookOptions['onGap'];
  readonly stats = { windows: 0, deltas: 0, ticks: 0, ignored: 0, gaps: 0 };

  constructor(opts: KlineBookOptions = {}) {
    this.interval = opts.interval ?? '1m';
    this.intervalMs = intervalMs(this.interval);
    this.capacity = opts.capacity ?? 45;
    if (!(this.capacity >= 2)) throw new RangeError('capacity must be at least 2');
    this.onGap = opts.onGap;
  }

  get(symbol: string): SymbolBars | undefined {
    return this.bySymbol.get(symbol);
  }

  symbols(): IterableIterator<string> {
    return this.bySymbol.keys();
  }

  get size(): number {
    return this.bySymbol.size;
  }

  private bars(symbol: string): SymbolBars {
    let b = this.bySymbol.get(symbol);
    if (!b) {
      b = new SymbolBars(symbol, this.capacity, this.intervalMs);
      this.bySymbol.set(symbol, b);
    }
    return b;
  }

  /** `kline.<iv>.window`: the last N closed bars. */
  window(symbol: string, bars: readonly KlineBarRow[], ts: number): void {
    this.stats.windows++;
    this.writeAll(symbol, bars, ts);
  }

  /** `kline.<iv>`: the last closed bar and the forming bar. */
  delta(symbol: string, bars: readonly KlineBarRow[], ts: number): void {
    this.stats.deltas++;
    this.writeAll(symbol, bars, ts);
  }

  private writeAll(symbol: string, bars: readonly KlineBarRow[], ts: number): void {
    const b = this.bars(symbol);
    const before = b.newest;
    for (const k of bars) this.write(b, k, ts);
    if (ts > b.barsTs) b.barsTs = ts;
    this.checkGap(b, before);
  }

  private write(b: SymbolBars, k: KlineBarRow, ts: number): void {
    const t = k[0];
    if (t % this.intervalMs !== 0) {
      this.stats.ignored++;
      return;
    }
    // Older than the book's window: nothing to do.
    if (b.newest >= 0 && t <= b.newest - this.capacity * this.intervalMs) {
      this.stats.ignored++;
      return;
    }
    const s = b.slot(t);
    const same = b.openTime[s] === t;
    if (same && ts < b.klineTs[s]) {
      // An out-of-order (older) record for a bar already written by a newer one.
      this.stats.ignored++;
      return;
    }
    const o = Number(k[1]);
    const h = Number(k[2]);
    const l = Number(k[3]);
    const c = Number(k[4]);
    if (same && b.tickTs[s] > ts) {
      // Ticks newer than this record already corrected the bar: keep their close, widen the range.
      b.open[s] = o;
      if (h > b.high[s]) b.high[s] = h;
      if (l < b.low[s]) b.low[s] = l;
    } else {
      b.open[s] = o;
      b.high[s] = h;
      b.low[s] = l;
      b.close[s] = c;
      b.tickTs[s] = 0;
    }
    b.volume[s] = Number(k[5]);
    b.openTime[s] = t;
    b.klineTs[s] = ts;
    if (t > b.newest) b.newest = t;
  }

  /** A `book` tick: corrects the forming bar (mid price), or opens the next bar provisionally. */
  tick(symbol: string, bid: number, ask: number, time: number): void {
    const b = this.bars(symbol);
    this.stats.ticks++;
    if (time >= b.bookTs) {
      b.bookTs = time;
      b.bid = bid;
      b.ask = ask;
    }
    if (b.newest < 0 || !(bid > 0) || !(ask > 0)) return;
    const mid = (bid + ask) / 2;
    const t = time - (time % this.intervalMs);
    if (t < b.newest) return;
    if (t === b.newest) {
      const s = b.slot(t);
      if (time < b.klineTs[s] || time < b.tickTs[s]) return;
      b.close[s] = mid;
      if (mid > b.high[s]) b.high[s] = mid;
      if (mid < b.low[s]) b.low[s] = mid;
      b.tickTs[s] = time;
      return;
    }
    // A tick in a later interval than the newest bar: open that bar from the tick.
    const before = b.newest;
    const s = b.slot(t);
    b.openTime[s] = t;
    b.open[s] = mid;
    b.high[s] = mid;
    b.low[s] = mid;
    b.close[s] = mid;
    b.volume[s] = 0;
    b.klineTs[s] = 0;
    b.tickTs[s] = time;
    b.newest = t;
    this.checkGap(b, before);
  }

  private checkGap(b: SymbolBars, before: number): void {
    if (before < 0 && b.newest >= 0) {
      // The first bars of the symbol: any hole among them (between its oldest and newest bar).
      const missing = b.missing();
      if (missing.length > 0) this.reportGap(b, missing[0], missing[missing.length - 1]);
      return;
    }
    if (before < 0 || b.newest <= before) return;
    // The newest bar moved ahead: every bar between the previous newest and it must be present.
    const span = Math.min(this.capacity, (b.newest - before) / this.intervalMs + 1);
    const missing = b.missing(span);
    if (missing.length > 0) this.reportGap(b, missing[0], missing[missing.length - 1]);
  }

  private reportGap(b: SymbolBars, from: number, to: number): void {
    b.gaps++;
    this.stats.gaps++;
    this.onGap?.(b.symbol, from, to);
  }
}
