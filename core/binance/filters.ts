// Symbol trading rules from exchangeInfo, exact rounding to tick and step, and the pre-checks an
// order must pass BEFORE it is sent, answering with the code Binance would (reference §7.3).
//
// Everything is Decimal: ticks and steps that are not powers of ten ("0.5", "0.25", "5"), inputs
// in scientific notation ("2.8E-4") and grids anchored at minPrice/minQty are handled exactly.
// Binance's rules: PRICE_FILTER (price − minPrice) % tickSize == 0, LOT_SIZE (qty − minQty) %
// stepSize == 0, each rule disabled when its value is 0; MARKET orders use MARKET_LOT_SIZE.

import { Decimal } from '../decimal.ts';
import { codeMessage } from './codes.ts';
import type {
  ExchangeInfo,
  ExchangeSymbol,
  LotSize,
  MarketLotSize,
  MaxNumOrders,
  MinNotional,
  PercentPrice,
  PositionSide,
  PriceFilter,
  Side,
  SymbolFilter,
} from './schemas.ts';

export type DecimalInput = Decimal | string;
export type RoundMode = 'floor' | 'ceil' | 'round';

/** The codes the pre-checks answer with, as Binance does for the same order. */
export type CheckCode =
  | -1102 // mandatory parameter missing or malformed (price of a LIMIT order, bad decimal text)
  | -1111 // more decimals than the symbol allows
  | -1121 // unknown symbol
  | -4001 // price < 0
  | -4002 // price > maxPrice
  | -4003 // quantity <= 0
  | -4004 // quantity < minQty
  | -4005 // quantity > maxQty
  | -4013 // price < minPrice (or 0)
  | -4014 // price not on the tick grid
  | -4016 // BUY price above mark × multiplierUp
  | -4023 // quantity not on the step grid
  | -4024 // SELL price below mark × multiplierDown
  | -4164; // notional below MIN_NOTIONAL

export interface OrderCheck {
  side: Side;
  type: 'LIMIT' | 'MARKET';
  /** Required for LIMIT; ignored for MARKET. */
  price?: DecimalInput;
  quantity: DecimalInput;
  /** Reduce-only orders are exempt from MIN_NOTIONAL. */
  reduceOnly?: boolean;
  /** Hedge mode: SELL LONG / BUY SHORT close and are exempt from MIN_NOTIONAL like reduce-only. */
  positionSide?: PositionSide;
  /**
   * Mark price: enables PERCENT_PRICE for LIMIT and MIN_NOTIONAL for MARKET (Binance values a
   * MARKET order at the mark). Without it those two checks are skipped.
   */
  markPrice?: DecimalInput;
}

export interface PrepareOrder extends OrderCheck {
  /** Price rounding; default toward the passive side (BUY floor, SELL ceil). */
  priceRounding?: RoundMode;
  /** Quantity rounding; default floor. */
  qtyRounding?: RoundMode;
}

export type CheckResult =
  | {
      ok: true;
      /** Price text to send (LIMIT only): plain decimal, the tick's decimals, never exponent form. */
      price?: string;
      /** Quantity text to send. */
      quantity: string;
    }
  | {
      ok: false;
      code: CheckCode;
      /** Binance's message for the code. */
      msg: string;
      /** What exactly is wrong, with the numbers. */
      reason: string;
    };

type Fail = Extract<CheckResult, { ok: false }>;

function fail(code: CheckCode, reason: string, ...args: string[]): Fail {
  return { ok: false, code, msg: codeMessage(code, ...args), reason };
}

function parseInput(v: DecimalInput): Decimal | undefined {
  if (v instanceof Decimal) return v;
  try {
    return Decimal.parse(v);
  } catch {
    return undefined;
  }
}

/** Decimals of a tick/step as written ("0.10" → 2, "5" → 0, "1E-8" → 8). */
function writtenDecimals(text: string): number {
  const t = text.trim();
  if (/[eE]/.test(t)) return Decimal.parse(t).decimalPlaces();
  const dot = t.indexOf('.');
  return dot < 0 ? 0 : t.length - dot - 1;
}

function findFilter<T extends SymbolFilter>(filters: SymbolFilter[], type: string): T | undefined {
  return filters.find((f) => f.filterType === type) as T | undefined;
}

/** One symbol's trading rules, parsed once from its exchangeInfo row. */
export class SymbolRules {
  readonly symbol: string;
  readonly status: string;
  // PRICE_FILTER
  readonly tickSize: Decimal;
  readonly minPrice: Decimal;
  readonly maxPrice: Decimal;
  // LOT_SIZE
  readonly stepSize: Decimal;
  readonly minQty: Decimal;
  readonly maxQty: Decimal;
  // MARKET_LOT_SIZE (falls back to LOT_SIZE when absent; a 0 step disables the step rule)
  readonly marketStepSize: Decimal;
  readonly marketMinQty: Decimal;
  readonly marketMaxQty: Decimal;
  // MIN_NOTIONAL, PERCENT_PRICE, MAX_NUM_ORDERS (0 = absent/disabled)
  readonly minNotional: Decimal;
  readonly minNotionalText: string;
  readonly multiplierUp: Decimal;
  readonly multiplierDown: Decimal;
  readonly maxNumOrders: number;
  /** Display precisions from the row. Not tick/step: never round with these. */
  readonly pricePrecision: number;
  readonly quantityPrecision: number;
  /** Most decimals a price / quantity may have before Binance answers -1111. */
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  readonly marketQtyDecimals: number;
  /** Decimals used when formatting (the tick's / step's as written, within the allowed precision). */
  readonly priceFormatDecimals: number;
  readonly qtyFormatDecimals: number;
  readonly marketQtyFormatDecimals: number;

  constructor(row: ExchangeSymbol) {
    this.symbol = row.symbol;
    this.status = row.status;
    const pf = findFilter<PriceFilter>(row.filters, 'PRICE_FILTER');
    const lot = findFilter<LotSize>(row.filters, 'LOT_SIZE');
    const mlot = findFilter<MarketLotSize>(row.filters, 'MARKET_LOT_SIZE');
    const mn = findFilter<MinNotional>(row.filters, 'MIN_NOTIONAL');
    const pp = findFilter<PercentPrice>(row.filters, 'PERCENT_PRICE');
    const mno = findFilter<MaxNumOrders>(row.filters, 'MAX_NUM_ORDERS');
    const d = (s: string | undefined) => (s === undefined ? Decimal.ZERO : Decimal.parse(s));
    this.tickSize = d(pf?.tickSize);
    this.minPrice = d(pf?.minPrice);
    this.maxPrice = d(pf?.maxPrice);
    this.stepSize = d(lot?.stepSize);
    this.minQty = d(lot?.minQty);
    this.maxQty = d(lot?.maxQty);
    this.marketStepSize = mlot ? d(mlot.stepSize) : this.stepSize;
    this.marketMinQty = mlot ? d(mlot.minQty) : this.minQty;
    this.marketMaxQty = mlot ? d(mlot.maxQty) : this.maxQty;
    this.minNotional = d(mn?.notional);
    this.minNotionalText = mn?.notional ?? '0';
    this.multiplierUp = d(pp?.multiplierUp);
    this.multiplierDown = d(pp?.multiplierDown);
    this.maxNumOrders = mno?.limit ?? 0;
    this.pricePrecision = row.pricePrecision;
    this.quantityPrecision = row.quantityPrecision;
    this.priceDecimals = Math.max(row.pricePrecision, this.tickSize.decimalPlaces());
    this.qtyDecimals = Math.max(row.quantityPrecision, this.stepSize.decimalPlaces());
    this.marketQtyDecimals = Math.max(row.quantityPrecision, this.marketStepSize.decimalPlaces());
    const fmt = (text: string | undefined, step: Decimal, allowed: number) =>
      text === undefined ? 0 : Math.max(step.decimalPlaces(), Math.min(writtenDecimals(text), allowed));
    this.priceFormatDecimals = fmt(pf?.tickSize, this.tickSize, this.priceDecimals);
    this.qtyFormatDecimals = fmt(lot?.stepSize, this.stepSize, this.qtyDecimals);
    this.marketQtyFormatDecimals = mlot
      ? fmt(mlot.stepSize, this.marketStepSize, this.marketQtyDecimals)
      : this.qtyFormatDecimals;
  }

  static fromExchangeInfo(row: ExchangeSymbol): SymbolRules {
    return new SymbolRules(row);
  }

  // ---- rounding ----

  /**
   * Rounds a price onto the tick grid anchored at minPrice. `how` is a rounding mode or the
   * order's side: BUY rounds down (floor), SELL rounds up (ceil) — toward the passive side, so
   * rounding never makes an order more aggressive. The result is not clamped to [minPrice,
   * maxPrice]; checkOrder reports that.
   */
  roundPrice(price: DecimalInput, how: RoundMode | Side): Decimal {
    const p = Decimal.from(price);
    const mode: RoundMode = how === 'BUY' ? 'floor' : how === 'SELL' ? 'ceil' : how;
    if (this.tickSize.isZero()) return p;
    return p.toStep(this.tickSize, mode, this.minPrice);
  }

  /** Rounds a quantity onto the step grid anchored at minQty (MARKET_LOT_SIZE when market); never below 0. */
  roundQty(qty: DecimalInput, mode: RoundMode = 'floor', market = false): Decimal {
    const q = Decimal.from(qty);
    const step = market ? this.marketStepSize : this.stepSize;
    const min = market ? this.marketMinQty : this.minQty;
    if (step.isZero()) return q;
    const r = q.toStep(step, mode, min);
    return r.isNegative() ? Decimal.ZERO : r;
  }

  /**
   * Quantity for spending `quoteAmount` at `price`, on the step grid (floor by default, so the
   * notional never exceeds the amount), computed exactly. Not checked against minQty/minNotional.
   */
  quoteToQty(
    quoteAmount: DecimalInput,
    price: DecimalInput,
    mode: RoundMode = 'floor',
    market = false,
  ): Decimal {
    const quote = Decimal.from(quoteAmount);
    const p = Decimal.from(price);
    if (!p.isPositive()) throw new RangeError(`${this.symbol}: price must be positive: ${p}`);
    const step = market ? this.marketStepSize : this.stepSize;
    const min = market ? this.marketMinQty : this.minQty;
    if (step.isZero()) return quote.div(p, 18, mode);
    // count = (quote/price − min) / step = (quote − min·price) / (price·step), an exact rational.
    const count = quote.sub(min.mul(p)).div(p.mul(step), 0, mode);
    const qty = min.add(count.mul(step));
    return qty.isNegative() ? Decimal.ZERO : qty;
  }

  /** Price text: plain, at least the tick's decimals, never exponent form, never loses digits. */
  formatPrice(price: DecimalInput): string {
    const p = Decimal.from(price);
    return p.toFixed(Math.max(this.priceFormatDecimals, p.decimalPlaces()));
  }

  /** Quantity text: plain, at least the step's decimals, never exponent form, never loses digits. */
  formatQty(qty: DecimalInput, market = false): string {
    const q = Decimal.from(qty);
    const dp = market ? this.marketQtyFormatDecimals : this.qtyFormatDecimals;
    return q.toFixed(Math.max(dp, q.decimalPlaces()));
  }

  // ---- pre-checks ----

  /**
   * Checks an order as Binance would, in Binance's order: precision (-1111), PRICE_FILTER
   * (-4001/-4013/-4002/-4014), LOT_SIZE or MARKET_LOT_SIZE (-4003/-4004/-4005/-4023),
   * PERCENT_PRICE against the mark (-4016/-4024), MIN_NOTIONAL (-4164; MARKET valued at the mark;
   * reduce-only exempt). Does not round: use prepareOrder for that.
   */
  checkOrder(o: OrderCheck): CheckResult {
    const market = o.type === 'MARKET';
    const qty = parseInput(o.quantity);
    if (qty === undefined) return fail(-1102, `quantity is not a decimal: ${String(o.quantity)}`, 'quantity');
    let price: Decimal | undefined;
    if (!market) {
      if (o.price === undefined) return fail(-1102, 'LIMIT order without price', 'price');
      price = parseInput(o.price);
      if (price === undefined) return fail(-1102, `price is not a decimal: ${String(o.price)}`, 'price');
    }
    let mark: Decimal | undefined;
    if (o.markPrice !== undefined) {
      mark = parseInput(o.markPrice);
      if (mark === undefined) throw new TypeError(`markPrice is not a decimal: ${String(o.markPrice)}`);
    }

    // precision
    if (price !== undefined && price.decimalPlaces() > this.priceDecimals)
      return fail(-1111, `price ${price} has more than ${this.priceDecimals} decimals`);
    const qtyDp = market ? this.marketQtyDecimals : this.qtyDecimals;
    if (qty.decimalPlaces() > qtyDp) return fail(-1111, `quantity ${qty} has more than ${qtyDp} decimals`);

    // PRICE_FILTER
    if (price !== undefined) {
      if (price.isNegative()) return fail(-4001, `price ${price} < 0`);
      if (!this.minPrice.isZero() && price.lt(this.minPrice))
        return fail(-4013, `price ${price} < minPrice ${this.minPrice}`);
      if (price.isZero()) return fail(-4013, 'price is 0');
      if (!this.maxPrice.isZero() && price.gt(this.maxPrice))
        return fail(-4002, `price ${price} > maxPrice ${this.maxPrice}`);
      if (!this.tickSize.isZero() && !price.isMultipleOf(this.tickSize, this.minPrice))
        return fail(-4014, `price ${price} is not minPrice ${this.minPrice} + n × tickSize ${this.tickSize}`);
    }

    // LOT_SIZE / MARKET_LOT_SIZE
    const min = market ? this.marketMinQty : this.minQty;
    const max = market ? this.marketMaxQty : this.maxQty;
    const step = market ? this.marketStepSize : this.stepSize;
    const lotName = market ? 'MARKET_LOT_SIZE' : 'LOT_SIZE';
    if (qty.sign() <= 0) return fail(-4003, `quantity ${qty} <= 0`);
    if (!min.isZero() && qty.lt(min)) return fail(-4004, `quantity ${qty} < ${lotName} minQty ${min}`);
    if (!max.isZero() && qty.gt(max)) return fail(-4005, `quantity ${qty} > ${lotName} maxQty ${max}`);
    if (!step.isZero() && !qty.isMultipleOf(step, min))
      return fail(-4023, `quantity ${qty} is not minQty ${min} + n × stepSize ${step} (${lotName})`);

    // PERCENT_PRICE
    if (price !== undefined && mark?.isPositive()) {
      if (o.side === 'BUY' && !this.multiplierUp.isZero()) {
        const cap = mark.mul(this.multiplierUp);
        if (price.gt(cap))
          return fail(
            -4016,
            `BUY price ${price} > mark ${mark} × multiplierUp ${this.multiplierUp} = ${cap}`,
          );
      }
      if (o.side === 'SELL' && !this.multiplierDown.isZero()) {
        const floor = mark.mul(this.multiplierDown);
        if (price.lt(floor))
          return fail(
            -4024,
            `SELL price ${price} < mark ${mark} × multiplierDown ${this.multiplierDown} = ${floor}`,
          );
      }
    }

    // MIN_NOTIONAL
    const reducing =
      o.reduceOnly === true ||
      (o.side === 'SELL' && o.positionSide === 'LONG') ||
      (o.side === 'BUY' && o.positionSide === 'SHORT');
    const ref = market ? mark : price;
    if (!reducing && ref !== undefined && !this.minNotional.isZero()) {
      const notional = ref.mul(qty);
      if (notional.lt(this.minNotional))
        return fail(
          -4164,
          `notional ${notional} (${market ? 'mark' : 'price'} ${ref} × quantity ${qty}) < ${this.minNotional}`,
          this.minNotionalText,
        );
    }

    return {
      ok: true,
      price: price === undefined ? undefined : this.formatPrice(price),
      quantity: this.formatQty(qty, market),
    };
  }

  /** Rounds price (passive side by default) and quantity (floor by default), then checkOrder. */
  prepareOrder(o: PrepareOrder): CheckResult {
    const market = o.type === 'MARKET';
    const qty = parseInput(o.quantity);
    if (qty === undefined) return fail(-1102, `quantity is not a decimal: ${String(o.quantity)}`, 'quantity');
    let price: Decimal | undefined;
    if (!market && o.price !== undefined) {
      const p = parseInput(o.price);
      if (p === undefined) return fail(-1102, `price is not a decimal: ${String(o.price)}`, 'price');
      price = this.roundPrice(p, o.priceRounding ?? o.side);
    }
    return this.checkOrder({
      ...o,
      price: market ? undefined : price,
      quantity: this.roundQty(qty, o.qtyRounding ?? 'floor', market),
    });
  }
}

/** symbol → SymbolRules, from GET /fapi/v1/exchangeInfo. */
export class RulesBook {
  private readonly bySymbol = new Map<string, SymbolRules>();

  constructor(rows: Iterable<ExchangeSymbol>) {
    for (const row of rows) this.bySymbol.set(row.symbol, new SymbolRules(row));
  }

  /** Every symbol of the answer (whatever its status; see SymbolRules.status). */
  static fromExchangeInfo(info: Pick<ExchangeInfo, 'symbols'>): RulesBook {
    return new RulesBook(info.symbols);
  }

  /** Loads exchangeInfo through anything that serves it (FuturesApi). */
  static async load(api: { exchangeInfo(): Promise<Pick<ExchangeInfo, 'symbols'>> }): Promise<RulesBook> {
    return RulesBook.fromExchangeInfo(await api.exchangeInfo());
  }

  get size(): number {
    return this.bySymbol.size;
  }

  symbols(): string[] {
    return [...this.bySymbol.keys()];
  }

  has(symbol: string): boolean {
    return this.bySymbol.has(symbol);
  }

  find(symbol: string): SymbolRules | undefined {
    return this.bySymbol.get(symbol);
  }

  /** The rules of a symbol; throws for an unknown one. */
  get(symbol: string): SymbolRules {
    const r = this.bySymbol.get(symbol);
    if (!r) throw new RangeError(`unknown symbol: ${symbol}`);
    return r;
  }

  checkOrder(o: OrderCheck & { symbol: string }): CheckResult {
    const r = this.bySymbol.get(o.symbol);
    return r ? r.checkOrder(o) : fail(-1121, `unknown symbol ${o.symbol}`);
  }

  prepareOrder(o: PrepareOrder & { symbol: string }): CheckResult {
    const r = this.bySymbol.get(o.symbol);
    return r ? r.prepareOrder(o) : fail(-1121, `unknown symbol ${o.symbol}`);
  }
}
