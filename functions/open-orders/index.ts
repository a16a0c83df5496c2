// open-orders: every open order (GET /fapi/v1/openOrders, all symbols, weight 40) and every open
// algo order (GET /fapi/v1/openAlgoOrders, weight 40) each slot, published per symbol to
// `orders.open` as {orders, algo}; ts = the exchange time of the read. "No open orders" is said
// explicitly: the first read of every invocation (with exchangeInfo, weight 1) publishes
// {orders:[], algo:[]} for every listed symbol without open orders, so an order cancelled or
// filled between two invocations is published; later reads publish a symbol emptied since the
// previous read.

import { type Deps, get, listedSymbols, moduleState, paced, publish, type RunResult } from '../lib/common.ts';
import { type FunctionDef, fcHandler } from '../lib/handler.ts';

type Row = { symbol: string } & Record<string, unknown>;

/** Per source (module scope, kept by a warm instance): the symbols the last read showed with orders. */
const memory = new Map<string, { before: Set<string> }>();

export async function run(deps: Deps<unknown>, until: number): Promise<RunResult> {
  const mem = moduleState(memory, deps.config.source, () => ({ before: new Set<string>() }));
  let first = true;
  return paced(deps, until, async (_slot, signal) => {
    const symbols = first ? await listedSymbols(deps) : [];
    const [orders, algo] = await Promise.all([
      get<Row[]>(deps, '/fapi/v1/openOrders'),
      get<Row[]>(deps, '/fapi/v1/openAlgoOrders'),
    ]);
    const ts = Math.floor(deps.clock.now());
    const by = new Map<string, { orders: Row[]; algo: Row[] }>();
    const of = (s: string) => {
      let x = by.get(s);
      if (!x) {
        x = { orders: [], algo: [] };
        by.set(s, x);
      }
      return x;
    };
    for (const o of orders) of(o.symbol).orders.push(o);
    for (const a of algo) of(a.symbol).algo.push(a);
    for (const s of mem.before) of(s);
    for (const s of symbols) of(s);
    await publish(
      deps,
      'orders.open',
      [...by].map(([key, data]) => ({ key, ts, data })),
      signal,
    );
    first = false;
    mem.before = new Set([...by].filter(([, d]) => d.orders.length + d.algo.length > 0).map(([s]) => s));
  });
}

export const definition: FunctionDef<unknown> = {
  name: 'open-orders',
  account: true,
  config: () => ({}),
  run,
};
export const handler = fcHandler(definition);
