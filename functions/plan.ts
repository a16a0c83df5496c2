// The budget planner: from the replicas of each function and Binance's limits, each reader's
// weight per read, read period and slot, and the data freshness each topic can have. Readers pace
// themselves by it (the Binance client's throttler is only the safety net); `fleet plan` prints
// it; the infra issue turns it into FC configuration.
//
// Freshness is the planned interval between two reads of the same record (key): book = the
// fleet's snapshot interval, kline.<interval> = how often one symbol is read again.
//
// Kline reads vary: a 2-bar read weighs 1, a due window read (window+1 bars, once per symbol
// every FLEET_KLINE_WINDOW_EVERY_MS) weighs 1, 2, 5 or 10 by its size (more than 98 bars costs
// more). The readers' slots are planned at the 2-bar weight and the pacer pushes the next slot
// back by a window read's extra weight (lib/common.ts paced()); the plan shows the resulting
// average weight per read and average period.

import { endpointWeight, LIMITS } from '../core/binance/weights.ts';

export const FUNCTION_NAMES = [
  'klines',
  'klines-fast',
  'book',
  'volume',
  'positions-account',
  'positions-risk',
  'positions-stream',
  'open-orders',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

const w = (path: string, params: Record<string, string> = {}) => endpointWeight('GET', path, params).ip;

export interface CycleOptions {
  balanceEvery?: number;
  /** Closed bars of the kline window (FLEET_KLINE_WINDOW, default 90). */
  klineWindow?: number;
  /** Share of kline reads that are window reads (0: the 2-bar read's weight, a slot's plan). */
  windowShare?: number;
}

/** IP weight of one read cycle of each function (on average), from the weight table. */
export function cycleWeight(fn: FunctionName, opts: CycleOptions = {}): number {
  switch (fn) {
    case 'klines':
    case 'klines-fast': {
      const base = w('/fapi/v1/klines', { limit: '2' });
      const win = w('/fapi/v1/klines', { limit: String((opts.klineWindow ?? 90) + 1) });
      return base + (opts.windowShare ?? 0) * (win - base);
    }
    case 'book':
      return w('/fapi/v1/ticker/bookTicker');
    case 'volume':
      return w('/fapi/v1/ticker/24hr') + w('/fapi/v1/premiumIndex');
    case 'positions-account':
      return w('/fapi/v3/account');
    case 'positions-risk':
      // positionRisk every cycle, the balance every `balanceEvery`-th
      return w('/fapi/v3/positionRisk') + w('/fapi/v3/balance') / (opts.balanceEvery ?? 5);
    case 'positions-stream':
      return 0;
    case 'open-orders':
      return w('/fapi/v1/openOrders') + w('/fapi/v1/openAlgoOrders');
  }
}

/** Weight per minute set aside on every address: clock syncs (one per invocation and per 5 min), exchangeInfo. */
export const RESERVED_WEIGHT_PER_MIN = 3;

export interface PlanInput {
  replicas: Partial<Record<FunctionName, number>>;
  /** Universe size (kline freshness). */
  symbols: number;
  /** Symbols the fast filter selects. */
  fastSymbols: number;
  /** The exchange's IP weight per minute (Binance 2400). */
  weightLimit?: number;
  /** Share of the weight limit the readers plan to use (default 0.96; the client keeps 2 % free). */
  budgetShare?: number;
  /** FLEET_KLINE_INTERVAL (default 1m): the kline topic's name. */
  klineInterval?: string;
  /** FLEET_KLINE_WINDOW (default 90 closed bars). */
  klineWindow?: number;
  /** FLEET_KLINE_WINDOW_EVERY_MS (default 60 000; 0: no windows). */
  klineWindowEveryMs?: number;
  /** Reading time per minute (default 58 000: a 60 s trigger and a 2 s run margin). */
  activeMsPerMin?: number;
}

/**
 * Average weight per read of a kline reader over `symbols`: a replica re-reads one symbol every
 * `symbols` of its reads, and its read is a window read when the symbol's window is due (at most
 * once per `everyMs`). The period grows with the weight and the share of window reads with the
 * period: iterated to the least fixed point.
 */
export function klineReadWeight(
  symbols: number,
  slotPeriodMs: number,
  window: number,
  everyMs: number,
): { weight: number; windowShare: number } {
  const base = cycleWeight('klines');
  if (everyMs <= 0 || symbols <= 0) return { weight: base, windowShare: 0 };
  let share = 0;
  for (let i = 0; i < 50; i++) {
    const weight = cycleWeight('klines', { klineWindow: window, windowShare: share });
    const revisitMs = symbols * slotPeriodMs * (weight / base);
    const next = 1 / Math.max(1, Math.ceil(everyMs / revisitMs));
    if (next === share) break;
    share = next;
  }
  return { weight: cycleWeight('klines', { klineWindow: window, windowShare: share }), windowShare: share };
}

export interface ReaderPlan {
  fn: FunctionName;
  replicas: number;
  weightPerRead: number;
  readsPerMin: number;
  periodMs: number;
  /** Slot offsets within the period, one per replica: replica i reads at i/n of the period. */
  slotOffsetsMs: number[];
  weightPerMin: number;
  budgetShare: number;
}

export interface TopicPlan {
  topic: string;
  plannedMs: number;
  note: string;
}

export interface Plan {
  weightLimit: number;
  budgetShare: number;
  /** Reading time per minute (the rest is the run margin before the next trigger). */
  activeMsPerMin: number;
  readers: ReaderPlan[];
  freshness: TopicPlan[];
}

/** One replica's slot period (ms) on an address of its own (kline slots: at the 2-bar read's weight). */
export function periodFor(
  fn: FunctionName,
  weightLimit: number = LIMITS.weightPerMinute,
  budgetShare = 0.96,
  activeMsPerMin: number = DEFAULT_ACTIVE_MS_PER_MIN,
): number {
  const cw = cycleWeight(fn);
  if (cw === 0) return 60_000;
  const perMin = Math.floor(weightLimit * budgetShare) - RESERVED_WEIGHT_PER_MIN;
  // A run reads during activeMsPerMin of each minute (the rest is the margin before the next
  // trigger): the minute's budget is spread over the active part, so the address still uses it.
  // Any rolling minute holds one active part and one gap, so it never holds more than perMin.
  const active = Math.min(60_000, Math.max(10_000, activeMsPerMin));
  // A fractional number of reads per minute: the period is exact, so the weight per minute is
  // the budget itself (a whole number of reads lost up to one read's weight, 3.5 % for the
  // 80-weight open-orders cycle). Any rolling minute holds at most ceil(perMin / cw) reads,
  // which stays under perMin + cw, well inside the client throttler's own limit.
  return (active * cw) / Math.max(cw, perMin);
}

/** Active reading time per minute under the default trigger (60 s) and run margin (2 s). */
export const DEFAULT_ACTIVE_MS_PER_MIN = 58_000;

/** Active reading time per minute of a run triggered every `triggerS` that stops `marginMs` early. */
export function activeMsPerMin(triggerS: number, marginMs: number): number {
  return 60_000 * Math.max(0, 1 - marginMs / (triggerS * 1000));
}

/** Offset of replica i of n within the period. */
export function slotOffset(periodMs: number, replica: number, replicas: number): number {
  return (periodMs * replica) / Math.max(1, replicas);
}

export function plan(input: PlanInput): Plan {
  const weightLimit: number = input.weightLimit ?? LIMITS.weightPerMinute;
  const share = input.budgetShare ?? 0.96;
  const readers: ReaderPlan[] = [];
  for (const fn of FUNCTION_NAMES) {
    const n = input.replicas[fn] ?? 0;
    if (n <= 0) continue;
    const slotMs = periodFor(fn, weightLimit, share, input.activeMsPerMin);
    let cw = cycleWeight(fn);
    if (fn === 'klines' || fn === 'klines-fast')
      cw = klineReadWeight(
        fn === 'klines' ? input.symbols : input.fastSymbols,
        slotMs,
        input.klineWindow ?? 90,
        input.klineWindowEveryMs ?? 60_000,
      ).weight;
    // The average period: a costlier window read delays the next slot by its extra weight.
    const periodMs = cw === 0 ? slotMs : (slotMs * cw) / cycleWeight(fn);
    // Reads happen during the active part of each minute only.
    const active = Math.min(60_000, Math.max(10_000, input.activeMsPerMin ?? DEFAULT_ACTIVE_MS_PER_MIN));
    const readsPerMin = cw === 0 ? 0 : active / periodMs;
    const offsets =
      fn === 'book' ? Array.from({ length: n }, (_, i) => slotOffset(periodMs, i, n)) : Array(n).fill(0);
    readers.push({
      fn,
      replicas: n,
      weightPerRead: round(cw, 2),
      readsPerMin: round(readsPerMin),
      periodMs: round(periodMs),
      slotOffsetsMs: offsets.map((x) => round(x)),
      weightPerMin: round(readsPerMin * cw + (cw === 0 ? 0 : RESERVED_WEIGHT_PER_MIN)),
      budgetShare: round((readsPerMin * cw + (cw === 0 ? 0 : RESERVED_WEIGHT_PER_MIN)) / weightLimit, 3),
    });
  }
  const by = (fn: FunctionName) => readers.find((r) => r.fn === fn);
  const freshness: TopicPlan[] = [];
  const rate = (r: ReaderPlan | undefined) => (r ? (r.replicas * r.readsPerMin) / 60_000 : 0); // reads/ms
  const book = by('book');
  if (book)
    freshness.push({
      topic: 'book',
      plannedMs: round(book.periodMs / book.replicas),
      note: `${book.replicas} replicas time-sliced`,
    });
  const slow = rate(by('klines'));
  const fast = rate(by('klines-fast'));
  const klineTopic = `kline.${input.klineInterval ?? '1m'}`;
  if (slow > 0)
    freshness.push({
      topic: klineTopic,
      plannedMs: round(input.symbols / slow),
      note: `${input.symbols} symbols round-robin`,
    });
  if (fast > 0 || slow > 0) {
    const perSymbol =
      (input.fastSymbols > 0 ? fast / input.fastSymbols : 0) + (input.symbols > 0 ? slow / input.symbols : 0);
    if (fast > 0 && perSymbol > 0)
      freshness.push({
        topic: `${klineTopic} (filtered)`,
        plannedMs: round(1 / perSymbol),
        note: `${input.fastSymbols} symbols the filter selects`,
      });
  }
  const vol = by('volume');
  if (vol)
    freshness.push({
      topic: 'volume',
      plannedMs: round(vol.periodMs / vol.replicas),
      note: 'whole universe per read',
    });
  const pos = rate(by('positions-account')) + rate(by('positions-risk'));
  if (pos > 0)
    freshness.push({
      topic: 'position',
      plannedMs: round(1 / pos),
      note: 'REST sources; the stream adds events as they happen',
    });
  const oo = by('open-orders');
  if (oo)
    freshness.push({
      topic: 'orders.open',
      plannedMs: round(oo.periodMs / oo.replicas),
      note: 'all symbols per read',
    });
  const activeMs = Math.min(60_000, Math.max(10_000, input.activeMsPerMin ?? DEFAULT_ACTIVE_MS_PER_MIN));
  return { weightLimit, budgetShare: share, activeMsPerMin: activeMs, readers, freshness };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The plan as a table for the terminal. */
export function formatPlan(p: Plan): string {
  const lines = [
    `budget: ${Math.round(p.budgetShare * 100)} % of ${p.weightLimit} weight/min per egress address, spent in the ${round(p.activeMsPerMin / 1000)} s of each minute a run reads (periods below are within that time)`,
    '',
    'reader              replicas  weight/read  reads/min  period ms  weight/min  share  slots ms',
  ];
  for (const r of p.readers)
    lines.push(
      `${r.fn.padEnd(20)}${String(r.replicas).padStart(8)}${String(r.weightPerRead).padStart(13)}${String(r.readsPerMin).padStart(11)}${String(r.periodMs).padStart(11)}${String(r.weightPerMin).padStart(12)}${`${Math.round(r.budgetShare * 100)}%`.padStart(7)}  ${r.fn === 'book' ? r.slotOffsetsMs.join(' ') : '-'}`,
    );
  lines.push('', 'topic                 freshness ms  (interval between two reads of one key)');
  for (const f of p.freshness)
    lines.push(`${f.topic.padEnd(22)}${String(f.plannedMs).padStart(12)}  ${f.note}`);
  return lines.join('\n');
}
