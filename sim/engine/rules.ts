// Symbol filters (parsed once per symbol), the filter checks with Binance's codes, and the
// leverage brackets.

import { D, Decimal } from '../../core/decimal.ts';
import { apiError, type SymbolSpec } from '../contracts.ts';
import type { Bracket, SymbolRules } from './types.ts';

// [notionalCap, initialLeverage, maintMarginRatio]: BTCUSDT's live table, and a smaller one for the rest.
const MAJOR_TABLE: Array<[number, number, string]> = [
  [50_000, 125, '0.004'],
  [600_000, 100, '0.005'],
  [3_000_000, 75, '0.0065'],
  [12_000_000, 50, '0.01'],
  [70_000_000, 25, '0.02'],
  [100_000_000, 20, '0.025'],
  [230_000_000, 10, '0.05'],
  [480_000_000, 5, '0.1'],
  [600_000_000, 4, '0.125'],
  [800_000_000, 3, '0.15'],
  [1_200_000_000, 2, '0.25'],
  [1_800_000_000, 1, '0.5'],
];
const ALT_TABLE: Array<[number, number, string]> = [
  [10_000, 125, '0.005'],
  [50_000, 100, '0.0065'],
  [250_000, 75, '0.01'],
  [1_000_000, 50, '0.02'],
  [5_000_000, 25, '0.025'],
  [10_000_000, 20, '0.05'],
  [20_000_000, 10, '0.1'],
  [25_000_000, 5, '0.125'],
  [50_000_000, 4, '0.15'],
  [100_000_000, 2, '0.25'],
  [200_000_000, 1, '0.5'],
];
const MAJORS = new Set(['BTCUSDT', 'ETHUSDT']);

export const MAX_LEVERAGE = 125;
export const DEFAULT_LEVERAGE = 20;

function buildBrackets(symbol: string): Bracket[] {
  const table = MAJORS.has(symbol) ? MAJOR_TABLE : ALT_TABLE;
  const out: Bracket[] = [];
  let floor = Decimal.ZERO;
  let cum = Decimal.ZERO;
  let prevMmr = Decimal.ZERO;
  table.forEach(([cap, lev, mmr], i) => {
    const m = D(mmr);
    cum = cum.add(floor.mul(m.sub(prevMmr)));
    out.push({
      bracket: i + 1,
      initialLeverage: lev,
      notionalCap: D(cap),
      notionalFloor: floor,
      maintMarginRatio: m,
      cum,
    });
    floor = D(cap);
    prevMmr = m;
  });
  return out;
}

function notionalText(d: Decimal): string {
  const s = d.toString();
  return s.includes('.') ? s : `${s}.0`;
}

export function buildRules(spec: SymbolSpec): SymbolRules {
  const tick = D(spec.tickSize);
  const step = D(spec.stepSize);
  const marketStep = D(spec.marketStepSize);
  const minNotional = D(spec.minNotional);
  return {
    spec,
    symbol: spec.symbol,
    tick,
    minPrice: D(spec.minPrice),
    maxPrice: D(spec.maxPrice),
    step,
    minQty: D(spec.minQty),
    maxQty: D(spec.maxQty),
    marketStep,
    marketMinQty: D(spec.marketMinQty),
    marketMaxQty: D(spec.marketMaxQty),
    minNotional,
    minNotionalText: notionalText(minNotional),
    multiplierUp: D(spec.multiplierUp),
    multiplierDown: D(spec.multiplierDown),
    pricePrecision: spec.pricePrecision,
    quantityPrecision: spec.quantityPrecision,
    priceDecimals: Math.max(spec.pricePrecision, tick.decimalPlaces()),
    qtyDecimals: Math.max(spec.quantityPrecision, step.decimalPlaces()),
    marketQtyDecimals: Math.max(spec.quantityPrecision, marketStep.decimalPlaces()),
    maxNumOrders: spec.maxNumOrders,
    brackets: buildBrackets(spec.symbol),
  };
}

/** The bracket a position notional falls in. */
export function bracketFor(rules: SymbolRules, notional: Decimal): Bracket {
  const n = notional.abs();
  for (const b of rules.brackets) if (n.lt(b.notionalCap)) return b;
  return rules.brackets[rules.brackets.length - 1];
}

/** Largest position notional allowed at a leverage. */
export function maxNotional(rules: SymbolRules, leverage: number): Decimal {
  let cap = rules.brackets[0].notionalCap;
  for (const b of rules.brackets) if (b.initialLeverage >= leverage) cap = b.notionalCap;
  return cap;
}

/** Maintenance margin of a position notional: notional × mmr − cum. */
export function maintMargin(rules: SymbolRules, notional: Decimal): Decimal {
  const n = notional.abs();
  if (n.isZero()) return Decimal.ZERO;
  const b = bracketFor(rules, n);
  return n.mul(b.maintMarginRatio).sub(b.cum);
}

// ---- filter checks (each throws the code Binance answers with) ----

/** -1111 when a price has more decimals than the symbol allows. */
export function checkPricePrecision(rules: SymbolRules, price: Decimal): void {
  if (price.decimalPlaces() > rules.priceDecimals) throw apiError(-1111);
}

export function checkQtyPrecision(rules: SymbolRules, qty: Decimal, market: boolean): void {
  if (qty.decimalPlaces() > (market ? rules.marketQtyDecimals : rules.qtyDecimals)) throw apiError(-1111);
}

/** PRICE_FILTER for a limit price. */
export function checkPriceFilter(rules: SymbolRules, price: Decimal): void {
  if (price.isNegative()) throw apiError(-4001);
  if (!rules.minPrice.isZero() && price.lt(rules.minPrice)) throw apiError(-4013);
  if (price.isZero()) throw apiError(-4013);
  if (!rules.maxPrice.isZero() && price.gt(rules.maxPrice)) throw apiError(-4002);
  if (!rules.tick.isZero() && !price.isMultipleOf(rules.tick, rules.minPrice)) throw apiError(-4014);
}

/** PRICE_FILTER for a stop/trigger/activation price. */
export function checkStopPriceFilter(rules: SymbolRules, price: Decimal): void {
  if (price.isNegative() || price.isZero()) throw apiError(-4006);
  if (!rules.minPrice.isZero() && price.lt(rules.minPrice)) throw apiError(-4013);
  if (!rules.maxPrice.isZero() && price.gt(rules.maxPrice)) throw apiError(-4007);
  if (!rules.tick.isZero() && !price.isMultipleOf(rules.tick, rules.minPrice)) throw apiError(-4014);
}

/** LOT_SIZE, or MARKET_LOT_SIZE for market orders. */
export function checkLotSize(rules: SymbolRules, qty: Decimal, market: boolean): void {
  const min = market ? rules.marketMinQty : rules.minQty;
  const max = market ? rules.marketMaxQty : rules.maxQty;
  const step = market ? rules.marketStep : rules.step;
  if (qty.sign() <= 0) throw apiError(-4003);
  if (!min.isZero() && qty.lt(min)) throw apiError(-4004);
  if (!max.isZero() && qty.gt(max)) throw apiError(-4005);
  if (!step.isZero() && !qty.isMultipleOf(step, min)) throw apiError(-4023);
}

/** PERCENT_PRICE: BUY ≤ mark × multiplierUp (-4016), SELL ≥ mark × multiplierDown (-4024). */
export function checkPercentPrice(
  rules: SymbolRules,
  side: 'BUY' | 'SELL',
  price: Decimal,
  mark: Decimal,
): void {
  if (mark.sign() <= 0) return;
  if (side === 'BUY' && !rules.multiplierUp.isZero() && price.gt(mark.mul(rules.multiplierUp)))
    throw apiError(-4016);
  if (side === 'SELL' && !rules.multiplierDown.isZero() && price.lt(mark.mul(rules.multiplierDown)))
    throw apiError(-4024);
}

/** MIN_NOTIONAL (-4164 with the symbol's notional). */
export function checkMinNotional(rules: SymbolRules, price: Decimal, qty: Decimal): void {
  if (!rules.minNotional.isZero() && price.mul(qty).lt(rules.minNotional))
    throw apiError(-4164, rules.minNotionalText);
}
