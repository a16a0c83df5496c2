// positions-risk: GET /fapi/v3/positionRisk (weight 5) each slot, published to `position` as
// Binance returns it; every 5th slot also GET /fapi/v3/balance, published to `balance` (its
// `balance` field is the wallet balance: given as walletBalance, the account v3 name). The first
// read of every invocation also reads exchangeInfo (weight 1) and publishes every symbol it does
// not show open as flat.

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

export const BALANCE_EVERY = 5;

const memory = new Map<string, PositionMemory>();

export async function run(deps: Deps<unknown>, until: number): Promise<RunResult> {
  const mem = moduleState(memory, deps.config.source, positionMemory);
  let first = true;
  let n = 0;
  return paced(deps, until, async (_slot, signal) => {
    const symbols = first ? await listedSymbols(deps) : undefined;
    const readTime = Math.floor(deps.clock.now());
    const rows = await get<PositionRow[]>(deps, '/fapi/v3/positionRisk');
    await publishPositions(deps, rows, mem, readTime, signal, symbols);
    first = false;
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
