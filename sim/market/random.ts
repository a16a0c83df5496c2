// Seeded randomness for the market simulator. Everything the market produces is a function of the
// seed, so a scenario replays bit for bit.
//
// Two kinds of generator:
// - sfc32 streams (sequential, 128-bit state). The hot loop keeps one stream per symbol in an
//   Int32Array (4 words each) and calls `sfc32` on it; `Rng` wraps one stream for cold code.
// - `hash32`: a counter-based generator (stateless). Details that are only needed on demand (the
//   quantities of the single trades inside a step, book depth) are derived from a hash of
//   (seed, symbol, id), so they cost nothing unless someone asks for them.

/** Advances the sfc32 stream stored at s[o..o+3] and returns the next uint32. */
export function sfc32(s: Int32Array, o: number): number {
  const a = s[o];
  const b = s[o + 1];
  let c = s[o + 2];
  const d = s[o + 3];
  const t = (((a + b) | 0) + d) | 0;
  s[o + 3] = (d + 1) | 0;
  s[o] = b ^ (b >>> 9);
  s[o + 1] = (c + (c << 3)) | 0;
  c = (c << 21) | (c >>> 11);
  s[o + 2] = (c + t) | 0;
  return t >>> 0;
}

/** Seeds the sfc32 stream at s[o..o+3] from (seed, stream) and warms it up. */
export function seedStream(s: Int32Array, o: number, seed: number, stream: number): void {
  let h = hash32(seed, stream, 0x5eed);
  s[o] = h | 0;
  h = hash32(seed, stream, 0x5eee);
  s[o + 1] = h | 0;
  h = hash32(seed, stream, 0x5eef);
  s[o + 2] = h | 0;
  s[o + 3] = 1;
  for (let i = 0; i < 15; i++) sfc32(s, o);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A well-mixed uint32 from up to four numbers. Each argument is taken modulo 2^32, except that
 * numbers beyond 32 bits (trade ids) also mix in their high part.
 */
export function hash32(a: number, b: number, c = 0, d = 0): number {
  let h = fmix((a | 0) ^ 0x9e3779b9);
  h = fmix((h + (b | 0) + Math.imul(hi32(b), 0x27d4eb2f)) | 0);
  h = fmix((h ^ (c | 0)) + Math.imul(hi32(c), 0x165667b1));
  h = fmix((h + (d | 0)) ^ Math.imul(hi32(d), 0x61c88647));
  return h;
}

function hi32(x: number): number {
  return x >= 4294967296 || x < -2147483648 ? Math.floor(x / 4294967296) | 0 : 0;
}

/** uint32 → [0, 1). */
export function unit(u: number): number {
  return u / 4294967296;
}

/** uint32 → (0, 1], safe for log(). */
export function unitPos(u: number): number {
  return (u + 1) / 4294967296;
}

// Inverse normal CDF (Acklam's rational approximation, relative error < 1.2e-9).
function invNorm(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    );
  }
  if (p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return (
      -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    );
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

// Table of normal quantiles, interpolated: a standard normal from one uint32 with a lookup instead
// of log/sqrt/cos. Tails are cut at about ±3.6 sigma; the market's volatility bursts supply the fat
// tails.
const GAUSS_BITS = 12;
const GAUSS_N = 1 << GAUSS_BITS;
const GAUSS = new Float64Array(GAUSS_N + 1);
for (let i = 0; i <= GAUSS_N; i++) GAUSS[i] = invNorm((i + 0.5) / (GAUSS_N + 1));
const FRAC_SCALE = 1 / (1 << (32 - GAUSS_BITS));

/** A standard normal deviate from one uint32 (table-based, fast). */
export function gauss(u: number): number {
  return lookup(GAUSS, u);
}

/** Table of f(z) over the same normal quantiles, for `lookup` (e.g. a log-normal without exp()). */
export function normalTable(f: (z: number) => number): Float64Array {
  return GAUSS.map(f);
}

/** f(z) for the uint32 u, from a table made by normalTable (linear interpolation). */
export function lookup(table: Float64Array, u: number): number {
  const i = u >>> (32 - GAUSS_BITS);
  const f = (u & ((1 << (32 - GAUSS_BITS)) - 1)) * FRAC_SCALE;
  return table[i] + (table[i + 1] - table[i]) * f;
}

/** One sfc32 stream for code off the hot path (universe generation, tests). */
export class Rng {
  private readonly s = new Int32Array(4);
  private spare: number | undefined;

  constructor(seed: number, stream = 0) {
    seedStream(this.s, 0, seed, stream);
  }

  /** Next uint32. */
  uint32(): number {
    return sfc32(this.s, 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return unit(sfc32(this.s, 0));
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller, exact tails). */
  normal(): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return z;
    }
    const u = unitPos(this.uint32());
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}
