// The simulated market: prices, trades, klines, books, mark/index prices and funding for every
// symbol of the universe, as one deterministic function of the seed and of the control calls.
//
// Model (per symbol, in exchange time, on a fixed grid of steps k*stepMs):
// - The log price moves by beta*btcReturn + own noise each step (BTC is the shared factor), with
//   a weak pull back to its starting level (half-life two weeks, keeps long runs in range) and
//   volatility bursts (3-5x for 2-8 minutes, a few times a day per symbol, market-wide for BTC).
// - Every step prints 1-4 trades, all at the step's price P (the latent price rounded to the
//   tick). The book follows the last trade: after a buy the ask is P and the bid P-spread, after a
//   sell the bid is P; spread 1-3 ticks. So trades, book ticker, depth and klines always agree.
// - Mark = EMA of the last price (time constant 1 s), rounded to the tick; index = mark less a
//   slowly wandering basis (an OU process per symbol); the funding rate at each 00/08/16 UTC is
//   Binance's formula over the basis averaged once a minute: P + clamp(0.01% - P, ±0.05%).
//
// State is kept in typed arrays (struct of arrays), prices as integer ticks, quantities as integer
// steps, quote amounts as integer tick×step units; text is made only when something is emitted or
// asked for. The single trades of a step (their quantities) and the book's quantities are derived on
// demand from a hash of (seed, symbol, trade id), so the step loop itself allocates nothing.

import { Decimal } from '../../core/decimal.ts';
import type {
  BookTicker,
  KlineInterval,
  KlineRow,
  MarketControl,
  MarketListener,
  MarketTick,
  MarketTrade,
  SimClock,
  SymbolSpec,
} from '../contracts.ts';
import { barOpen, MINUTE, nextOpen, selectByTime, selectOpens } from './intervals.ts';
import { gauss, hash32, lookup, normalTable, seedStream, sfc32, unit, unitPos } from './random.ts';
import { type CsvBar, readKlineCsv } from './replay.ts';
import { addExact, fmtUnits, SymbolUnits, toUnits } from './units.ts';
import { buildUniverse, exchangeInfo, type UniverseSpec } from './universe.ts';

export interface MarketOptions {
  clock: SimClock;
  /** Number of symbols (default 50). */
  symbols?: number;
  /** Seed of every random choice (default 1). */
  seed?: number;
  /** Step of the price process in exchange time; must divide 60000 (default 250). */
  stepMs?: number;
  /** 1m bars to backfill before now (default 1500, the klines maximum). */
  historyMinutes?: number;
  /** symbol → path of a Binance public-data 1m kline CSV to replay for that symbol. */
  replay?: Map<string, string>;
  /** Symbols to use instead of buildUniverse(symbols) (tests). */
  specs?: SymbolSpec[];
}

export type FundingListener = (time: number, rates: Map<string, { rate: string; mark: string }>) => void;

const FUNDING_MS = 8 * 3_600_000;
const INTEREST = 0.0001;
const FUNDING_CAP = 0.0075;
const DAY = 86_400_000;
/** Mean of the trade count per step (1 + 0.375 + 0.156 + 0.0625). */
const TRADES_PER_STEP = 1.594;
const BURST_P_MIN = 1 / 240;
const BTC_BURST_P_MIN = 1 / 360;
const BASIS_THETA = 1 / 240;
const BASIS_SIGMA = 0.00003;
/**
 * Every book level holds at least this much (USDT at the symbol's start price), so ordinary
 * orders of a few hundred USDT fill at the touch; larger ones walk the book.
 */
const BOOK_FLOOR_QUOTE = 2000;
/** Size factor of a trade, log-normal with mean 1. */
const QTY_FACTOR = normalTable((z) => Math.exp(0.8 * z - 0.32));

/** Replay data of one symbol, one entry per minute from `start` (gaps filled flat). */
interface ReplayData {
  start: number;
  len: number;
  o: Int32Array;
  h: Int32Array;
  l: Int32Array;
  c: Int32Array;
  v: Float64Array;
  tv: Float64Array;
  n: Int32Array;
}

/** Quantities (steps by price in ticks) takers took from one book (update id `base`, now `upd`). */
interface Taken {
  base: number;
  upd: number;
  bids: Map<number, number>;
  asks: Map<number, number>;
}

export function createMarket(opts: MarketOptions): SimMarket {
  return new SimMarket(opts);
}

export class SimMarket implements MarketControl {
  readonly clock: SimClock;
  readonly stepMs: number;
  readonly seed: number;
  /** Steps per minute. */
  private readonly spm: number;
  private readonly list: SymbolSpec[];
  private readonly names: string[];
  private readonly index = new Map<string, number>();
  private readonly units: SymbolUnits[];
  private readonly n: number;
  private readonly btcIndex: number;
  private infoRows: unknown[] | undefined;

  // Per-symbol constants.
  private readonly minT: Float64Array;
  private readonly maxT: Float64Array;
  private readonly latMin: Float64Array;
  private readonly latMax: Float64Array;
  private readonly beta: Float64Array;
  private readonly volMin: Float64Array;
  private readonly volStep: Float64Array;
  private readonly typQ: Float64Array;
  /** Quantity every book level holds at least (steps worth ~BOOK_FLOOR_QUOTE USDT at the start price). */
  private readonly floorQ: Float64Array;
  private readonly minQ: Float64Array;
  private readonly maxQ: Float64Array;
  private readonly basisMu: Float64Array;
  private readonly kappa: number;
  private readonly alpha: number;
  private readonly btcMinVol: number;
  private readonly btcStepVol: number;

  // Per-symbol state.
  private readonly rng: Int32Array;
  private readonly btcRng = new Int32Array(4);
  private btcBurst = 1;
  private btcBurstLeft = 0;
  /** Latent price in ticks (float); trades print at it rounded. */
  private readonly lat: Float64Array;
  /** Per-step pull towards the anchor, refreshed each minute. */
  private readonly drift: Float64Array;
  private readonly anchor: Float64Array;
  private readonly last: Int32Array;
  private readonly bid: Int32Array;
  private readonly ask: Int32Array;
  private readonly markF: Float64Array;
  private readonly basis: Float64Array;
  private readonly burst: Float64Array;
  private readonly burstLeft: Int32Array;
  private readonly frozenUntil: Float64Array;
  private readonly nextId: Float64Array;
  private readonly updId: Float64Array;
  /** Liquidity takers took from the current book, per symbol (see consume). */
  private readonly taken = new Map<number, Taken>();
  private readonly bookTime: Float64Array;
  private readonly premSum: Float64Array;
  private readonly premN: Int32Array;
  // Extremes and last record since the last coarse flush (see advanceTo).
  private readonly winHi: Int32Array;
  private readonly winLo: Int32Array;
  private readonly winLast: Int32Array;
  private readonly winHiP: Int32Array;
  private readonly winLoP: Int32Array;
  // Scripted paths.
  private readonly pathOn: Uint8Array;
  private readonly pathNoise: Uint8Array;
  private readonly pathT0: Float64Array;
  private readonly pathT1: Float64Array;
  private readonly pathP0: Float64Array;
  private readonly pathP1: Float64Array;
  private readonly pathDev: Float64Array;
  // Replay.
  private readonly replay: (ReplayData | undefined)[];
  private readonly rOn: Uint8Array;
  private readonly rO: Int32Array;
  private readonly rH: Int32Array;
  private readonly rL: Int32Array;
  private readonly rC: Int32Array;

  // Step records: a ring per symbol of the last R steps that printed trades.
  private readonly R: number;
  private readonly rMask: number;
  private readonly recT: Float64Array;
  private readonly recId: Float64Array;
  private readonly recP: Int32Array;
  private readonly recBid: Int32Array;
  private readonly recAsk: Int32Array;
  private readonly recMark: Int32Array;
  private readonly recFlags: Int32Array;
  private readonly recQB: Float64Array;
  private readonly recQS: Float64Array;
  private readonly recHead: Int32Array;
  private readonly recLen: Int32Array;

  // 1m bars: a ring per symbol indexed by minute number (t / 60000) modulo B.
  private readonly B: number;
  private readonly bO: Int32Array;
  private readonly bH: Int32Array;
  private readonly bL: Int32Array;
  private readonly bC: Int32Array;
  private readonly bN: Int32Array;
  private readonly bV: Float64Array;
  private readonly bQ: Float64Array;
  private readonly bTV: Float64Array;
  private readonly bTQ: Float64Array;
  private readonly histStartMinute: number;
  /** Open price (ticks) of the first generated minute: synthetic older bars end there. */
  private readonly anchorP: Float64Array;
  private firstMinute: number;
  private curMinute: number;

  // Funding history per symbol.
  private readonly fTime: number[][];
  private readonly fRate: number[][];
  private readonly fMark: number[][];

  private lastStep: number;
  private nextFunding: number;
  private readonly tickListeners = new Set<MarketListener>();
  private readonly fundingListeners = new Set<FundingListener>();
  private busy = false;
  private pendingError: unknown;
  private readonly stepped: Int32Array;
  /** Per symbol: the 24 h ticker's sums over the closed bars, for the minute they were made in. */
  private readonly t24: (
    | { minute: number; hi: number; lo: number; cnt: number; v: number | bigint; q: number | bigint }
    | undefined
  )[];
  private readonly steppedSlot: Int32Array;

  constructor(opts: MarketOptions) {
    this.clock = opts.clock;
    this.stepMs = opts.stepMs ?? 250;
    this.seed = (opts.seed ?? 1) >>> 0;
    if (!Number.isInteger(this.stepMs) || this.stepMs < 10 || MINUTE % this.stepMs !== 0) {
      throw new Error(`stepMs must divide 60000 and be at least 10: ${this.stepMs}`);
    }
    const historyMinutes = opts.historyMinutes ?? 1500;
    if (!Number.isInteger(historyMinutes) || historyMinutes < 0)
      throw new Error(`bad historyMinutes: ${historyMinutes}`);
    this.spm = MINUTE / this.stepMs;
    this.list = opts.specs ?? buildUniverse(opts.symbols ?? 50);
    const n = this.list.length;
    this.n = n;
    this.names = this.list.map((s) => s.symbol);
    for (let i = 0; i < n; i++) this.index.set(this.names[i], i);
    this.units = this.list.map(
      (s) => new SymbolUnits(s.tickSize, s.stepSize, s.pricePrecision, s.quantityPrecision),
    );
    this.btcIndex = this.index.get('BTCUSDT') ?? -1;

    const f64 = () => new Float64Array(n);
    const i32 = () => new Int32Array(n);
    this.minT = f64();
    this.maxT = f64();
    this.latMin = f64();
    this.latMax = f64();
    this.beta = f64();
    this.volMin = f64();
    this.volStep = f64();
    this.typQ = f64();
    this.anchorP = f64();
    this.floorQ = f64();
    this.minQ = f64();
    this.maxQ = f64();
    this.basisMu = f64();
    this.kappa = Math.LN2 / (14 * 1440 * this.spm);
    this.alpha = 1 - Math.exp(-this.stepMs / 1000);
    const btc = this.btcIndex >= 0 ? this.list[this.btcIndex] : undefined;
    this.btcMinVol = btc ? btc.vol : 0.0007;
    this.btcStepVol = this.btcMinVol / Math.sqrt(this.spm);

    this.rng = new Int32Array(4 * n);
    seedStream(this.btcRng, 0, this.seed, 0x7fffffff);
    this.lat = f64();
    this.drift = f64();
    this.anchor = f64();
    this.last = i32();
    this.bid = i32();
    this.ask = i32();
    this.markF = f64();
    this.basis = f64();
    this.burst = f64().fill(1);
    this.burstLeft = i32();
    this.frozenUntil = f64();
    this.nextId = f64();
    this.updId = f64();
    this.bookTime = f64();
    this.premSum = f64();
    this.premN = i32();
    this.winHi = i32().fill(-1);
    this.winLo = i32().fill(-1);
    this.winLast = i32().fill(-1);
    this.winHiP = i32();
    this.winLoP = i32();
    this.pathOn = new Uint8Array(n);
    this.pathNoise = new Uint8Array(n);
    this.pathT0 = f64();
    this.pathT1 = f64();
    this.pathP0 = f64();
    this.pathP1 = f64();
    this.pathDev = f64();
    this.replay = new Array(n).fill(undefined);
    this.rOn = new Uint8Array(n);
    this.rO = i32();
    this.rH = i32();
    this.rL = i32();
    this.rC = i32();
    this.stepped = i32();
    this.t24 = new Array(n).fill(undefined);
    this.steppedSlot = i32();

    let R = 1024;
    while (R < 2 * this.spm) R *= 2;
    this.R = R;
    this.rMask = R - 1;
    this.recT = new Float64Array(n * R);
    this.recId = new Float64Array(n * R);
    this.recP = new Int32Array(n * R);
    this.recBid = new Int32Array(n * R);
    this.recAsk = new Int32Array(n * R);
    this.recMark = new Int32Array(n * R);
    this.recFlags = new Int32Array(n * R);
    this.recQB = new Float64Array(n * R);
    this.recQS = new Float64Array(n * R);
    this.recHead = i32().fill(-1);
    this.recLen = i32();

    this.B = Math.max(historyMinutes, 1500) + 60;
    const nb = n * this.B;
    this.bO = new Int32Array(nb);
    this.bH = new Int32Array(nb);
    this.bL = new Int32Array(nb);
    this.bC = new Int32Array(nb);
    this.bN = new Int32Array(nb);
    this.bV = new Float64Array(nb);
    this.bQ = new Float64Array(nb);
    this.bTV = new Float64Array(nb);
    this.bTQ = new Float64Array(nb);
    this.fTime = this.list.map(() => []);
    this.fRate = this.list.map(() => []);
    this.fMark = this.list.map(() => []);

    for (let i = 0; i < n; i++) {
      const s = this.list[i];
      const u = this.units[i];
      seedStream(this.rng, i << 2, this.seed, i);
      const minT = Math.max(1, toUnits(s.minPrice, u.tick, 'ceil'));
      const maxT = toUnits(s.maxPrice, u.tick, 'floor');
      if (maxT > 2 ** 31 - 1) throw new Error(`${s.symbol}: maxPrice/tickSize too large`);
      if (maxT <= minT + 10) throw new Error(`${s.symbol}: price band too narrow`);
      this.minT[i] = minT;
      this.maxT[i] = maxT;
      this.latMin[i] = minT * 1.5;
      this.latMax[i] = maxT / 1.5;
      this.beta[i] = i === this.btcIndex ? 1 : s.beta;
      this.volMin[i] = s.vol;
      this.volStep[i] = s.vol / Math.sqrt(this.spm);
      const p0 = Math.min(maxT, Math.max(minT, toUnits(s.initialPrice, u.tick)));
      const price = p0 * u.tickValue;
      const stepValue = u.step.m / 10 ** u.step.s;
      const qpm = (s as Partial<UniverseSpec>).quoteVolumePerMinute ?? 20_000;
      this.minQ[i] = Math.max(1, toUnits(s.minQty, u.step, 'ceil'));
      this.maxQ[i] = Math.max(this.minQ[i], toUnits(s.maxQty, u.step, 'floor'));
      // Typical size of one trade, in steps, so that the symbol trades ~qpm USDT a minute.
      this.typQ[i] = Math.max(this.minQ[i], qpm / (TRADES_PER_STEP * this.spm) / (price * stepValue));
      this.floorQ[i] = Math.max(this.minQ[i], Math.round(BOOK_FLOOR_QUOTE / (price * stepValue)));
      const h = unit(hash32(this.seed, i, 0xba515));
      // Most symbols sit near 0.01%; one in eight leans hard one way (funding rates of 0.03-0.2%).
      this.basisMu[i] =
        h < 0.0625
          ? -0.0015 * (h / 0.0625) - 0.0005
          : h > 0.9375
            ? 0.0005 + 0.0015 * ((h - 0.9375) / 0.0625)
            : -0.0002 + 0.0006 * ((h - 0.0625) / 0.875);
      this.basis[i] = this.basisMu[i];
      this.lat[i] = p0;
      this.anchor[i] = Math.log(p0);
      this.last[i] = p0;
      this.markF[i] = p0;
      this.nextId[i] = 1_000_000 + (hash32(this.seed, i, 0x1d) % 9_000_000) * 100;
      this.updId[i] = 1_000_000_000 + (hash32(this.seed, i, 0x0b) % 1_000_000) * 1000;
    }

    // Replay data, mapped so that the CSV's first bar opens at the start of the history.
    const now = this.clock.now();
    const nowMin = Math.floor(now / MINUTE);
    this.histStartMinute = nowMin - historyMinutes;
    if (opts.replay) {
      for (const [symbol, path] of opts.replay) {
        const i = this.idx(symbol);
        this.replay[i] = this.loadReplay(i, readKlineCsv(path), this.histStartMinute);
      }
    }

    // History: the minute model for the old part, then the step kernel for the last minutes so
    // the recent-trades ring is full and the current state is a real step state.
    const warm = Math.min(historyMinutes, Math.ceil(R / this.spm) + 1);
    const fineStart = nowMin - warm;
    this.firstMinute = this.histStartMinute;
    this.backfill(this.histStartMinute, fineStart);
    for (let i = 0; i < n; i++) this.anchorP[i] = this.bO[(this.histStartMinute % this.B) * n + i];
    this.curMinute = fineStart - 1;
    this.lastStep = fineStart * this.spm - 1;
    this.nextFunding = Math.ceil((fineStart * MINUTE) / FUNDING_MS) * FUNDING_MS;
    this.advanceTo(now);
  }

  // ---------------------------------------------------------------------------------------------
  // Read side

  specs(): SymbolSpec[] {
    return this.list.slice();
  }

  spec(symbol: string): SymbolSpec | undefined {
    const i = this.index.get(symbol);
    return i === undefined ? undefined : this.list[i];
  }

  exchangeInfo(): unknown {
    const body = exchangeInfo([], this.clock.now());
    this.infoRows ??= exchangeInfo(this.list, 0).symbols as unknown[];
    body.symbols = this.infoRows;
    return body;
  }

  lastPrice(symbol: string): string {
    const i = this.idx(symbol);
    return this.units[i].price(this.last[i]);
  }

  markPrice(symbol: string): string {
    const i = this.idx(symbol);
    return this.units[i].price(this.markTicks(i));
  }

  indexPrice(symbol: string): string {
    return fmtUnits(this.indexE8(this.idx(symbol)), 8, 8);
  }

  bookTicker(symbol: string): BookTicker {
    const i = this.idx(symbol);
    const b = this.bookAt(i, this.recHead[i]);
    if (!this.takenNow(i)) return b;
    // Takers emptied or thinned the touch: the best remaining levels.
    const u = this.units[i];
    const [bid] = this.levels(i, 0, 1);
    const [ask] = this.levels(i, 1, 1);
    if (bid) [b.bidPrice, b.bidQty] = [u.price(bid[0]), u.qty(bid[1])];
    if (ask) [b.askPrice, b.askQty] = [u.price(ask[0]), u.qty(ask[1])];
    return b;
  }

  /** The book's update id (Binance's `u` / `lastUpdateId`); increases with every book change. */
  updateId(symbol: string): number {
    return this.updId[this.idx(symbol)];
  }

  depth(
    symbol: string,
    limit: number,
  ): { lastUpdateId: number; E: number; T: number; bids: [string, string][]; asks: [string, string][] } {
    const i = this.idx(symbol);
    const u = this.units[i];
    const bids = this.levels(i, 0, limit).map(([p, q]): [string, string] => [u.price(p), u.qty(q)]);
    const asks = this.levels(i, 1, limit).map(([p, q]): [string, string] => [u.price(p), u.qty(q)]);
    const T = this.bookTime[i];
    return { lastUpdateId: this.updId[i], E: Math.max(T, this.clock.now()), T, bids, asks };
  }

  /** What takers took since the book last refreshed, if that is still the current book. */
  private takenNow(i: number): Taken | undefined {
    const t = this.taken.get(i);
    return t !== undefined && t.upd === this.updId[i] ? t : undefined;
  }

  /**
   * The book's levels on one side (0 bids, 1 asks), best first, as [ticks, steps], net of the
   * liquidity takers took since the book last refreshed (emptied levels are skipped).
   */
  private levels(i: number, side: number, limit: number): Array<[number, number]> {
    const o = this.recHead[i] * this.n + i;
    const taken = this.takenNow(i);
    const upd = taken ? taken.base : this.updId[i];
    const gone = taken ? (side === 0 ? taken.bids : taken.asks) : undefined;
    const out: Array<[number, number]> = [];
    if (this.recHead[i] < 0) {
      const p0 = side === 0 ? this.last[i] - 1 : this.last[i];
      for (let j = 0; out.length < limit; j++) {
        const p = side === 0 ? p0 - j : p0 + j;
        if (p < this.minT[i] || p > this.maxT[i]) break;
        const q = (j === 0 ? this.minQ[i] + this.floorQ[i] : this.levelQty(i, p, upd)) - (gone?.get(p) ?? 0);
        if (q > 0) out.push([p, q]);
      }
      return out;
    }
    const id = this.recId[o];
    const p0 = side === 0 ? this.recBid[o] : this.recAsk[o];
    for (let j = 0; out.length < limit; j++) {
      const p = side === 0 ? p0 - j : p0 + j;
      if (p < this.minT[i] || p > this.maxT[i]) break;
      const q = (j === 0 ? this.topQty(i, id, side) : this.levelQty(i, p, upd)) - (gone?.get(p) ?? 0);
      if (q > 0) out.push([p, q]);
    }
    return out;
  }

  /**
   * A taker took `qty` at `price` from the bids (side SELL took bids) or asks (BUY took asks): the
   * level holds that much less until the book refreshes (the next step or setPrice). The book's
   * update id grows, as for any book change.
   */
  consume(symbol: string, takerSide: 'BUY' | 'SELL', price: string, qty: string): void {
    const i = this.idx(symbol);
    const u = this.units[i];
    const p = toUnits(price, u.tick);
    const q = toUnits(qty, u.step);
    if (q <= 0) return;
    let t = this.takenNow(i);
    if (!t) {
      t = { base: this.updId[i], upd: this.updId[i], bids: new Map(), asks: new Map() };
      this.taken.set(i, t);
    }
    const m = takerSide === 'BUY' ? t.asks : t.bids;
    m.set(p, (m.get(p) ?? 0) + q);
    this.updId[i]++;
    t.upd = this.updId[i];
  }

  klines(
    symbol: string,
    interval: KlineInterval,
    opts: { startTime?: number; endTime?: number; limit: number },
  ): KlineRow[] {
    const i = this.idx(symbol);
    const u = this.units[i];
    const B = this.B;
    const n = this.n;
    const first = this.firstMinute;
    const cur = this.curMinute;
    // Bars wholly before the minutes the market keeps are synthesised (see synthBar).
    const realFrom = barOpen(interval, first * MINUTE);
    const opens = selectOpens(interval, this.synthFrom(i, interval), barOpen(interval, cur * MINUTE), opts);
    const rows: KlineRow[] = [];
    for (const open of opens) {
      const close = nextOpen(interval, open);
      if (open < realFrom) {
        rows.push(this.synthBar(i, open, close));
        continue;
      }
      const m0 = Math.max(first, open / MINUTE);
      const m1 = Math.min(cur, close / MINUTE - 1);
      let hi = -1;
      let lo = 2 ** 31;
      let cnt = 0;
      let v: number | bigint = 0;
      let q: number | bigint = 0;
      let tv: number | bigint = 0;
      let tq: number | bigint = 0;
      for (let m = m0; m <= m1; m++) {
        const b = (m % B) * n + i;
        if (this.bH[b] > hi) hi = this.bH[b];
        if (this.bL[b] < lo) lo = this.bL[b];
        cnt += this.bN[b];
        v = addExact(v, this.bV[b]);
        q = addExact(q, this.bQ[b]);
        tv = addExact(tv, this.bTV[b]);
        tq = addExact(tq, this.bTQ[b]);
      }
      rows.push([
        open,
        u.price(this.bO[(m0 % B) * n + i]),
        u.price(hi),
        u.price(lo),
        u.price(this.bC[(m1 % B) * n + i]),
        u.qty(v),
        close - 1,
        u.quote(q),
        cnt,
        u.qty(tv),
        u.quote(tq),
        '0',
      ]);
    }
    return rows;
  }

  ticker24h(symbol: string): Record<string, unknown> {
    const i = this.idx(symbol);
    const u = this.units[i];
    const B = this.B;
    const n = this.n;
    const cur = this.curMinute;
    const m0 = Math.max(this.firstMinute, cur - 1439);
    // The closed bars of the window only change when a minute passes: summed once per minute.
    let c = this.t24[i];
    if (c === undefined || c.minute !== cur) {
      c = { minute: cur, hi: -1, lo: 2 ** 31, cnt: 0, v: 0, q: 0 };
      for (let m = m0; m < cur; m++) {
        const b = (m % B) * n + i;
        if (this.bH[b] > c.hi) c.hi = this.bH[b];
        if (this.bL[b] < c.lo) c.lo = this.bL[b];
        c.cnt += this.bN[b];
        c.v = addExact(c.v, this.bV[b]);
        c.q = addExact(c.q, this.bQ[b]);
      }
      this.t24[i] = c;
    }
    const b = (cur % B) * n + i;
    const hi = Math.max(c.hi, this.bH[b]);
    const lo = Math.min(c.lo, this.bL[b]);
    const cnt = c.cnt + this.bN[b];
    const v = addExact(c.v, this.bV[b]);
    const q = addExact(c.q, this.bQ[b]);
    const open = this.bO[(m0 % B) * n + i];
    const lastP = this.last[i];
    const change = (lastP - open) * u.tick.m;
    const pct = Decimal.of(BigInt(lastP - open) * 100n, 0).div(Decimal.of(BigInt(open), 0), 3);
    const vol = BigInt(v);
    const wavg =
      vol > 0n
        ? Decimal.of(BigInt(q) * BigInt(u.tick.m), u.tick.s)
            .div(Decimal.of(vol, 0), u.pdp)
            .toFixed(u.pdp)
        : u.price(lastP);
    const closeTime = Math.max(this.bookTime[i], this.lastStep * this.stepMs);
    const lastTrade = this.lastTrade(i);
    const lastId = this.nextId[i] - 1;
    return {
      symbol: this.names[i],
      priceChange: fmtUnits(change, u.tick.s, u.pdp),
      priceChangePercent: pct.toFixed(3),
      weightedAvgPrice: wavg,
      lastPrice: u.price(lastP),
      lastQty: lastTrade ? lastTrade.qty : u.qty(0),
      openPrice: u.price(open),
      highPrice: u.price(hi),
      lowPrice: u.price(lo),
      volume: u.qty(v),
      quoteVolume: u.quote(q),
      openTime: closeTime - DAY,
      closeTime,
      firstId: cnt > 0 ? lastId - cnt + 1 : -1,
      lastId: cnt > 0 ? lastId : -1,
      count: cnt,
    };
  }

  premiumIndex(symbol: string): Record<string, unknown> {
    const i = this.idx(symbol);
    const u = this.units[i];
    const index = fmtUnits(this.indexE8(i), 8, 8);
    return {
      symbol: this.names[i],
      markPrice: u.priceDp(this.markTicks(i), 8),
      indexPrice: index,
      estimatedSettlePrice: index,
      lastFundingRate: fmtUnits(this.fundingRateE8(i), 8, 8),
      interestRate: '0.00010000',
      nextFundingTime: this.nextFunding,
      time: this.bookTime[i],
    };
  }

  fundingHistory(
    symbol: string,
    opts: { startTime?: number; endTime?: number; limit: number },
  ): Record<string, unknown>[] {
    const i = this.idx(symbol);
    const u = this.units[i];
    const times = this.fTime[i];
    // Funding times before the kept rows (every 8 h back to the start of the synthetic history).
    const keptFrom =
      times.length > 0 ? times[0] : Math.ceil((this.histStartMinute * MINUTE) / FUNDING_MS) * FUNDING_MS;
    const older: number[] = [];
    const from = Math.ceil(this.synthFrom(i, '8h') / FUNDING_MS) * FUNDING_MS;
    const lo =
      opts.startTime !== undefined
        ? Math.max(from, Math.ceil(opts.startTime / FUNDING_MS) * FUNDING_MS)
        : from;
    const hi = Math.min(keptFrom - FUNDING_MS, opts.endTime ?? Number.POSITIVE_INFINITY);
    if (lo <= hi) {
      // Only as many as the answer can hold: the first `limit` from startTime, else the last ones.
      if (opts.startTime !== undefined)
        for (let t = lo; t <= hi && older.length < opts.limit; t += FUNDING_MS) older.push(t);
      else {
        for (
          let t = Math.floor(hi / FUNDING_MS) * FUNDING_MS;
          t >= lo && older.length < opts.limit;
          t -= FUNDING_MS
        )
          older.push(t);
        older.reverse();
      }
    }
    const synth = older.map((t) => ({
      symbol: this.names[i],
      fundingRate: fmtUnits(this.synthFundingE8(i, t), 8, 8),
      fundingTime: t,
      markPrice: u.priceDp(this.synthTicks(i, t), 8),
    }));
    const [a, b] = selectByTime(times, opts);
    const out: Record<string, unknown>[] = [];
    if (opts.startTime !== undefined) {
      out.push(...synth);
      if (out.length >= opts.limit) return out;
    }
    for (let j = a; j < b; j++) {
      out.push({
        symbol: this.names[i],
        fundingRate: fmtUnits(this.fRate[i][j], 8, 8),
        fundingTime: times[j],
        markPrice: u.priceDp(this.fMark[i][j], 8),
      });
    }
    if (opts.startTime !== undefined) return out.slice(0, opts.limit);
    const all = [...synth, ...out];
    return all.slice(Math.max(0, all.length - opts.limit));
  }

  // ---------------------------------------------------------------------------------------------
  // Synthetic history: bars older than the minutes the market keeps, for any interval, made on
  // demand from the seed. The log price is a sum of value-noise octaves over time (periods 1 min
  // to ~180 days, amplitude growing with the square root of the period, so moves scale like a
  // random walk with the symbol's volatility) pinned to the open of the first generated minute.
  // A bar is a pure function of (seed, symbol, open, close): stable as time passes, and bars of
  // one interval join (each opens at the previous close). Bars of different intervals are not
  // aggregates of each other.

  /** Open time of the oldest synthetic bar: 1500 days before the history, or the listing if older. */
  private synthFrom(i: number, interval: KlineInterval): number {
    const start = this.histStartMinute * MINUTE;
    return barOpen(interval, Math.max(0, Math.min(this.list[i].onboardDate, start - 1500 * DAY)));
  }

  /** Log-price offset of the synthetic path at time t (ms), relative to the history start. */
  private synthLog(i: number, t: number): number {
    const sig = Math.sqrt(this.volMin[i] ** 2 + (this.beta[i] * this.btcMinVol) ** 2);
    const x = t / MINUTE;
    let sum = 0;
    for (let k = 0; k < 18; k++) {
      const period = 2 ** k;
      const xi = x / period;
      const a = Math.floor(xi);
      const f = xi - a;
      const g0 = gauss(hash32(this.seed ^ 0x5a17, i, k, a));
      const g1 = gauss(hash32(this.seed ^ 0x5a17, i, k, a + 1));
      sum += sig * Math.sqrt(period) * 0.5 * (g0 + (g1 - g0) * f);
    }
    return sum;
  }

  /** Synthetic price (ticks, clamped to the symbol's band) at time t. */
  private synthTicks(i: number, t: number): number {
    const base = this.synthLog(i, this.histStartMinute * MINUTE);
    const p = Math.round(this.anchorP[i] * Math.exp(this.synthLog(i, t) - base));
    return Math.min(this.latMax[i], Math.max(this.latMin[i], p));
  }

  private synthFundingE8(i: number, t: number): number {
    const z = gauss(hash32(this.seed ^ 0xf0d, i, Math.floor(t / FUNDING_MS)));
    const P = this.basisMu[i] + 0.0001 * z;
    const d = INTEREST - P;
    const F = P + (d > 0.0005 ? 0.0005 : Math.max(d, -0.0005));
    return Math.round(Math.max(-FUNDING_CAP, Math.min(FUNDING_CAP, F)) * 1e8);
  }

  private synthBar(i: number, open: number, close: number): KlineRow {
    const u = this.units[i];
    const o = this.synthTicks(i, open);
    const c = this.synthTicks(i, close);
    const minutes = (close - open) / MINUTE;
    const sig = Math.sqrt(this.volMin[i] ** 2 + (this.beta[i] * this.btcMinVol) ** 2) * Math.sqrt(minutes);
    const z1 = Math.abs(gauss(hash32(this.seed ^ 0xb1, i, open / MINUTE, 1)));
    const z2 = Math.abs(gauss(hash32(this.seed ^ 0xb1, i, open / MINUTE, 2)));
    const z3 = gauss(hash32(this.seed ^ 0xb1, i, open / MINUTE, 3));
    const hi = Math.min(this.maxT[i], Math.max(o, c, Math.round(Math.max(o, c) * (1 + 0.4 * sig * z1))));
    const lo = Math.max(this.minT[i], Math.min(o, c, Math.round(Math.min(o, c) * (1 - 0.4 * sig * z2))));
    const perMin = TRADES_PER_STEP * this.spm;
    const factor = Math.exp(0.4 * z3 - 0.08);
    const v = Math.max(0, Math.round(this.typQ[i] * perMin * minutes * factor));
    const cnt = Math.max(0, Math.round(perMin * minutes * factor));
    const mid = Math.round((o + c) / 2);
    const tv = Math.round(v * (0.45 + 0.1 * unit(hash32(this.seed ^ 0xb1, i, open / MINUTE, 4))));
    return [
      open,
      u.price(o),
      u.price(hi),
      u.price(lo),
      u.price(c),
      u.qty(v),
      close - 1,
      u.quote(BigInt(v) * BigInt(mid)),
      cnt,
      u.qty(tv),
      u.quote(BigInt(tv) * BigInt(mid)),
      '0',
    ];
  }

  recentTrades(symbol: string, limit: number): MarketTrade[] {
    const i = this.idx(symbol);
    const out: MarketTrade[] = [];
    let slot = this.recHead[i];
    for (let c = this.recLen[i]; c > 0 && out.length < limit; c--) {
      const trades = this.materialize(i, slot);
      for (let j = trades.length - 1; j >= 0 && out.length < limit; j--) out.push(trades[j]);
      slot = (slot - 1) & this.rMask;
    }
    return out.reverse();
  }

  onTick(listener: MarketListener): () => void {
    this.tickListeners.add(listener);
    return () => this.tickListeners.delete(listener);
  }

  onFunding(listener: FundingListener): () => void {
    this.fundingListeners.add(listener);
    return () => this.fundingListeners.delete(listener);
  }

  // ---------------------------------------------------------------------------------------------
  // Control side

  /**
   * Runs the price process up to exchange time t: every step k*stepMs <= t not yet run, in order,
   * for every symbol, with funding at each 8 h boundary crossed. The data (trades, klines, books,
   * funding) depend only on the seed and on the sequence of control calls, never on how often
   * this is called.
   *
   * Ticks: a call covering at most one minute of steps emits one tick per symbol per step. A
   * longer call (a virtual clock that jumped) emits, per symbol and per 1m bar, only the steps
   * that set the bar's high and low and its last step, in time order, each with that step's
   * trades and state; the klines still hold every trade. Funding events keep their place between
   * the ticks. Re-entrant calls (from a listener) are ignored; a listener's exception is rethrown
   * once the step loop is done.
   */
  advanceTo(t: number): void {
    this.advance(t);
    this.rethrow();
  }

  /** advanceTo without rethrowing listener errors (the control calls finish their work first). */
  private advance(t: number): void {
    if (this.busy || !Number.isFinite(t)) return;
    const kEnd = Math.floor(t / this.stepMs);
    if (kEnd <= this.lastStep) return;
    const emit = this.tickListeners.size > 0;
    const coarse = emit && kEnd - this.lastStep > this.spm;
    this.busy = true;
    if (coarse) {
      // Steps already emitted (fine calls, setPrice) must not be emitted again by the flush.
      this.winHi.fill(-1);
      this.winLo.fill(-1);
      this.winLast.fill(-1);
    }
    try {
      for (let k = this.lastStep + 1; k <= kEnd; k++) {
        const T = k * this.stepMs;
        if (T % MINUTE === 0) {
          if (coarse) this.flushWindows();
          this.startMinute(T / MINUTE);
        }
        if (T >= this.nextFunding) {
          this.fund(this.nextFunding);
          this.nextFunding += FUNDING_MS;
        }
        this.lastStep = k;
        this.stepAll(T, emit && !coarse, coarse);
      }
      if (coarse) this.flushWindows();
    } finally {
      this.busy = false;
    }
  }

  setPrice(symbol: string, price: string): void {
    const i = this.idx(symbol);
    this.advance(this.clock.now());
    const P = this.clampT(i, toUnits(price, this.units[i].tick));
    this.pathOn[i] = 0;
    this.endReplay(i);
    this.markF[i] = P;
    this.printAt(i, P);
    this.rethrow();
  }

  setPath(symbol: string, target: string, durationMs: number, noise = false): void {
    const i = this.idx(symbol);
    if (!(durationMs > 0)) {
      this.setPrice(symbol, target);
      return;
    }
    this.advance(this.clock.now());
    const t0 = Math.max(this.clock.now(), this.lastStep * this.stepMs);
    this.endReplay(i);
    this.pathOn[i] = 1;
    this.pathNoise[i] = noise ? 1 : 0;
    this.pathT0[i] = t0;
    this.pathT1[i] = t0 + durationMs;
    this.pathP0[i] = this.last[i];
    this.pathP1[i] = this.clampT(i, toUnits(target, this.units[i].tick));
    this.pathDev[i] = 0;
    this.rethrow();
  }

  freeze(symbol: string | undefined, durationMs: number): void {
    const only = symbol === undefined ? -1 : this.idx(symbol);
    this.advance(this.clock.now());
    const until = this.clock.now() + Math.max(0, durationMs);
    for (let i = 0; i < this.n; i++) if (only < 0 || i === only) this.frozenUntil[i] = until;
    this.rethrow();
  }

  // ---------------------------------------------------------------------------------------------
  // The step kernel

  /**
   * One step for every symbol that is not frozen. This is the hot loop (symbols × 4 steps/s, and
   * every step of a long virtual-clock jump), so it works on local references to the typed arrays
   * and inlines the generator and the bookkeeping; `record` is the same bookkeeping for setPrice.
   */
  private stepAll(T: number, emitFine: boolean, track: boolean): void {
    const btcR = this.btcStepVol * this.btcBurst * gauss(sfc32(this.btcRng, 0));
    const n = this.n;
    const rng = this.rng;
    const frozen = this.frozenUntil;
    const rOn = this.rOn;
    const pathOn = this.pathOn;
    const lat = this.lat;
    const drift = this.drift;
    const beta = this.beta;
    const volStep = this.volStep;
    const burst = this.burst;
    const latMin = this.latMin;
    const latMax = this.latMax;
    const minT = this.minT;
    const maxT = this.maxT;
    const last = this.last;
    const typQ = this.typQ;
    const minQ = this.minQ;
    const maxQ = this.maxQ;
    const markF = this.markF;
    const recHead = this.recHead;
    const recLen = this.recLen;
    const recT = this.recT;
    const recId = this.recId;
    const recP = this.recP;
    const recBid = this.recBid;
    const recAsk = this.recAsk;
    const recMark = this.recMark;
    const recFlags = this.recFlags;
    const recQB = this.recQB;
    const recQS = this.recQS;
    const nextId = this.nextId;
    const updId = this.updId;
    const bookTime = this.bookTime;
    const bidA = this.bid;
    const askA = this.ask;
    const bO = this.bO;
    const bH = this.bH;
    const bL = this.bL;
    const bC = this.bC;
    const bN = this.bN;
    const bV = this.bV;
    const bQ = this.bQ;
    const bTV = this.bTV;
    const bTQ = this.bTQ;
    const winHi = this.winHi;
    const winLo = this.winLo;
    const winLast = this.winLast;
    const winHiP = this.winHiP;
    const winLoP = this.winLoP;
    const stepped = this.stepped;
    const steppedSlot = this.steppedSlot;
    const R = this.R;
    const rMask = this.rMask;
    const B = this.B;
    const barBase = (this.curMinute % B) * n;
    const alpha = this.alpha;
    const btcIndex = this.btcIndex;
    let ns = 0;
    for (let i = 0; i < n; i++) {
      if (T < frozen[i]) continue;
      // Four draws of the symbol's sfc32 stream, inlined.
      const o4 = i << 2;
      let a = rng[o4];
      let b = rng[o4 + 1];
      let c = rng[o4 + 2];
      let d = rng[o4 + 3];
      let t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + t) | 0;
      const u1 = t >>> 0;
      t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + t) | 0;
      const u2 = t >>> 0;
      t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + t) | 0;
      const u3 = t >>> 0;
      t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + t) | 0;
      const u4 = t >>> 0;
      rng[o4] = a;
      rng[o4 + 1] = b;
      rng[o4 + 2] = c;
      rng[o4 + 3] = d;

      let P: number;
      if (rOn[i] !== 0 || pathOn[i] !== 0) P = this.scriptedPrice(i, T, btcR, u1);
      else {
        // Multiplicative step (no exp/log in the hot loop); the pull back to the anchor is
        // recomputed once a minute. Bounds reflect in log space: L -> bound^2 / L.
        let L =
          lat[i] *
          (1 + (i === btcIndex ? btcR : beta[i] * btcR + volStep[i] * burst[i] * gauss(u1)) + drift[i]);
        if (L < latMin[i]) L = (latMin[i] * latMin[i]) / L;
        else if (L > latMax[i]) L = (latMax[i] * latMax[i]) / L;
        lat[i] = L;
        P = Math.round(L);
      }
      const lo = minT[i];
      const hi = maxT[i];
      if (P < lo) P = lo;
      else if (P > hi) P = hi;

      // Trade count 1-4 (mean ~1.6), sides and spread, all from the bits of u2. The side that
      // moved the price trades last, so the last trade is at P and the book follows it.
      const cnt =
        1 +
        ((u2 & 0xff) < 96 ? 1 : 0) +
        (((u2 >>> 8) & 0xff) < 40 ? 1 : 0) +
        (((u2 >>> 16) & 0x3f) < 4 ? 1 : 0);
      const prev = last[i];
      let buyLast = P > prev ? true : P < prev ? false : ((u2 >>> 25) & 1) === 1;
      const sb = (u2 >>> 26) & 7;
      const spread = sb < 5 ? 1 : sb < 7 ? 2 : 3;
      if (buyLast && P - spread < lo) buyLast = false;
      else if (!buyLast && P + spread > hi) buyLast = true;
      let nb = buyLast ? 1 : 0;
      for (let j = 0; j < cnt - 1; j++) nb += (u2 >>> (22 + j)) & 1;
      const nsell = cnt - nb;
      const bu = burst[i];
      const vm = bu > 1 ? Math.sqrt(bu) : 1;
      const tq = typQ[i] * vm;
      const mq = minQ[i];
      const xq = maxQ[i];
      let qb = 0;
      if (nb > 0) {
        qb = Math.round(nb * tq * lookup(QTY_FACTOR, u3));
        if (qb < nb * mq) qb = nb * mq;
        else if (qb > nb * xq) qb = nb * xq;
      }
      let qs = 0;
      if (nsell > 0) {
        qs = Math.round(nsell * tq * lookup(QTY_FACTOR, u4));
        if (qs < nsell * mq) qs = nsell * mq;
        else if (qs > nsell * xq) qs = nsell * xq;
      }
      const mf = markF[i] + alpha * (P - markF[i]);
      markF[i] = mf;
      let mark = Math.round(mf);
      if (mark < lo) mark = lo;
      else if (mark > hi) mark = hi;
      const bid = buyLast ? P - spread : P;
      const ask = buyLast ? P : P + spread;

      // The step record (same as `record`).
      const slot = (recHead[i] + 1) & rMask;
      const o = slot * n + i;
      const id = nextId[i];
      recT[o] = T;
      recId[o] = id;
      recP[o] = P;
      recBid[o] = bid;
      recAsk[o] = ask;
      recMark[o] = mark;
      recFlags[o] = nb | (nsell << 8) | (buyLast ? 65536 : 0);
      recQB[o] = qb;
      recQS[o] = qs;
      recHead[i] = slot;
      if (recLen[i] < R) recLen[i]++;
      nextId[i] = id + cnt;
      updId[i]++;
      bookTime[i] = T;
      last[i] = P;
      bidA[i] = bid;
      askA[i] = ask;
      const bi = barBase + i;
      if (bN[bi] === 0) {
        bO[bi] = P;
        bH[bi] = P;
        bL[bi] = P;
      } else {
        if (P > bH[bi]) bH[bi] = P;
        if (P < bL[bi]) bL[bi] = P;
      }
      bC[bi] = P;
      bN[bi] += cnt;
      const q = qb + qs;
      bV[bi] += q;
      bTV[bi] += qb;
      bQ[bi] += P * q;
      bTQ[bi] += P * qb;
      if (track) {
        if (winLast[i] < 0 || P > winHiP[i]) {
          winHi[i] = slot;
          winHiP[i] = P;
        }
        if (winLast[i] < 0 || P < winLoP[i]) {
          winLo[i] = slot;
          winLoP[i] = P;
        }
        winLast[i] = slot;
      }
      stepped[ns] = i;
      steppedSlot[ns++] = slot;
    }
    // Slots are captured: a listener may print more records (setPrice) while we emit.
    if (emitFine) for (let j = 0; j < ns; j++) this.emitRecord(stepped[j], steppedSlot[j]);
  }

  /** Price of a replayed or path-following symbol at step time T (updates its latent price). */
  private scriptedPrice(i: number, T: number, btcR: number, u1: number): number {
    if (this.rOn[i]) {
      const P = this.walk(i, (T - this.curMinute * MINUTE) / this.stepMs);
      this.lat[i] = P;
      return P;
    }
    if (T >= this.pathT1[i]) {
      const P = this.pathP1[i];
      this.pathOn[i] = 0;
      this.lat[i] = P;
      this.anchor[i] = Math.log(P);
      return P;
    }
    let lat =
      this.pathP0[i] +
      ((this.pathP1[i] - this.pathP0[i]) * (T - this.pathT0[i])) / (this.pathT1[i] - this.pathT0[i]);
    if (this.pathNoise[i]) {
      // The usual noise, as a deviation from the line pulled back to zero by the end (a bridge).
      let dev = this.pathDev[i] + this.beta[i] * btcR + this.volStep[i] * this.burst[i] * gauss(u1);
      dev *= (this.pathT1[i] - T) / (this.pathT1[i] - T + this.stepMs);
      this.pathDev[i] = dev;
      lat *= Math.exp(dev);
    }
    this.lat[i] = lat;
    return Math.round(lat);
  }

  private clampQ(i: number, count: number, q: number): number {
    const r = Math.round(q);
    const lo = count * this.minQ[i];
    const hi = count * this.maxQ[i];
    return r < lo ? lo : Math.min(r, hi);
  }

  /** Writes a step record and books its trades into the forming bar and the state. */
  private record(
    i: number,
    T: number,
    P: number,
    bid: number,
    ask: number,
    nb: number,
    ns: number,
    qb: number,
    qs: number,
    buyLast: boolean,
  ): void {
    const slot = (this.recHead[i] + 1) & this.rMask;
    const o = slot * this.n + i;
    const id = this.nextId[i];
    this.recT[o] = T;
    this.recId[o] = id;
    this.recP[o] = P;
    this.recBid[o] = bid;
    this.recAsk[o] = ask;
    this.recMark[o] = this.markTicks(i);
    this.recFlags[o] = nb | (ns << 8) | (buyLast ? 1 << 16 : 0);
    this.recQB[o] = qb;
    this.recQS[o] = qs;
    this.recHead[i] = slot;
    if (this.recLen[i] < this.R) this.recLen[i]++;
    this.nextId[i] = id + nb + ns;
    this.updId[i]++;
    this.bookTime[i] = T;
    this.last[i] = P;
    this.bid[i] = bid;
    this.ask[i] = ask;

    const b = (this.curMinute % this.B) * this.n + i;
    if (this.bN[b] === 0) {
      this.bO[b] = P;
      this.bH[b] = P;
      this.bL[b] = P;
    } else {
      if (P > this.bH[b]) this.bH[b] = P;
      if (P < this.bL[b]) this.bL[b] = P;
    }
    this.bC[b] = P;
    this.bN[b] += nb + ns;
    const q = qb + qs;
    this.bV[b] += q;
    this.bTV[b] += qb;
    this.bQ[b] += P * q;
    this.bTQ[b] += P * qb;
  }

  /** One trade at P now (setPrice): buy if up, sell if down; the book follows. */
  private printAt(i: number, P: number): void {
    const T = Math.max(this.clock.now(), this.lastStep * this.stepMs, this.bookTime[i]);
    let buy = P >= this.last[i];
    if (buy && P - 1 < this.minT[i]) buy = false;
    else if (!buy && P + 1 > this.maxT[i]) buy = true;
    const q = this.clampQ(i, 1, this.typQ[i]);
    this.lat[i] = P;
    this.anchor[i] = Math.log(P);
    this.record(
      i,
      T,
      P,
      buy ? P - 1 : P,
      buy ? P : P + 1,
      buy ? 1 : 0,
      buy ? 0 : 1,
      buy ? q : 0,
      buy ? 0 : q,
      buy,
    );
    if (this.tickListeners.size > 0) this.emitRecord(i, this.recHead[i]);
  }

  /** Start of minute m: open the bars, per-minute draws (bursts, basis), replay rows. */
  private startMinute(m: number): void {
    this.curMinute = m;
    if (m - this.B + 1 > this.firstMinute) this.firstMinute = m - this.B + 1;
    const slot = m % this.B;
    // Market-wide bursts ride on the BTC factor.
    const ub = sfc32(this.btcRng, 0);
    const ub2 = sfc32(this.btcRng, 0);
    if (this.btcBurstLeft > 0) {
      if (--this.btcBurstLeft === 0) this.btcBurst = 1;
    } else if (unit(ub) < BTC_BURST_P_MIN) {
      this.btcBurst = 3 + 2 * ((ub2 & 0xffff) / 65536);
      this.btcBurstLeft = 2 + ((ub2 >>> 16) % 7);
    }
    for (let i = 0; i < this.n; i++) {
      const b = slot * this.n + i;
      const p = this.last[i];
      this.bO[b] = p;
      this.bH[b] = p;
      this.bL[b] = p;
      this.bC[b] = p;
      this.bN[b] = 0;
      this.bV[b] = 0;
      this.bQ[b] = 0;
      this.bTV[b] = 0;
      this.bTQ[b] = 0;
      this.winHi[i] = -1;
      this.winLo[i] = -1;
      this.winLast[i] = -1;
      this.minuteDraws(i);
      const r = this.replay[i];
      if (r) {
        const j = m - r.start;
        if (j >= r.len) this.endReplay(i);
        else if (j >= 0) {
          this.rOn[i] = 1;
          this.rO[i] = r.o[j];
          this.rH[i] = r.h[j];
          this.rL[i] = r.l[j];
          this.rC[i] = r.c[j];
        }
      }
    }
  }

  /** Per-minute draws of symbol i: volatility burst and basis; samples the premium. */
  private minuteDraws(i: number): void {
    const o = i << 2;
    const u1 = sfc32(this.rng, o);
    const u2 = sfc32(this.rng, o);
    const u3 = sfc32(this.rng, o);
    if (this.burstLeft[i] > 0) {
      if (--this.burstLeft[i] === 0) this.burst[i] = 1;
    } else if (unit(u1) < BURST_P_MIN) {
      this.burst[i] = 3 + 2 * ((u2 & 0xffff) / 65536);
      this.burstLeft[i] = 2 + ((u2 >>> 16) % 7);
    }
    this.drift[i] = -this.kappa * (Math.log(this.lat[i]) - this.anchor[i]);
    this.basis[i] += BASIS_THETA * (this.basisMu[i] - this.basis[i]) + BASIS_SIGMA * gauss(u3);
    this.premSum[i] += this.basis[i];
    this.premN[i]++;
  }

  /** Replay walk within the minute: open → first extreme → second extreme → close. */
  private walk(i: number, j: number): number {
    const K = this.spm - 1;
    const O = this.rO[i];
    const C = this.rC[i];
    const up = C >= O;
    const e1 = up ? this.rL[i] : this.rH[i];
    const e2 = up ? this.rH[i] : this.rL[i];
    if (K <= 0) return C;
    const k1 = Math.round(K / 3);
    const k2 = Math.round((2 * K) / 3);
    let P: number;
    if (j <= k1) P = k1 === 0 ? e1 : O + ((e1 - O) * j) / k1;
    else if (j <= k2) P = e1 + ((e2 - e1) * (j - k1)) / (k2 - k1);
    else P = e2 + ((C - e2) * (j - k2)) / (K - k2);
    return Math.round(P);
  }

  private endReplay(i: number): void {
    if (this.replay[i] === undefined) return;
    this.replay[i] = undefined;
    this.rOn[i] = 0;
    this.anchor[i] = Math.log(this.lat[i]); // the random walk goes on around where the file ended
  }

  private fund(time: number): void {
    const emit = this.fundingListeners.size > 0;
    const rates = emit ? new Map<string, { rate: string; mark: string }>() : undefined;
    for (let i = 0; i < this.n; i++) {
      const rate = this.fundingRateE8(i);
      const mark = this.markTicks(i);
      this.fTime[i].push(time);
      this.fRate[i].push(rate);
      this.fMark[i].push(mark);
      this.premSum[i] = 0;
      this.premN[i] = 0;
      rates?.set(this.names[i], { rate: fmtUnits(rate, 8, 8), mark: this.units[i].price(mark) });
    }
    if (rates) {
      for (const l of this.fundingListeners) {
        try {
          l(time, rates);
        } catch (e) {
          this.pendingError ??= e;
        }
      }
    }
  }

  /** Binance's funding formula over the premium averaged since the last funding, in 1e-8 units. */
  private fundingRateE8(i: number): number {
    const P = this.premN[i] > 0 ? this.premSum[i] / this.premN[i] : this.basis[i];
    const d = INTEREST - P;
    let F = P + (d > 0.0005 ? 0.0005 : Math.max(d, -0.0005));
    if (F > FUNDING_CAP) F = FUNDING_CAP;
    else if (F < -FUNDING_CAP) F = -FUNDING_CAP;
    return Math.round(F * 1e8);
  }

  private markTicks(i: number): number {
    const m = Math.round(this.markF[i]);
    return m < this.minT[i] ? this.minT[i] : Math.min(m, this.maxT[i]);
  }

  private indexE8(i: number): number {
    return Math.round(this.markF[i] * this.units[i].tickValue * (1 - this.basis[i]) * 1e8);
  }

  // ---------------------------------------------------------------------------------------------
  // Emission and on-demand details

  /** Coarse mode: emit the window's high, low and last step per symbol, in time order. */
  private flushWindows(): void {
    if (this.tickListeners.size === 0) return;
    for (let i = 0; i < this.n; i++) {
      const last = this.winLast[i];
      if (last < 0) continue;
      const a = this.winHi[i];
      const b = this.winLo[i];
      const slots = [a, b, last].filter((s, k, arr) => s >= 0 && arr.indexOf(s) === k);
      slots.sort((p, q) => this.recId[p * this.n + i] - this.recId[q * this.n + i]);
      for (const s of slots) this.emitRecord(i, s);
      this.winHi[i] = -1;
      this.winLo[i] = -1;
      this.winLast[i] = -1;
    }
  }

  private emitRecord(i: number, slot: number): void {
    const o = slot * this.n + i;
    const u = this.units[i];
    const tick: MarketTick = {
      symbol: this.names[i],
      time: this.recT[o],
      trades: this.materialize(i, slot),
      last: u.price(this.recP[o]),
      mark: u.price(this.recMark[o]),
      book: this.bookAt(i, slot),
    };
    for (const l of this.tickListeners) {
      try {
        l(tick);
      } catch (e) {
        this.pendingError ??= e;
      }
    }
  }

  private rethrow(): void {
    if (this.pendingError === undefined) return;
    const e = this.pendingError;
    this.pendingError = undefined;
    throw e;
  }

  /** The single trades of a step record, in print order (the side that moved the price last). */
  private materialize(i: number, slot: number): MarketTrade[] {
    const o = slot * this.n + i;
    const u = this.units[i];
    const flags = this.recFlags[o];
    const nb = flags & 0xff;
    const ns = (flags >>> 8) & 0xff;
    const buyLast = (flags >>> 16) & 1;
    const id0 = this.recId[o];
    const T = this.recT[o];
    const P = this.recP[o];
    const price = u.price(P);
    const out: MarketTrade[] = [];
    const symbol = this.names[i];
    let id = id0;
    const push = (count: number, total: number, buy: boolean) => {
      if (count === 0) return;
      const minQ = this.minQ[i];
      const extra = total - count * minQ;
      let wsum = 0;
      const w: number[] = [];
      for (let j = 0; j < count; j++) {
        const wj = count === 1 ? 1 : -Math.log(unitPos(hash32(this.seed, i, id0, (buy ? 0 : 16) + j)));
        w.push(wj);
        wsum += wj;
      }
      let used = 0;
      for (let j = 0; j < count; j++) {
        const part = j === count - 1 ? extra - used : Math.floor((extra * w[j]) / wsum);
        used += part;
        const q = minQ + part;
        out.push({
          id: id++,
          symbol,
          price,
          qty: u.qty(q),
          quoteQty: u.quote(P * q),
          time: T,
          isBuyerMaker: !buy,
        });
      }
    };
    if (buyLast) {
      push(ns, this.recQS[o], false);
      push(nb, this.recQB[o], true);
    } else {
      push(nb, this.recQB[o], true);
      push(ns, this.recQS[o], false);
    }
    return out;
  }

  private lastTrade(i: number): MarketTrade | undefined {
    if (this.recLen[i] === 0) return undefined;
    const t = this.materialize(i, this.recHead[i]);
    return t[t.length - 1];
  }

  private bookAt(i: number, slot: number): BookTicker {
    const u = this.units[i];
    if (slot < 0) {
      const p = this.last[i];
      return {
        symbol: this.names[i],
        bidPrice: u.price(p - 1),
        bidQty: u.qty(this.minQ[i] + this.floorQ[i]),
        askPrice: u.price(p),
        askQty: u.qty(this.minQ[i] + this.floorQ[i]),
        time: this.bookTime[i],
      };
    }
    const o = slot * this.n + i;
    const id = this.recId[o];
    return {
      symbol: this.names[i],
      bidPrice: u.price(this.recBid[o]),
      bidQty: u.qty(this.topQty(i, id, 0)),
      askPrice: u.price(this.recAsk[o]),
      askQty: u.qty(this.topQty(i, id, 1)),
      time: this.recT[o],
    };
  }

  /** Quantity at the best bid (side 0) or ask (1) after the step whose first trade id is id. */
  private topQty(i: number, id: number, side: number): number {
    const z = gauss(hash32(this.seed ^ 0x70b, i, id, side));
    return this.clampQ(i, 1, this.typQ[i] * 2 * Math.exp(0.9 * z)) + this.floorQ[i];
  }

  /** Quantity resting at a deeper level; changes every ~3 s, staggered per level. */
  private levelQty(i: number, p: number, upd: number): number {
    const period = 8 + (p % 8);
    const epoch = Math.floor((upd + (p % 5) * 3) / period);
    const z = gauss(hash32(this.seed ^ 0x1e7e1, i, p, epoch));
    return this.clampQ(i, 1, this.typQ[i] * 4 * Math.exp(z)) + this.floorQ[i];
  }

  // ---------------------------------------------------------------------------------------------
  // History

  private loadReplay(i: number, bars: CsvBar[], start: number): ReplayData {
    const u = this.units[i];
    const t0 = bars[0].openTime;
    const len = (bars[bars.length - 1].openTime - t0) / MINUTE + 1;
    const r: ReplayData = {
      start,
      len,
      o: new Int32Array(len),
      h: new Int32Array(len),
      l: new Int32Array(len),
      c: new Int32Array(len),
      v: new Float64Array(len),
      tv: new Float64Array(len),
      n: new Int32Array(len),
    };
    let k = 0;
    let prevClose = this.clampT(i, toUnits(bars[0].open, u.tick));
    for (let j = 0; j < len; j++) {
      const bar = bars[k];
      if (bar && bar.openTime === t0 + j * MINUTE) {
        k++;
        const o = this.clampT(i, toUnits(bar.open, u.tick));
        const c = this.clampT(i, toUnits(bar.close, u.tick));
        r.o[j] = o;
        r.c[j] = c;
        r.h[j] = Math.max(o, c, this.clampT(i, toUnits(bar.high, u.tick)));
        r.l[j] = Math.min(o, c, this.clampT(i, toUnits(bar.low, u.tick)));
        r.v[j] = toUnits(bar.volume, u.step);
        r.tv[j] = bar.takerBuyVolume
          ? Math.min(r.v[j], toUnits(bar.takerBuyVolume, u.step))
          : Math.round(r.v[j] / 2);
        r.n[j] = r.v[j] > 0 ? Math.max(1, bar.count) : 0;
        prevClose = c;
      } else {
        // A minute missing from the file: flat, no trades.
        r.o[j] = r.h[j] = r.l[j] = r.c[j] = prevClose;
      }
    }
    return r;
  }

  /**
   * 1m bars for minutes [from, to) without the step kernel: per minute a return (BTC factor plus
   * own noise, bursts included), the bar's high and low drawn from the distribution of a Brownian
   * bridge's extremes, volume and trade count log-normal around the symbol's typical activity.
   * Random symbols are anchored so the history ends at the spec's initialPrice; replayed ones
   * take their bars from the CSV and continue randomly after its end.
   */
  private backfill(from: number, to: number): void {
    const M = to - from;
    if (M <= 0) return;
    const rb = new Float64Array(M);
    const bb = new Float64Array(M);
    for (let m = 0; m < M; m++) {
      const ub = sfc32(this.btcRng, 0);
      const ub2 = sfc32(this.btcRng, 0);
      if (this.btcBurstLeft > 0) {
        if (--this.btcBurstLeft === 0) this.btcBurst = 1;
      } else if (unit(ub) < BTC_BURST_P_MIN) {
        this.btcBurst = 3 + 2 * ((ub2 & 0xffff) / 65536);
        this.btcBurstLeft = 2 + ((ub2 >>> 16) % 7);
      }
      bb[m] = this.btcBurst;
      rb[m] = this.btcMinVol * this.btcBurst * gauss(sfc32(this.btcRng, 0));
    }
    const ret = new Float64Array(M);
    const sd = new Float64Array(M);
    const xs = new Float64Array(M + 1); // xs[m] = log open of minute m; xs[M] = log close of the last
    const rng = this.rng;
    const tradesPerMin = TRADES_PER_STEP * this.spm;
    const z = new Uint32Array(M * 5);
    for (let i = 0; i < this.n; i++) {
      const o4 = i << 2;
      const isBtc = i === this.btcIndex;
      const rp = this.replay[i];
      // Pass 1: per-minute draws in a fixed order.
      for (let m = 0; m < M; m++) {
        this.minuteDraws(i);
        if (((from + m) * MINUTE) % FUNDING_MS === 0 && m > 0) {
          // Funding boundary at the start of minute m (the mark is the previous close, set below).
          this.fTime[i].push((from + m) * MINUTE);
          this.fRate[i].push(this.fundingRateE8(i));
          this.fMark[i].push(m); // placeholder: minute index, resolved after prices are known
          this.premSum[i] = 0;
          this.premN[i] = 0;
        }
        const own = this.volMin[i] * this.burst[i];
        ret[m] = isBtc ? rb[m] : this.beta[i] * rb[m] + own * gauss(sfc32(rng, o4));
        sd[m] = isBtc
          ? this.btcMinVol * bb[m]
          : Math.sqrt((this.beta[i] * this.btcMinVol * bb[m]) ** 2 + own * own);
        for (let k = 0; k < 5; k++) z[m * 5 + k] = sfc32(rng, o4);
      }
      // Pass 2: prices. Anchored (backward from the initial price) or replayed then forward.
      const replayed = rp ? Math.min(rp.len, M) : 0;
      if (!rp) {
        xs[M] = Math.log(this.lat[i]);
        for (let m = M - 1; m >= 0; m--) xs[m] = xs[m + 1] - ret[m];
      } else {
        xs[0] = Math.log(rp.o[0]);
        for (let m = 0; m < M; m++) xs[m + 1] = m < replayed ? Math.log(rp.c[m]) : xs[m] + ret[m];
      }
      const B = this.B;
      let prevClose = this.clampT(i, Math.round(Math.exp(xs[0])));
      for (let m = 0; m < M; m++) {
        const b = ((from + m) % B) * this.n + i;
        const zz = m * 5;
        let O: number;
        let H: number;
        let L: number;
        let C: number;
        let N: number;
        let V: number;
        let TV: number;
        if (m < replayed && rp) {
          O = rp.o[m];
          H = rp.h[m];
          L = rp.l[m];
          C = rp.c[m];
          V = rp.v[m];
          TV = rp.tv[m];
          N = rp.n[m];
        } else {
          O = prevClose;
          C = this.clampT(i, Math.round(Math.exp(xs[m + 1])));
          const c = C - O;
          const s2 = (sd[m] * Math.exp(xs[m + 1])) ** 2;
          H = Math.max(O, C, Math.ceil(O + (c + Math.sqrt(c * c - 2 * s2 * Math.log(unitPos(z[zz])))) / 2));
          L = Math.min(
            O,
            C,
            Math.floor(O + (c - Math.sqrt(c * c - 2 * s2 * Math.log(unitPos(z[zz + 1])))) / 2),
          );
          H = Math.min(H, this.maxT[i]);
          L = Math.max(L, this.minT[i]);
          const act = Math.sqrt(this.burst[i]);
          N = Math.max(1, Math.round(tradesPerMin * act * Math.exp(0.3 * gauss(z[zz + 2]) - 0.045)));
          V = this.clampQ(i, N, N * this.typQ[i] * Math.exp(0.5 * gauss(z[zz + 3]) - 0.125));
          const tilt = 0.5 + 0.3 * Math.tanh(ret[m] / (sd[m] || 1)) + 0.05 * gauss(z[zz + 4]);
          TV = Math.round(V * Math.min(0.95, Math.max(0.05, tilt)));
        }
        const vwap = (O + H + L + C) / 4;
        this.bO[b] = O;
        this.bH[b] = H;
        this.bL[b] = L;
        this.bC[b] = C;
        this.bN[b] = N;
        this.bV[b] = V;
        this.bTV[b] = TV;
        this.bQ[b] = Math.round(V * vwap);
        this.bTQ[b] = Math.round(TV * vwap);
        this.nextId[i] += N;
        prevClose = C;
      }
      // Resolve the funding marks (previous minute's close) recorded in pass 1.
      const fm = this.fMark[i];
      for (let k = 0; k < fm.length; k++) fm[k] = this.bC[((from + fm[k] - 1) % B) * this.n + i];
      // Leave the symbol at the end of its history.
      this.last[i] = prevClose;
      this.markF[i] = prevClose;
      this.lat[i] = prevClose;
      if (rp) {
        this.anchor[i] = Math.log(prevClose);
        if (rp.len <= M) this.endReplay(i);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  private idx(symbol: string): number {
    const i = this.index.get(symbol);
    if (i === undefined) throw new Error(`unknown symbol: ${symbol}`);
    return i;
  }

  private clampT(i: number, t: number): number {
    return t < this.minT[i] ? this.minT[i] : Math.min(t, this.maxT[i]);
  }
}
