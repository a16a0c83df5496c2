// positions-stream: the user-data stream (the client's UserStream: listenKey created, kept
// alive, replaced on expiry; gaps reported). ACCOUNT_UPDATE positions and balances are
// published at once with ts = the event's transaction time T. At the start and after every gap
// (socket down, key replaced) a REST snapshot (positionRisk v3 + account v3 assets) fills what
// may have been missed; the first snapshot of every invocation also says flat every symbol of
// exchangeInfo it does not show open (lib/account.ts). Not a polling reader: it spends a few
// weight per invocation.

import { UserStream } from '../../core/binance/user-stream.ts';
import {
  type AssetRow,
  type PositionMemory,
  type PositionRow,
  positionMemory,
  publishBalances,
  publishPositions,
} from '../lib/account.ts';
import {
  atMost,
  DeadlineError,
  type Deps,
  deadline,
  get,
  listedSymbols,
  moduleState,
  type RunResult,
  result,
  runUntil,
} from '../lib/common.ts';
import { type FunctionDef, fcHandler } from '../lib/handler.ts';

interface AccountUpdate {
  e: 'ACCOUNT_UPDATE';
  E: number;
  T: number;
  a: {
    B?: Array<{ a: string; wb: string; cw: string; bc?: string }>;
    P?: Array<{
      s: string;
      pa: string;
      ep: string;
      bep?: string;
      up: string;
      mt?: string;
      iw?: string;
      ps: 'BOTH' | 'LONG' | 'SHORT';
    }>;
  };
}

/** ACCOUNT_UPDATE → positionRisk-shaped positions and account-shaped assets at time T. */
export function fromAccountUpdate(ev: AccountUpdate): { positions: PositionRow[]; assets: AssetRow[] } {
  const T = ev.T ?? ev.E;
  const positions = (ev.a.P ?? []).map((p) => {
    const row: PositionRow = {
      symbol: p.s,
      positionSide: p.ps,
      positionAmt: p.pa,
      entryPrice: p.ep,
      unRealizedProfit: p.up,
      updateTime: T,
    };
    if (p.bep !== undefined) row.breakEvenPrice = p.bep;
    if (p.iw !== undefined) row.isolatedWallet = p.iw;
    return row;
  });
  const assets = (ev.a.B ?? []).map((b) => ({
    asset: b.a,
    walletBalance: b.wb,
    crossWalletBalance: b.cw,
    updateTime: T,
  }));
  return { positions, assets };
}

const memory = new Map<string, PositionMemory>();

export async function run(deps: Deps<unknown>, until: number): Promise<RunResult> {
  runUntil(deps, until);
  const stop = deadline(deps, until);
  const mem = moduleState(memory, deps.config.source, positionMemory);
  const { open } = mem;
  let first = true;
  const stream = new UserStream({
    rest: deps.rest,
    wsBase: deps.config.wsBase,
    events: ['ACCOUNT_UPDATE'],
    localAddress: deps.rest.localAddress,
    deleteOnClose: false,
    log: deps.log,
  });
  let chain = Promise.resolve();
  const serial = (f: () => Promise<void>) => {
    chain = chain.then(f).catch((err) => {
      if (!stop.signal.aborted && !(err instanceof DeadlineError)) deps.stats.error(err);
    });
  };
  const snapshot = () =>
    serial(async () => {
      const symbols = first ? await listedSymbols(deps) : undefined;
      const readTime = Math.floor(deps.clock.now());
      const rows = await get<PositionRow[]>(deps, '/fapi/v3/positionRisk');
      await publishPositions(deps, rows, mem, readTime, stop.signal, symbols);
      first = false;
      const acc = await get<{ assets: AssetRow[] }>(deps, '/fapi/v3/account');
      await publishBalances(deps, acc.assets, stop.signal);
    });
  stream.on('event', (ev) => {
    if (ev.e !== 'ACCOUNT_UPDATE') return;
    const { positions, assets } = fromAccountUpdate(ev as unknown as AccountUpdate);
    serial(async () => {
      // Event positions update the map but never flatten others: an event lists only what changed.
      for (const p of positions) {
        if (Number(p.positionAmt) !== 0) open.set(`${p.symbol}:${p.positionSide}`, p);
        else open.delete(`${p.symbol}:${p.positionSide}`);
      }
      await deps.agg.publish(
        'position',
        positions.map((p) => ({ key: `${p.symbol}:${p.positionSide}`, ts: p.updateTime, data: p })),
        { signal: stop.signal },
      );
      await publishBalances(deps, assets, stop.signal);
      deps.stats.records += positions.length;
    });
  });
  stream.on('gap', (gap) => {
    deps.log.info({ reason: gap.reason, keyReplaced: gap.keyReplaced }, 'user stream gap: REST snapshot');
    snapshot();
  });
  stream.on('error', (err) => deps.stats.error(err));
  try {
    deps.stats.call(1);
    await stream.start();
    snapshot();
    await deps.clock.sleepUntil(until, stop.signal);
  } finally {
    stop.clear();
    // Bounded: the reads under way end at the deadline (lib/common.ts get()).
    await atMost(
      stream.close().then(() => chain),
      1000,
    );
  }
  return result(deps);
}

export const definition: FunctionDef<unknown> = {
  name: 'positions-stream',
  account: true,
  config: () => ({}),
  run,
};
export const handler = fcHandler(definition);
