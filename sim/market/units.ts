// Integer units for prices and quantities. The market keeps a price as a count of ticks and a
// quantity as a count of steps (plain JS integers, exact below 2^53) and turns them into Binance's
// decimal text only when it emits them, so no float artefact ever reaches the wire.
//
// A tick (or step) is m / 10^s with integer m: "0.10" → m 1, s 1; "0.25" → m 25, s 2; "5" → m 5, s 0.
// A price of n ticks is the integer n*m at scale s; a quote amount (price × qty) is
// priceTicks*qtySteps*tickM*stepM at scale tickS + stepS.

import { Decimal } from '../../core/decimal.ts';

export interface Unit {
  /** Integer mantissa of the tick/step. */
  m: number;
  /** Decimal scale of the tick/step (normalised, no trailing zeros). */
  s: number;
}

export function unitOf(text: string): Unit {
  const d = Decimal.parse(text);
  if (!d.isPositive()) throw new Error(`tick/step must be positive: ${text}`);
  return { m: Number(d.m), s: d.scale };
}

/** Number of decimals a decimal text is written with ("0.10" → 2, "5" → 0). */
export function decimalsOf(text: string): number {
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

const ZEROS: string[] = [];
for (let i = 0, z = ''; i <= 40; i++, z += '0') ZEROS.push(z);

function zeros(n: number): string {
  return n <= 40 ? ZEROS[n] : '0'.repeat(n);
}

/**
 * Text of the integer v at decimal scale s, written with exactly dp (≥ s) decimals:
 * fmtUnits(9700010, 2, 2) → "97000.10"; fmtUnits(5, 0, 3) → "5.000". v may be a bigint.
 */
export function fmtUnits(v: number | bigint, s: number, dp: number): string {
  let neg = false;
  if (v < 0) {
    neg = true;
    v = -v;
  }
  let str = typeof v === 'bigint' || v <= Number.MAX_SAFE_INTEGER ? String(v) : BigInt(v).toString();
  if (s > 0) {
    if (str.length <= s) str = zeros(s - str.length + 1) + str;
    str = `${str.slice(0, str.length - s)}.${str.slice(str.length - s)}`;
    if (dp > s) str += zeros(dp - s);
  } else if (dp > 0) {
    str += `.${zeros(dp)}`;
  }
  return neg ? `-${str}` : str;
}

/** Exact product of two non-negative integers, as a number when safe, else a bigint. */
export function mulExact(a: number, b: number): number | bigint {
  const p = a * b;
  return p <= Number.MAX_SAFE_INTEGER ? p : BigInt(a) * BigInt(b);
}

/** acc + v for integers; becomes a bigint once the sum leaves the safe range. */
export function addExact(acc: number | bigint, v: number): number | bigint {
  if (typeof acc === 'bigint') return acc + BigInt(v);
  const s = acc + v;
  return s <= Number.MAX_SAFE_INTEGER ? s : BigInt(acc) + BigInt(v);
}

/** Decimal value of a decimal text in whole units of u, rounded half up ("97000.14", tick 0.1 → 970001). */
export function toUnits(text: string, u: Unit, rounding: 'round' | 'floor' | 'ceil' = 'round'): number {
  const d = Decimal.parse(text);
  const n = d.div(Decimal.of(BigInt(u.m), u.s), 0, rounding);
  return Number(n.m);
}

/** Formatting for one symbol: prices in ticks, quantities in steps, quote amounts in tick×step units. */
export class SymbolUnits {
  readonly tick: Unit;
  readonly step: Unit;
  /** Decimals of price text (pricePrecision, at least the tick's own decimals). */
  readonly pdp: number;
  /** Decimals of quantity text (quantityPrecision, at least the step's own decimals). */
  readonly qdp: number;
  /** Decimals of quote text (price × quantity, exact). */
  readonly vdp: number;
  /** Tick value as a float, for the few places that need one (index price). */
  readonly tickValue: number;

  constructor(tickSize: string, stepSize: string, pricePrecision: number, quantityPrecision: number) {
    this.tick = unitOf(tickSize);
    this.step = unitOf(stepSize);
    this.pdp = Math.max(pricePrecision, this.tick.s);
    this.qdp = Math.max(quantityPrecision, this.step.s);
    this.vdp = this.pdp + this.qdp;
    this.tickValue = this.tick.m / 10 ** this.tick.s;
  }

  price(ticks: number): string {
    return fmtUnits(ticks * this.tick.m, this.tick.s, this.pdp);
  }

  /** Price text with a fixed number of decimals (premiumIndex uses 8). */
  priceDp(ticks: number, dp: number): string {
    return fmtUnits(ticks * this.tick.m, this.tick.s, Math.max(dp, this.tick.s));
  }

  qty(steps: number | bigint): string {
    const v = typeof steps === 'bigint' ? steps * BigInt(this.step.m) : mulExact(steps, this.step.m);
    return fmtUnits(v, this.step.s, this.qdp);
  }

  /** Quote amount given in tick×step units. */
  quote(units: number | bigint): string {
    const f = this.tick.m * this.step.m;
    const v = typeof units === 'bigint' ? units * BigInt(f) : mulExact(units, f);
    return fmtUnits(v, this.tick.s + this.step.s, this.vdp);
  }

  /** Exact price as a Decimal. */
  priceDecimal(ticks: number | bigint): Decimal {
    return Decimal.of(BigInt(ticks) * BigInt(this.tick.m), this.tick.s);
  }
}
