// Shapes shared by the three position sources and open-orders: every source publishes
// `position` (key SYMBOL:SIDE, Binance's positionRisk v3 object, ts = updateTime) and `balance`
// (key ASSET, the account v3 asset object, ts = updateTime). A position a source saw open and no
// longer lists is published flat (positionAmt "0") at the exchange time of the read: the REST
// sources list only open positions, and "flat" must be said explicitly.

import type { AccountAsset, PositionRisk } from '../../core/protocol/topics.ts';
import { type Deps, publish } from './common.ts';

export type PositionRow = PositionRisk & Record<string, unknown>;
export type AssetRow = AccountAsset & Record<string, unknown>;

export const positionKey = (p: { symbol: string; positionSide: string }) => `${p.symbol}:${p.positionSide}`;

/** Publishes positions; those open before (in `open`) and missing now go out flat at `readTime`. */
export async function publishPositions(
  deps: Deps<unknown>,
  rows: PositionRow[],
  open: Map<string, PositionRow>,
  readTime: number,
  signal?: AbortSignal,
): Promise<void> {
  const records = [];
  const seen = new Set<string>();
  for (const p of rows) {
    const key = positionKey(p);
    seen.add(key);
    records.push({ key, ts: p.updateTime, data: p });
    if (Number(p.positionAmt) !== 0) open.set(key, p);
    else open.delete(key);
  }
  for (const [key, p] of open) {
    if (seen.has(key)) continue;
    open.delete(key);
    records.push({
      key,
      ts: Math.max(readTime, p.updateTime),
      data: {
        symbol: p.symbol,
        positionSide: p.positionSide,
        positionAmt: '0',
        entryPrice: '0',
        updateTime: readTime,
      },
    });
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
