// The simulated symbol universe and the GET /fapi/v1/exchangeInfo body built from it.
//
// The first five symbols carry Binance's own filters; the real-looking names after them use
// plausible levels with tick and step derived from the price the way Binance sizes them (a tick of
// 1e-5..1e-4 of the price, a step worth a few USDT); beyond the known names come generated ones.
// A handful of symbols deliberately have tick or step sizes that are not powers of ten (TRXUSDT
// among the first ten), because Binance checks (price - minPrice) % tickSize exactly and clients
// must too. Everything here is deterministic: no seed, the same list for the same count.

import { Decimal } from '../../core/decimal.ts';
import type { SymbolSpec } from '../contracts.ts';
import { Rng } from './random.ts';
import { decimalsOf } from './units.ts';

/** A SymbolSpec plus the exchangeInfo details that only the row needs. */
export interface UniverseSpec extends SymbolSpec {
  underlyingType: string;
  underlyingSubType: string[];
  triggerProtect: string;
  liquidationFee: string;
  marketTakeBound: string;
  /** Typical traded quote volume per minute (USDT), drives trade sizes. */
  quoteVolumePerMinute: number;
}

/** Known symbols: base, price, then optional tick, step, sub-type (row order = universe order). */
type Known = [base: string, price: string, tick?: string, step?: string, subType?: string];

const KNOWN: Known[] = [
  ['BTC', '104250.00', '0.10', '0.001', 'PoW'],
  ['ETH', '3850.00', '0.01', '0.001', 'Layer-1'],
  ['BNB', '920.000', '0.010', '0.01', 'CEX'],
  ['SOL', '185.0000', '0.0100', '1', 'Layer-1'],
  ['XRP', '2.3500', '0.0001', '0.1', 'Payment'],
  ['DOGE', '0.245000', '0.000010', '1', 'Meme'],
  ['ADA', '0.78000', '0.00001', '1', 'Layer-1'],
  // Non-power-of-ten tick and step on purpose (see the header).
  ['TRX', '0.29000', '0.00005', '5', 'Layer-1'],
  ['AVAX', '32.000', '0.0025', '0.5', 'Layer-1'],
  ['LINK', '21.500', '0.005', '0.5', 'Oracle'],
  ['DOT', '5.800', '0.001', '0.1', 'Layer-0'],
  ['LTC', '105.00', '0.01', '0.001', 'PoW'],
  ['BCH', '520.00', '0.25', '0.001', 'PoW'],
  ['TON', '3.1000', '0.0005', '0.1', 'Layer-1'],
  ['SUI', '3.6000', '0.0001', '0.1', 'Layer-1'],
  ['NEAR', '3.900', '0.001', '1', 'Layer-1'],
  ['APT', '8.200', '0.001', '0.1', 'Layer-1'],
  ['UNI', '10.500', '0.001', '1', 'DeFi'],
  ['ATOM', '6.100', '0.001', '0.01', 'Layer-0'],
  ['ETC', '24.000', '0.001', '0.01', 'PoW'],
  ['FIL', '4.100', '0.001', '0.1', 'Storage'],
  ['ARB', '0.6200', '0.0001', '0.1', 'Layer-2'],
  ['OP', '1.0500', '0.0001', '0.1', 'Layer-2'],
  ['INJ', '18.000', '0.001', '0.1', 'DeFi'],
  ['AAVE', '290.00', '0.01', '0.1', 'DeFi'],
  ['MKR', '1850.0', '0.5', '0.001', 'DeFi'],
  ['HBAR', '0.24000', '0.00001', '1', 'Layer-1'],
  ['XLM', '0.41000', '0.00001', '1', 'Payment'],
  ['ICP', '7.800', '0.001', '1', 'Layer-1'],
  ['RENDER', '5.900', '0.001', '0.1', 'AI'],
  ['TIA', '4.3000', '0.0001', '1', 'Layer-1'],
  ['SEI', '0.36000', '0.00001', '1', 'Layer-1'],
  ['STX', '1.1500', '0.0001', '1', 'Layer-2'],
  ['IMX', '0.9500', '0.0001', '1', 'Layer-2'],
  ['LDO', '1.6000', '0.0001', '1', 'DeFi'],
  ['GRT', '0.16000', '0.00001', '1', 'Infrastructure'],
  ['ALGO', '0.2900', '0.0001', '0.1', 'Layer-1'],
  ['VET', '0.038000', '0.000001', '1', 'Layer-1'],
  ['SAND', '0.42000', '0.00001', '1', 'Gaming'],
  ['MANA', '0.4400', '0.0001', '1', 'Gaming'],
  ['AXS', '5.600', '0.001', '1', 'Gaming'],
  ['GALA', '0.027000', '0.000001', '1', 'Gaming'],
  ['APE', '0.9200', '0.0001', '1', 'NFT'],
  ['CRV', '0.8500', '0.0001', '0.1', 'DeFi'],
  ['SNX', '1.900', '0.001', '0.1', 'DeFi'],
  ['COMP', '58.00', '0.01', '0.001', 'DeFi'],
  ['YFI', '6900', '5', '0.001', 'DeFi'],
  ['SUSHI', '1.0500', '0.0001', '1', 'DeFi'],
  ['1INCH', '0.3600', '0.0001', '1', 'DeFi'],
  ['DYDX', '1.050', '0.001', '0.1', 'DeFi'],
  ['GMX', '22.000', '0.001', '0.01', 'DeFi'],
  ['RUNE', '2.100', '0.001', '1', 'DeFi'],
  ['KAVA', '0.5200', '0.0001', '0.1', 'Layer-1'],
  ['EGLD', '28.00', '0.01', '0.1', 'Layer-1'],
  ['XTZ', '0.9500', '0.0001', '0.1', 'Layer-1'],
  ['EOS', '0.7800', '0.0001', '0.1', 'Layer-1'],
  ['NEO', '12.500', '0.001', '0.01', 'Layer-1'],
  ['QTUM', '3.200', '0.001', '0.1', 'Layer-1'],
  ['ZEC', '58.00', '0.01', '0.001', 'Privacy'],
  ['DASH', '31.00', '0.01', '0.001', 'Privacy'],
  ['XMR', '320.00', '0.01', '0.001', 'Privacy'],
  ['IOTA', '0.2700', '0.0001', '0.1', 'Infrastructure'],
  ['THETA', '1.300', '0.001', '0.1', 'Infrastructure'],
  ['CHZ', '0.07500', '0.00001', '1', 'Sports'],
  ['ENJ', '0.21000', '0.00001', '1', 'Gaming'],
  ['FLOW', '0.6100', '0.0001', '0.1', 'Layer-1'],
  ['KSM', '26.00', '0.01', '0.1', 'Layer-0'],
  ['ZIL', '0.019000', '0.000001', '1', 'Layer-1'],
  ['ONE', '0.018000', '0.000001', '1', 'Layer-1'],
  ['ROSE', '0.07100', '0.00001', '1', 'Layer-1'],
  ['CELO', '0.5500', '0.0001', '0.1', 'Layer-1'],
  ['MINA', '0.4800', '0.0001', '1', 'Layer-1'],
  ['BLUR', '0.1900', '0.0001', '1', 'NFT'],
  ['PENDLE', '4.6000', '0.0001', '1', 'DeFi'],
  ['JUP', '0.7800', '0.0001', '1', 'DeFi'],
  ['WIF', '1.2500', '0.0001', '0.1', 'Meme'],
  ['1000BONK', '0.024500', '0.000001', '1', 'Meme'],
  ['1000PEPE', '0.0128000', '0.0000001', '1', 'Meme'],
  ['1000SHIB', '0.015200', '0.000001', '1', 'Meme'],
  ['1000FLOKI', '0.11800', '0.00001', '1', 'Meme'],
  ['ENA', '0.6200', '0.0001', '1', 'DeFi'],
  ['WLD', '1.9000', '0.0001', '1', 'AI'],
  ['PYTH', '0.2100', '0.0001', '1', 'Oracle'],
  ['JTO', '2.6000', '0.0001', '1', 'DeFi'],
  ['STRK', '0.17000', '0.00001', '0.1', 'Layer-2'],
  ['ORDI', '12.500', '0.001', '0.1', 'BRC-20'],
  ['TAO', '420.00', '0.01', '0.001', 'AI'],
  ['FET', '0.9200', '0.0001', '1', 'AI'],
  ['AR', '9.500', '0.001', '0.1', 'Storage'],
  ['ENS', '24.000', '0.001', '0.1', 'Infrastructure'],
  ['LRC', '0.17000', '0.00001', '1', 'Layer-2'],
  ['ZRX', '0.3800', '0.0001', '0.1', 'DeFi'],
  ['BAT', '0.2000', '0.0001', '0.1', 'Infrastructure'],
  ['KNC', '0.48000', '0.00001', '1', 'DeFi'],
  ['BAND', '1.1000', '0.0001', '0.1', 'Oracle'],
  ['ANKR', '0.027000', '0.000001', '1', 'Infrastructure'],
  ['STORJ', '0.4300', '0.0001', '1', 'Storage'],
  ['SKL', '0.032000', '0.000001', '1', 'Layer-2'],
  ['RSR', '0.011500', '0.000001', '1', 'DeFi'],
  ['OGN', '0.08500', '0.00001', '1', 'DeFi'],
  ['CAKE', '2.4000', '0.0001', '1', 'DeFi'],
  ['ID', '0.24000', '0.00001', '1', 'Infrastructure'],
  ['ARKM', '0.6200', '0.0001', '1', 'AI'],
  ['CFX', '0.13000', '0.00001', '1', 'Layer-1'],
  ['MASK', '2.4000', '0.0001', '1', 'Social'],
  ['ONDO', '1.1500', '0.0001', '0.1', 'RWA'],
  ['W', '0.2900', '0.0001', '0.1', 'Infrastructure'],
  ['ZK', '0.16000', '0.00001', '1', 'Layer-2'],
  ['NOT', '0.0034000', '0.0000001', '1', 'Gaming'],
  ['BOME', '0.0029000', '0.0000001', '1', 'Meme'],
  ['POPCAT', '0.4200', '0.0001', '1', 'Meme'],
  ['TRUMP', '11.500', '0.001', '0.1', 'Meme'],
  ['HYPE', '36.000', '0.001', '0.01', 'DeFi'],
  ['VIRTUAL', '1.8000', '0.0001', '0.1', 'AI'],
  ['KAITO', '1.5000', '0.0001', '0.1', 'AI'],
  ['BERA', '3.600', '0.001', '0.1', 'Layer-1'],
  ['IP', '5.200', '0.001', '0.1', 'Layer-1'],
  ['S', '0.48000', '0.00001', '1', 'Layer-1'],
  ['MOVE', '0.2800', '0.0001', '1', 'Layer-2'],
  ['PENGU', '0.021000', '0.000001', '1', 'Meme'],
  ['USUAL', '0.12000', '0.00001', '1', 'RWA'],
  ['AIXBT', '0.1900', '0.0001', '1', 'AI'],
  ['EIGEN', '1.600', '0.001', '0.1', 'Infrastructure'],
  ['ETHFI', '1.250', '0.001', '0.1', 'DeFi'],
  ['ALT', '0.045000', '0.000001', '1', 'Layer-2'],
  ['MANTA', '0.31000', '0.00001', '1', 'Layer-2'],
  ['DYM', '0.3800', '0.0001', '1', 'Layer-1'],
  ['XAI', '0.08500', '0.00001', '1', 'Gaming'],
  ['PIXEL', '0.045000', '0.000001', '1', 'Gaming'],
  ['PORTAL', '0.07500', '0.00001', '1', 'Gaming'],
  ['SAGA', '0.6200', '0.0001', '0.1', 'Gaming'],
  ['TNSR', '0.2100', '0.0001', '1', 'NFT'],
  ['REZ', '0.021000', '0.000001', '1', 'DeFi'],
  ['BB', '0.16000', '0.00001', '1', 'DeFi'],
  ['IO', '1.050', '0.001', '0.1', 'AI'],
  ['LISTA', '0.3100', '0.0001', '1', 'DeFi'],
  ['ZRO', '2.600', '0.001', '0.1', 'Infrastructure'],
  ['1000SATS', '0.000048500', '0.000000001', '1', 'BRC-20'],
  ['1000RATS', '0.045000', '0.000001', '1', 'BRC-20'],
  ['1000LUNC', '0.06500', '0.00001', '1', 'Layer-1'],
  ['1000XEC', '0.025000', '0.000001', '1', 'PoW'],
  ['LUNA2', '0.21000', '0.00001', '1', 'Layer-1'],
  ['GMT', '0.06500', '0.00001', '1', 'Gaming'],
  ['MAGIC', '0.2100', '0.0001', '0.1', 'Gaming'],
  ['WOO', '0.08500', '0.00001', '1', 'DeFi'],
  ['C98', '0.06500', '0.00001', '1', 'DeFi'],
  ['ICX', '0.14000', '0.00001', '1', 'Layer-1'],
  ['RVN', '0.014000', '0.000001', '1', 'PoW'],
  ['HOOK', '0.18000', '0.00001', '1', 'Infrastructure'],
  ['ACE', '0.8500', '0.0001', '0.01', 'Gaming'],
  ['JASMY', '0.017000', '0.000001', '1', 'Infrastructure'],
  ['LPT', '6.500', '0.001', '0.1', 'Infrastructure'],
];

/** Binance's own filters for the majors (minPrice, maxPrice, maxQty, market maxQty, min notional, pp, qp, onboard). */
const MAJORS: Record<string, [string, string, string, string, string, number, number, number]> = {
  BTC: ['556.80', '4529764', '1000', '120', '100', 2, 3, 1569398400000],
  ETH: ['39.86', '306177', '10000', '2000', '20', 2, 3, 1569398400000],
  BNB: ['6.600', '100000', '100000', '2000', '5', 3, 2, 1581465600000],
  SOL: ['0.4200', '6857', '1000000', '5000', '5', 4, 0, 1599609600000],
  XRP: ['0.0143', '100000', '10000000', '2000000', '5', 4, 1, 1578182400000],
};

const MAJOR_RISK: Record<string, [beta: number, vol: number]> = {
  BTC: [1, 0.0007],
  ETH: [1.15, 0.0006],
  BNB: [0.7, 0.0005],
  SOL: [1.3, 0.0009],
  XRP: [1.1, 0.0009],
};

const CONSONANTS = 'BCDFGHJKLMNPRSTVWXZ';
const VOWELS = 'AEIOU';

/**
 * The simulated universe: BTCUSDT, ETHUSDT, BNBUSDT, SOLUSDT, XRPUSDT first, then more USDT
 * perpetuals up to `count` (real-looking names, then generated ones). Deterministic.
 */
export function buildUniverse(count: number): UniverseSpec[] {
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`symbol count must be a positive integer: ${count}`);
  const rng = new Rng(0x0f1ee7, 1);
  const out: UniverseSpec[] = [];
  const taken = new Set<string>();
  for (const k of KNOWN) {
    if (out.length >= count) break;
    out.push(makeSpec(out.length, k, rng));
    taken.add(k[0]);
  }
  // Generated names: deterministic syllables, prices spread log-normally (most alts below 10 USDT),
  // with the extremes pinned so both ends of the range are always present.
  const extremes = ['0.00001234', '98765.4', '0.0000567', '45678'];
  let g = 0;
  while (out.length < count) {
    const base = syntheticName(rng, taken);
    taken.add(base);
    let price: string;
    if (g < extremes.length) price = extremes[g];
    else {
      const lp = Math.min(4.8, Math.max(-4.9, -0.7 + 1.4 * rng.normal()));
      price = sig(10 ** lp, 4);
    }
    let name = base;
    // Half of the sub-milli coins list as 1000-contracts, like 1000PEPEUSDT.
    if (Decimal.parse(price).lt('0.001') && g >= extremes.length && rng.next() < 0.5) {
      name = `1000${base}`;
      price = sig(Number(price) * 1000, 4);
    }
    // Every 9th generated symbol gets a tick that is not a power of ten, every 11th a step.
    const tick = scaled(autoTick(price), g % 9 === 4 ? rng.pick(['5', '2.5', '0.5', '0.25']) : '1');
    const step = scaled(autoStep(price), g % 11 === 6 ? rng.pick(['5', '0.5', '2']) : '1');
    const sub = rng.pick(['Meme', 'AI', 'Gaming', 'DeFi', 'Layer-1', 'Layer-2', 'Infrastructure', 'RWA']);
    out.push(makeSpec(out.length, [name, roundTo(price, tick), tick, step, sub], rng));
    g++;
  }
  return out;
}

function syntheticName(rng: Rng, taken: Set<string>): string {
  for (;;) {
    const len = 3 + rng.int(3);
    let s = '';
    for (let i = 0; i < len; i++) s += i % 2 === 0 ? rng.pick([...CONSONANTS]) : rng.pick([...VOWELS]);
    if (!taken.has(s)) return s;
  }
}

/** x rounded to n significant digits, as plain decimal text. */
function sig(x: number, n: number): string {
  const e = Math.floor(Math.log10(x));
  const dp = Math.max(0, n - 1 - e);
  return Decimal.fromNumber(Number(x.toFixed(Math.min(dp, 20)))).toFixed(dp);
}

function pow10(e: number): string {
  return e >= 0 ? `1${'0'.repeat(e)}` : `0.${'0'.repeat(-e - 1)}1`;
}

/** Tick about 1e-5..1e-4 of the price. */
function autoTick(price: string): string {
  return pow10(Math.floor(Math.log10(Number(price))) - 4);
}

/** Step worth a few USDT, between 0.001 and 1. */
function autoStep(price: string): string {
  const e = Math.floor(Math.log10(10 / Number(price)));
  return pow10(Math.min(0, Math.max(-3, e)));
}

/** tick × factor, written with just the decimals it needs. */
function scaled(tick: string, factor: string): string {
  return Decimal.parse(tick).mul(factor).toString();
}

function roundTo(price: string, tick: string): string {
  const p = Decimal.parse(price).toStep(tick, 'round');
  const t = Decimal.parse(tick);
  return (p.isPositive() ? p : t).toFixed(t.decimalPlaces());
}

/** A "nice" quantity (1, 2, 5 × 10^k) near x, as a multiple of step and at least one step. */
function niceQty(x: number, step: string): string {
  const e = Math.floor(Math.log10(x));
  const f = x / 10 ** e;
  const m = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
  let d = Decimal.parse(pow10(e)).mul(m).toStep(step, 'floor');
  if (!d.isPositive()) d = Decimal.parse(step);
  return d.toString();
}

function makeSpec(index: number, k: Known, rng: Rng): UniverseSpec {
  const [base, priceText, tickIn, stepIn, subType] = k;
  const tick = tickIn ?? autoTick(priceText);
  const step = stepIn ?? autoStep(priceText);
  const price = Decimal.parse(priceText);
  const major = MAJORS[base];
  const pricePrecision = major ? major[5] : decimalsOf(tick);
  const quantityPrecision = major ? major[6] : decimalsOf(step);
  // Price band: about 1/100 to 40x of today's price, both on the tick grid.
  const minPrice = major
    ? major[0]
    : Decimal.max(price.div(100, 12).toStep(tick, 'ceil'), Decimal.parse(tick)).toFixed(decimalsOf(tick));
  const maxPrice = major ? major[1] : Decimal.parse(niceQty(price.toNumber() * 40, tick)).toString();
  const maxQty = major ? major[2] : niceQty(Math.min(5e7 / price.toNumber(), 1e10), step);
  const marketMaxQty = major ? major[3] : niceQty(Math.min(5e6 / price.toNumber(), 1e9), step);
  const minNotional = major ? major[4] : '5';
  // Listing days spread over 2020-2025, at 08:00 UTC like most Binance listings.
  const onboardDate = major
    ? major[7]
    : Date.UTC(2020, 0, 1) + ((index * 5 + rng.int(5)) % 2190) * 86400000 + 8 * 3600000;
  const top = index < 2;
  const wide = rng.next() < 0.25;
  // Beta to BTC and per-minute idiosyncratic volatility; for BTC, vol is the market factor itself.
  const [beta, vol] = MAJOR_RISK[base] ?? [
    round3(0.5 + rng.next()),
    round6(0.0008 + 0.0017 * rng.next() ** 2 + (subType === 'Meme' ? 0.0008 : 0)),
  ];
  return {
    symbol: `${base}USDT`,
    baseAsset: base,
    quoteAsset: 'USDT',
    tickSize: tick,
    minPrice,
    maxPrice,
    stepSize: step,
    minQty: step,
    maxQty,
    marketStepSize: step,
    marketMinQty: step,
    marketMaxQty,
    minNotional,
    maxNumOrders: 200,
    multiplierUp: top ? '1.0500' : wide ? '1.1500' : '1.0500',
    multiplierDown: top ? '0.9500' : wide ? '0.8500' : '0.9500',
    multiplierDecimal: '4',
    pricePrecision,
    quantityPrecision,
    maintMarginPercent: '2.5000',
    requiredMarginPercent: '5.0000',
    onboardDate,
    initialPrice: priceText,
    beta,
    vol,
    underlyingType: 'COIN',
    underlyingSubType: [subType ?? 'Layer-1'],
    triggerProtect: top ? '0.0500' : wide ? '0.1500' : '0.1000',
    liquidationFee: top ? '0.012500' : wide ? '0.020000' : '0.015000',
    marketTakeBound: top ? '0.05' : wide ? '0.30' : '0.10',
    // Roughly Binance's volume ranking: ~10M USDT a minute for BTC, falling off with rank.
    quoteVolumePerMinute: Math.round(1e7 * (index + 1) ** -1.1),
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

export const RATE_LIMITS = [
  { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 2400 },
  { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: 1200 },
  { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 300 },
];

const ASSETS = [
  { asset: 'USDT', marginAvailable: true, autoAssetExchange: '-10000' },
  { asset: 'BTC', marginAvailable: true, autoAssetExchange: '-0.10000000' },
  { asset: 'BNB', marginAvailable: true, autoAssetExchange: '-10' },
  { asset: 'ETH', marginAvailable: true, autoAssetExchange: '-5' },
  { asset: 'USDC', marginAvailable: true, autoAssetExchange: '-10000' },
  { asset: 'FDUSD', marginAvailable: true, autoAssetExchange: '0' },
  { asset: 'BFUSD', marginAvailable: true, autoAssetExchange: '0' },
];

const ORDER_TYPES = [
  'LIMIT',
  'MARKET',
  'STOP',
  'STOP_MARKET',
  'TAKE_PROFIT',
  'TAKE_PROFIT_MARKET',
  'TRAILING_STOP_MARKET',
];
const TIME_IN_FORCE = ['GTC', 'IOC', 'FOK', 'GTX', 'GTD'];
const PERMISSION_SETS = ['GRID', 'COPY', 'RPI', 'DCA', 'PSB'];

/** One exchangeInfo symbol row, keys and filter order as in a live 2026 response. */
export function symbolRow(spec: SymbolSpec): Record<string, unknown> {
  const x = spec as Partial<UniverseSpec>;
  return {
    symbol: spec.symbol,
    pair: spec.symbol,
    contractType: 'PERPETUAL',
    deliveryDate: 4133404800000,
    onboardDate: spec.onboardDate,
    status: 'TRADING',
    maintMarginPercent: spec.maintMarginPercent,
    requiredMarginPercent: spec.requiredMarginPercent,
    baseAsset: spec.baseAsset,
    quoteAsset: spec.quoteAsset,
    marginAsset: spec.quoteAsset,
    pricePrecision: spec.pricePrecision,
    quantityPrecision: spec.quantityPrecision,
    baseAssetPrecision: 8,
    quotePrecision: 8,
    underlyingType: x.underlyingType ?? 'COIN',
    underlyingSubType: x.underlyingSubType ?? [],
    triggerProtect: x.triggerProtect ?? '0.0500',
    liquidationFee: x.liquidationFee ?? '0.012500',
    marketTakeBound: x.marketTakeBound ?? '0.05',
    maxMoveOrderLimit: 10000,
    filters: [
      {
        tickSize: spec.tickSize,
        maxPrice: spec.maxPrice,
        minPrice: spec.minPrice,
        filterType: 'PRICE_FILTER',
      },
      { maxQty: spec.maxQty, filterType: 'LOT_SIZE', minQty: spec.minQty, stepSize: spec.stepSize },
      {
        filterType: 'MARKET_LOT_SIZE',
        minQty: spec.marketMinQty,
        maxQty: spec.marketMaxQty,
        stepSize: spec.marketStepSize,
      },
      { filterType: 'MAX_NUM_ORDERS', limit: spec.maxNumOrders },
      { filterType: 'MIN_NOTIONAL', notional: spec.minNotional },
      {
        filterType: 'PERCENT_PRICE',
        multiplierUp: spec.multiplierUp,
        multiplierDown: spec.multiplierDown,
        multiplierDecimal: spec.multiplierDecimal,
      },
      { filterType: 'POSITION_RISK_CONTROL', positionControlSide: 'NONE' },
    ],
    orderTypes: [...ORDER_TYPES],
    timeInForce: [...TIME_IN_FORCE],
    permissionSets: [...PERMISSION_SETS],
  };
}

/** The whole GET /fapi/v1/exchangeInfo body. */
export function exchangeInfo(specs: SymbolSpec[], serverTime: number): Record<string, unknown> {
  return {
    timezone: 'UTC',
    serverTime,
    futuresType: 'U_MARGINED',
    rateLimits: RATE_LIMITS.map((r) => ({ ...r })),
    exchangeFilters: [],
    assets: ASSETS.map((a) => ({ ...a })),
    symbols: specs.map(symbolRow),
  };
}
