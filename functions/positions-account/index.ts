// positions-account: GET /fapi/v3/account (weight 5) each slot; publishes its positions to
// `position` (in positionRisk field names: unrealizedProfit is also given as unRealizedProfit)
// and its assets to `balance`. One of three independent position sources (lib/account.ts).

import { type AssetRow, type PositionRow, publishBalances, publishPositions } from '../lib/account.ts';
import { type Deps, get, paced, type RunResult } from '../lib/common.ts';
import { type FunctionDef, fcHandler } from '../lib/handler.ts';

export async function run(deps: Deps<unknown>, until: number): Promise<RunResult> {
  const open = new Map<string, PositionRow>();
  return paced(deps, until, async (_slot, signal) => {
    const readTime = Math.floor(deps.clock.now());
    const acc = await get<{
      assets: AssetRow[];
      positions: Array<PositionRow & { unrealizedProfit?: string }>;
    }>(deps, '/fapi/v3/account');
    const positions = acc.positions.map((p) =>
      p.unrealizedProfit !== undefined && p.unRealizedProfit === undefined
        ? { ...p, unRealizedProfit: p.unrealizedProfit }
        : p,
    );
    await publishPositions(deps, positions, open, readTime, signal);
    await publishBalances(deps, acc.assets, signal);
  });
}

export const definition: FunctionDef<unknown> = {
  name: 'positions-account',
  account: true,
  config: () => ({}),
  run,
};
export const handler = fcHandler(definition);
