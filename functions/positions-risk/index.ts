// positions-risk: GET /fapi/v3/positionRisk (weight 5) each slot, published to `position` as
// Binance returns it; every 5th slot also GET /fapi/v3/balance, published to `balance` (its
// `balance` field is the wallet balance: given as walletBalance, the account v3 name).

import { type AssetRow, type PositionRow, publishBalances, publishPositions } from '../lib/account.ts';
import { type Deps, get, paced, type RunResult } from '../lib/common.ts';
import { type FunctionDef, fcHandler } from '../lib/handler.ts';

export const BALANCE_EVERY = 5;

export async function run(deps: Deps<unknown>, until: number): Promise<RunResult> {
  const open = new Map<string, PositionRow>();
  let n = 0;
  return paced(deps, until, async (_slot, signal) => {
    const readTime = Math.floor(deps.clock.now());
    const rows = await get<PositionRow[]>(deps, '/fapi/v3/positionRisk');
    await publishPositions(deps, rows, open, readTime, signal);
    if (n++ % BALANCE_EVERY === 0) {
      const bal = await get<Array<AssetRow & { balance: string }>>(deps, '/fapi/v3/balance');
      await publishBalances(
        deps,
        bal.map((b) => ({ ...b, walletBalance: b.balance })),
        signal,
      );
    }
  });
}

export const definition: FunctionDef<unknown> = {
  name: 'positions-risk',
  account: true,
  config: () => ({}),
  run,
};
export const handler = fcHandler(definition);
