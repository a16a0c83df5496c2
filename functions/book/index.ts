// book: book tickers of every symbol, time-sliced. Replica i of n reads at offset i/n of the
// period the budget allows (slotted on exchange time), so n replicas on n addresses give an
// n-fold fresher `book`. Records are Binance's bookTicker objects; ts = their `time`.

import type { BookTicker } from '../../core/protocol/topics.ts';
import { type Deps, get, paced, publish, type RunResult } from '../lib/common.ts';
import { type FunctionDef, fcHandler } from '../lib/handler.ts';

export async function run(deps: Deps<unknown>, until: number): Promise<RunResult> {
  return paced(deps, until, async (_slot, signal) => {
    const rows = await get<BookTicker[]>(deps, '/fapi/v1/ticker/bookTicker');
    await publish(
      deps,
      'book',
      rows.map((r) => ({ key: r.symbol, ts: r.time, data: r })),
      signal,
    );
  });
}

export const definition: FunctionDef<unknown> = { name: 'book', account: false, config: () => ({}), run };
export const handler = fcHandler(definition);
