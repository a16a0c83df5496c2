// positions-account: GET /fapi/v3/account (weight 5) each slot; publishes its positions to
// `position` (in positionRisk field names: unrealizedProfit is also given as unRealizedProfit)
// and its assets to `balance`. One of three independent position sources (lib/account.ts). The
// first read of every invocation also reads exchangeInfo (weight 1) and publishes every symbol it
// does not show open as flat.

import {
  type AssetRow,
  type PositionMemory,
  type PositionRow,
  positionMemory,
  publishBalances,
  publishPositions,
} from '../lib/account.ts';
import { type Deps, get, listedSymbols, moduleState, paced, type RunResult } from '../lib/common.ts';
import { type FunctionDef, fcHandler } from '../lib/handler.ts';

const memory = new Map<string, PositionMemory>();

export async function run(deps: Deps<unknown>, until: number): Promise<RunResult> {
  const mem = moduleState(memory, deps.config.source, positionMemory);
  let first = true;
  return paced(deps, until, async (_slot, signal) => {
    const symbols = first ? await listedSymbols(deps) : undefined;
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
    await publishPositions(deps, positions, mem, readTime, signal, symbols);
    first = false;
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
