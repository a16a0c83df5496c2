// Shapes shared by the three position sources and open-orders: every source publishes
// `position` (key SYMBOL:SIDE, Binance's positionRisk v3 object, ts = updateTime) and `balance`
// (key ASSET, the account v3 asset object, ts = updateTime). The REST sources list only open
// positions, so "flat" must be said explicitly: on the first read of every invocation, every
// symbol of the universe the read does not show open goes out flat at the exchange time of the
// read (a close during the gap between two invocations is published); on later reads, a position
// seen open before and missing now goes out flat.

import type { AccountAsset, PositionRisk } from '../../core/protocol/topics.ts';
import { type Deps, publish } from './common.ts';

export type PositionRow = PositionRisk & Record<string, unknown>;
export type AssetRow = AccountAsset & Record<string, unknown>;

export const positionKey = (p: { symbol: string; positionSide: string }) => `${p.symbol}:${p.positionSide}`;

/** What a position source remembers (module scope, per source: kept by a warm instance). */
export interface PositionMemory {
  /** Positions last seen open, by key. */
  open: Map<string, PositionRow>;
  /** The account's position mode as seen so far: BOTH (one-way), or LONG and SHORT (hedge). */
  sides: Set<'BOTH' | 'LONG' | 'SHORT'>;
}

export function positionMemory(): PositionMemory {
  return { open: new Map(), sides: new Set() };
}

/** The sides to say flat for: the mode seen so far, or all three while no position has shown it. */
function flatSides(mem: PositionMemory): Array<'BOTH' | 'LONG' | 'SHORT'> {
  return mem.sides.size > 0 ? [...mem.sides] : ['BOTH', 'LONG', 'SHORT'];
}

function flatRow(symbol: string, positionSide: PositionRow['positionSide'], readTime: number): PositionRow {
  return { symbol, positionSide, positionAmt: '0', entryPrice: '0', updateTime: readTime };
}

/**
 * Publishes positions. Those open before (in `mem.open`) and missing now go out flat at
 * `readTime`; with `universe` (the first read of an invocation), every symbol × side of the
 * account's mode that the read does not list goes out flat too.
 */
export async function publishPositions(
  deps: Deps<unknown>,
  rows: PositionRow[],
  mem: PositionMemory,
  readTime: number,
  signal?: AbortSignal,
  universe?: readonly string[],
): Promise<void> {
  const records = [];
  const seen = new Set<string>();
  const { open } = mem;
  for (const p of rows) {
    const key = positionKey(p);
    seen.add(key);
    records.push({ key, ts: p.updateTime, data: p });
    if (p.positionSide === 'BOTH') mem.sides.add('BOTH');
    else if (p.positionSide === 'LONG' || p.positionSide === 'SHORT') {
      mem.sides.add('LONG');
      mem.sides.add('SHORT');
    }
    if (Number(p.positionAmt) !== 0) open.set(key, p);
    else open.delete(key);
  }
  for (const [key, p] of open) {
    if (seen.has(key)) continue;
    open.delete(key);
    seen.add(key);
    records.push({
      key,
      ts: Math.max(readTime, p.updateTime),
      data: flatRow(p.symbol, p.positionSide, readTime),
    });
  }
  if (universe)
    for (const symbol of universe)
      for (const side of flatSides(mem)) {
        const key = `${symbol}:${side}`;
        if (seen.has(key)) continue;
        records.push({ key, ts: readTime, data: flatRow(symbol, side, readTime) });
      }
  await publish(deps, 'position', records, signal);
}

export async function publishBalances(
  deps: Deps<unknown>,
  rows: AssetRow[],
  signal?: AbortSignal,
): Promise<void> {
  await publish(
    deps,
    'balance',
    rows.map((a) => ({ key: a.asset, ts: a.updateTime, data: a })),
    signal,
  );
}
