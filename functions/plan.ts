// The budget planner: from the replicas of each function and Binance's limits, each reader's
// weight per read, read period and slot, and the data freshness each topic can have. Readers pace
// themselves by it (the Binance client's throttler is only the safety net); `fleet plan` prints
// it; the infra issue turns it into FC configuration.
//
// Freshness is the planned interval between two reads of the same record (key): book = the
// fleet's snapshot interval, kline.1m = how often one symbol is read again.

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

/** IP weight of one read cycle of each function (what one slot costs), from the weight table. */
export function cycleWeight(fn: FunctionName, opts: { balanceEvery?: number } = {}): number {
  switch (fn) {
    case 'klines':
    case 'klines-fast':
      return w('/fapi/v1/klines', { limit: '91' });
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
  /** Universe size (kline.1m freshness). */
  symbols: number;
  /** Symbols the fast filter selects. */
  fastSymbols: number;
  /** The exchange's IP weight per minute (Binance 2400). */
  weightLimit?: number;
  /** Share of the weight limit the readers plan to use (default 0.96; the client keeps 2 % free). */
  budgetShare?: number;
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
  readers: ReaderPlan[];
  freshness: TopicPlan[];
}

/** One replica's read period (ms) on an address of its own. */
export function periodFor(
  fn: FunctionName,
  weightLimit: number = LIMITS.weightPerMinute,
  budgetShare = 0.96,
): number {
  const cw = cycleWeight(fn);
  if (cw === 0) return 60_000;
  const perMin = Math.floor(weightLimit * budgetShare) - RESERVED_WEIGHT_PER_MIN;
  // A fractional number of reads per minute: the period is exact, so the weight per minute is
  // the budget itself (a whole number of reads lost up to one read's weight, 3.5 % for the
  // 80-weight open-orders cycle). Any rolling minute holds at most ceil(perMin / cw) reads,
  // which stays under perMin + cw, well inside the client throttler's own limit.
  return (60_000 * cw) / Math.max(cw, perMin);
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
    const cw = cycleWeight(fn);
    const periodMs = periodFor(fn, weightLimit, share);
    const readsPerMin = cw === 0 ? 0 : 60_000 / periodMs;
    const offsets =
      fn === 'book' ? Array.from({ length: n }, (_, i) => slotOffset(periodMs, i, n)) : Array(n).fill(0);
    readers.push({
      fn,
      replicas: n,
      weightPerRead: cw,
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
  if (slow > 0)
    freshness.push({
      topic: 'kline.1m',
      plannedMs: round(input.symbols / slow),
      note: `${input.symbols} symbols round-robin`,
    });
  if (fast > 0 || slow > 0) {
    const perSymbol =
      (input.fastSymbols > 0 ? fast / input.fastSymbols : 0) + (input.symbols > 0 ? slow / input.symbols : 0);
    if (fast > 0 && perSymbol > 0)
      freshness.push({
        topic: 'kline.1m (filtered)',
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
  return { weightLimit, budgetShare: share, readers, freshness };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The plan as a table for the terminal. */
export function formatPlan(p: Plan): string {
  const lines = [
    `budget: ${Math.round(p.budgetShare * 100)} % of ${p.weightLimit} weight/min per egress address`,
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
