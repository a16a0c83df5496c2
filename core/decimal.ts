// Exact decimal arithmetic for prices, quantities and balances.
//
// Binance sends every price and quantity as decimal text ("0.10", "2.8E-4") and checks orders
// against tick and step sizes exactly, including steps that are not powers of ten. Floats get
// this wrong ("0.1 + 0.2"), so money never passes through a JS number here: a Decimal is a
// bigint mantissa and a non-negative scale (value = mantissa / 10^scale).

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

export type Rounding = 'floor' | 'ceil' | 'round' | 'trunc';

export class Decimal {
  readonly m: bigint;
  readonly scale: number;

  private constructor(m: bigint, scale: number) {
    this.m = m;
    this.scale = scale;
  }

  static readonly ZERO = new Decimal(0n, 0);
  static readonly ONE = new Decimal(1n, 0);

  /** Parses decimal text, including scientific notation. Throws on anything else. */
  static parse(text: string): Decimal {
    const s = text.trim();
    const match = DECIMAL_RE.exec(s);
    if (!match || (match[2] === '' && (match[3] === undefined || match[3] === ''))) {
      throw new DecimalError(`not a decimal number: ${JSON.stringify(text)}`);
    }
    const [, sign, intPart, fracPart = '', expPart] = match;
    let m = BigInt((intPart || '0') + fracPart);
    if (sign === '-') m = -m;
    let scale = fracPart.length;
    const exp = expPart === undefined ? 0 : Number(expPart);
    if (!Number.isSafeInteger(exp) || Math.abs(exp) > 400)
      throw new DecimalError(`exponent out of range: ${text}`);
    scale -= exp;
    if (scale < 0) {
      m *= 10n ** BigInt(-scale);
      scale = 0;
    }
    return new Decimal(m, scale).normalize();
  }

  /** From a JS number: goes through its shortest round-trip text, so 0.1 becomes exactly 0.1. */
  static fromNumber(n: number): Decimal {
    if (!Number.isFinite(n)) throw new DecimalError(`not a finite number: ${n}`);
    return Decimal.parse(String(n));
  }

  static from(v: Decimal | string | number | bigint): Decimal {
    if (v instanceof Decimal) return v;
    if (typeof v === 'string') return Decimal.parse(v);
    if (typeof v === 'bigint') return new Decimal(v, 0);
    return Decimal.fromNumber(v);
  }

  /** Builds mantissa / 10^scale directly. */
  static of(m: bigint, scale: number): Decimal {
    if (scale < 0) return new Decimal(m * 10n ** BigInt(-scale), 0);
    return new Decimal(m, scale).normalize();
  }

  static isValid(text: string): boolean {
    try {
      Decimal.parse(text);
      return true;
    } catch {
      return false;
    }
  }

  /** Removes trailing zeros of the fraction. */
  private normalize(): Decimal {
    let { m, scale } = this;
    while (scale > 0 && m % 10n === 0n) {
      m /= 10n;
      scale--;
    }
    return scale === this.scale ? this : new Decimal(m, scale);
  }

  private at(scale: number): bigint {
    return this.m * 10n ** BigInt(scale - this.scale);
  }

  add(o: Decimal | string | number): Decimal {
    const b = Decimal.from(o);
    const s = Math.max(this.scale, b.scale);
    return new Decimal(this.at(s) + b.at(s), s).normalize();
  }

  sub(o: Decimal | string | number): Decimal {
    const b = Decimal.from(o);
    const s = Math.max(this.scale, b.scale);
    return new Decimal(this.at(s) - b.at(s), s).normalize();
  }

  mul(o: Decimal | string | number): Decimal {
    const b = Decimal.from(o);
    return new Decimal(this.m * b.m, this.scale + b.scale).normalize();
  }

  /** Division to `scale` decimal places (default 18), rounded as asked. */
  div(o: Decimal | string | number, scale = 18, rounding: Rounding = 'round'): Decimal {
    const b = Decimal.from(o);
    if (b.m === 0n) throw new DecimalError('division by zero');
    // (a.m / 10^a.s) / (b.m / 10^b.s) = a.m * 10^(b.s + scale - a.s) / b.m / 10^scale
    const shift = b.scale + scale - this.scale;
    let num = this.m;
    let den = b.m;
    if (shift >= 0) num *= 10n ** BigInt(shift);
    else den *= 10n ** BigInt(-shift);
    return new Decimal(divRound(num, den, rounding), scale).normalize();
  }

  neg(): Decimal {
    return new Decimal(-this.m, this.scale);
  }

  abs(): Decimal {
    return this.m < 0n ? this.neg() : this;
  }

  cmp(o: Decimal | string | number): -1 | 0 | 1 {
    const b = Decimal.from(o);
    const s = Math.max(this.scale, b.scale);
    const x = this.at(s);
    const y = b.at(s);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  eq(o: Decimal | string | number): boolean {
    return this.cmp(o) === 0;
  }
  lt(o: Decimal | string | number): boolean {
    return this.cmp(o) < 0;
  }
  lte(o: Decimal | string | number): boolean {
    return this.cmp(o) <= 0;
  }
  gt(o: Decimal | string | number): boolean {
    return this.cmp(o) > 0;
  }
  gte(o: Decimal | string | number): boolean {
    return this.cmp(o) >= 0;
  }
  isZero(): boolean {
    return this.m === 0n;
  }
  isNegative(): boolean {
    return this.m < 0n;
  }
  isPositive(): boolean {
    return this.m > 0n;
  }
  sign(): -1 | 0 | 1 {
    return this.m < 0n ? -1 : this.m > 0n ? 1 : 0;
  }

  static min(a: Decimal, b: Decimal): Decimal {
    return a.lte(b) ? a : b;
  }
  static max(a: Decimal, b: Decimal): Decimal {
    return a.gte(b) ? a : b;
  }

  /** Number of decimal places needed to write the value exactly. */
  decimalPlaces(): number {
    return this.scale;
  }

  /** True when (this - base) is an integer multiple of step (step > 0). */
  isMultipleOf(step: Decimal | string, base: Decimal | string = Decimal.ZERO): boolean {
    const st = Decimal.from(step);
    if (st.m <= 0n) return true;
    const diff = this.sub(base);
    const s = Math.max(diff.scale, st.scale);
    return diff.at(s) % st.at(s) === 0n;
  }

  /** Rounds to a multiple of step (measured from base), e.g. a price to the tick size. */
  toStep(
    step: Decimal | string,
    rounding: Rounding = 'floor',
    base: Decimal | string = Decimal.ZERO,
  ): Decimal {
    const st = Decimal.from(step);
    if (st.m <= 0n) return this;
    const b = Decimal.from(base);
    const diff = this.sub(b);
    const s = Math.max(diff.scale, st.scale);
    const q = divRound(diff.at(s), st.at(s), rounding);
    return new Decimal(q * st.at(s), s).normalize().add(b);
  }

  /** Rounds to `dp` decimal places. */
  round(dp: number, rounding: Rounding = 'round'): Decimal {
    if (dp >= this.scale) return this;
    const q = divRound(this.m, 10n ** BigInt(this.scale - dp), rounding);
    return new Decimal(q, dp).normalize();
  }

  /** Plain text, never scientific notation, no trailing zeros ("0.1", "65000", "-0.00028"). */
  toString(): string {
    return this.toFixed(this.scale);
  }

  /** Text with exactly dp decimals (rounded half away from zero when shortening). */
  toFixed(dp: number, rounding: Rounding = 'round'): string {
    const v = dp < this.scale ? this.round(dp, rounding) : this;
    const m = v.at(dp);
    const neg = m < 0n;
    let digits = (neg ? -m : m).toString();
    if (dp > 0) {
      digits = digits.padStart(dp + 1, '0');
      digits = `${digits.slice(0, -dp)}.${digits.slice(-dp)}`;
    }
    return neg && m !== 0n ? `-${digits}` : digits;
  }

  toNumber(): number {
    return Number(this.toString());
  }

  toJSON(): string {
    return this.toString();
  }
}

export class DecimalError extends Error {
  override name = 'DecimalError';
}

function divRound(num: bigint, den: bigint, rounding: Rounding): bigint {
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const q = num / den; // truncates toward zero
  const r = num % den;
  if (r === 0n) return q;
  switch (rounding) {
    case 'trunc':
      return q;
    case 'floor':
      return num < 0n ? q - 1n : q;
    case 'ceil':
      return num > 0n ? q + 1n : q;
    case 'round': {
      const twice = (r < 0n ? -r : r) * 2n;
      if (twice >= den) return num < 0n ? q - 1n : q + 1n;
      return q;
    }
  }
}

/** Shorthand: D('0.1'). */
export function D(v: Decimal | string | number | bigint): Decimal {
  return Decimal.from(v);
}
