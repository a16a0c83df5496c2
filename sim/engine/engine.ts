// The trading engine of the simulator: createEngine() wires the accounts, the order and algo
// endpoints, the account endpoints and the market's ticks and funding into one EngineApi.

import { D } from '../../core/decimal.ts';
import type {
  AccountConfig,
  AccountStats,
  EngineApi,
  MarketTick,
  MarketView,
  Params,
  UserEventListener,
} from '../contracts.ts';
import { Account } from './account.ts';
import * as acctApi from './accountApi.ts';
import * as algo from './algo.ts';
import { pad } from './format.ts';
import { income, settleFunding } from './income.ts';
import { checkLiquidations, forceOrders } from './liquidation.ts';
import { isOpen, matchTick } from './matching.ts';
import * as orders from './orders.ts';
import { Ctx } from './state.ts';
import { type AlgoOrder, DAY_MS, type Order } from './types.ts';

export interface EngineOptions {
  market: MarketView;
  accounts: AccountConfig[];
  /** Maker commission rate, default "0.0002". */
  makerRate?: string;
  /** Taker commission rate, default "0.0005". */
  takerRate?: string;
  /** Pre-2025 mode: STOP/STOP_MARKET/TAKE_PROFIT/... accepted on /fapi/v1/order. Default false (-4120). */
  legacyConditional?: boolean;
}

export interface Engine extends EngineApi {
  /** Adds an account, or updates the secret and starting balance of an existing one (state kept). */
  addAccount(a: AccountConfig): void;
  /** Every account back to its starting balance: no orders, positions, income or settings. */
  reset(): void;
  /** Stops listening to the market. */
  close(): void;
}

const PRUNE_EVERY_MS = 10 * 60_000;

export function createEngine(opts: EngineOptions): Engine {
  const ctx = new Ctx({
    market: opts.market,
    makerRate: D(opts.makerRate ?? '0.0002'),
    takerRate: D(opts.takerRate ?? '0.0005'),
    legacyConditional: opts.legacyConditional ?? false,
  });
  for (const a of opts.accounts) ctx.accounts.set(a.apiKey, new Account(a));

  // Market ticks and funding that arrive while an operation is under way (a market that advances
  // when it is read) wait until the operation is done, so they never see half-updated state.
  let depth = 0;
  const deferred: Array<() => void> = [];

  /** Runs an operation, then the deferred market work, then delivers the queued events. */
  function run<T>(fn: () => T): T {
    depth++;
    try {
      return fn();
    } finally {
      depth--;
      if (depth === 0) {
        while (deferred.length > 0) {
          const job = deferred.shift() as () => void;
          depth++;
          try {
            job();
          } finally {
            depth--;
          }
        }
        ctx.events.flush();
      }
    }
  }

  /** Market work: now, or after the operation in progress. Never throws into the market. */
  function marketJob(name: string, job: () => void): void {
    const guarded = () => {
      try {
        job();
      } catch (e) {
        // a tick must never break the market's loop; an engine bug shows up here
        console.error(`sim engine: ${name} failed`, e);
      }
    };
    if (depth > 0) deferred.push(guarded);
    else run(guarded);
  }

  let lastPrune = 0;
  const offTick = opts.market.onTick((tick: MarketTick) =>
    marketJob('tick', () => {
      matchTick(ctx, tick);
      algo.checkTriggers(ctx, tick);
      checkLiquidations(ctx, tick);
      const now = ctx.now();
      if (now - lastPrune >= PRUNE_EVERY_MS) {
        lastPrune = now;
        prune(ctx, now);
      }
    }),
  );
  const offFunding = opts.market.onFunding((time, rates) =>
    marketJob('funding', () => {
      ctx.marginEpoch++;
      settleFunding(ctx, time, rates);
    }),
  );

  type Handler = (ctx: Ctx, apiKey: string, p: Params) => unknown;
  const h =
    (fn: Handler) =>
    (apiKey: string, p: Params): unknown =>
      run(() => {
        // any request may change margins (orders, leverage, mode): liquidation checks start afresh
        ctx.marginEpoch++;
        return fn(ctx, apiKey, p);
      });

  return {
    hasAccount: (apiKey) => ctx.accounts.has(apiKey),
    secretOf: (apiKey) => ctx.accounts.get(apiKey)?.secret,
    stats(): Record<string, AccountStats> {
      const out: Record<string, AccountStats> = {};
      for (const acct of ctx.accounts.values()) {
        const positions: Record<string, string> = {};
        const positionsBySide: Record<string, string> = {};
        const text = (sym: string, amt: ReturnType<typeof D>) => {
          const rules = ctx.rules(sym);
          return rules ? pad(amt, rules.quantityPrecision) : amt.toString();
        };
        const net = new Map<string, ReturnType<typeof D>>();
        for (const pos of acct.active) {
          net.set(pos.symbol, (net.get(pos.symbol) ?? D(0)).add(pos.amt));
          if (!pos.amt.isZero()) positionsBySide[`${pos.symbol}:${pos.side}`] = text(pos.symbol, pos.amt);
        }
        for (const [sym, amt] of net) {
          if (amt.isZero()) continue;
          positions[sym] = text(sym, amt);
        }
        out[acct.apiKey] = { ...acct.stats, positions, positionsBySide };
      }
      return out;
    },
    onUserEvent: (listener: UserEventListener) => ctx.events.on(listener),

    newOrder: h(orders.newOrder),
    testOrder: h(orders.testOrder),
    batchOrders: h(orders.batchOrders),
    modifyOrder: h(orders.modifyOrder),
    cancelOrder: h(orders.cancelOrder),
    cancelBatch: h(orders.cancelBatch),
    cancelAllOpen: h(orders.cancelAllOpen),
    queryOrder: h(orders.queryOrder),
    queryOpenOrder: h(orders.queryOpenOrder),
    openOrders: h(orders.openOrders),
    allOrders: h(orders.allOrders),
    userTrades: h(orders.userTrades),
    forceOrders: h(forceOrders),

    newAlgoOrder: h(algo.newAlgoOrder),
    cancelAlgoOrder: h(algo.cancelAlgoOrder),
    cancelAllAlgoOpen: h(algo.cancelAllAlgoOpen),
    queryAlgoOrder: h(algo.queryAlgoOrder),
    openAlgoOrders: h(algo.openAlgoOrders),
    allAlgoOrders: h(algo.allAlgoOrders),

    accountV2: h(acctApi.accountV2),
    accountV3: h(acctApi.accountV3),
    balance: h(acctApi.balance),
    positionRiskV2: h(acctApi.positionRiskV2),
    positionRiskV3: h(acctApi.positionRiskV3),
    accountConfig: h(acctApi.accountConfig),
    symbolConfig: h(acctApi.symbolConfig),
    income: h(income),
    setLeverage: h(acctApi.setLeverage),
    setMarginType: h(acctApi.setMarginType),
    setPositionMode: h(acctApi.setPositionMode),
    getPositionMode: h(acctApi.getPositionMode),
    commissionRate: h(acctApi.commissionRate),
    leverageBracket: h(acctApi.leverageBracket),
    multiAssetsMargin: h(acctApi.multiAssetsMargin),

    addAccount(a: AccountConfig): void {
      const existing = ctx.accounts.get(a.apiKey);
      if (existing) {
        existing.secret = a.apiSecret;
        existing.startBalance = D(a.balance);
      } else ctx.accounts.set(a.apiKey, new Account(a));
    },
    reset(): void {
      for (const acct of ctx.accounts.values()) {
        ctx.forgetAccount(acct);
        acct.reset();
      }
      ctx.events.clear();
      ctx.marginEpoch++;
    },
    close(): void {
      offTick();
      offFunding();
    },
  };
}

/**
 * Forgets what Binance forgets: final orders without fills after 3 days, final ones after 90,
 * trades and income after 90 days.
 */
function prune(ctx: Ctx, now: number): void {
  const gone = (final: boolean, canceled: boolean, filled: boolean, time: number) =>
    final && (now - time > 90 * DAY_MS || (canceled && !filled && now - time > 3 * DAY_MS));
  const orderGone = (o: Order) =>
    gone(
      !isOpen(o.status),
      o.status === 'CANCELED' || o.status === 'EXPIRED',
      !o.executedQty.isZero(),
      o.time,
    );
  const algoGone = (a: AlgoOrder) =>
    gone(
      a.status !== 'NEW' && a.status !== 'TRIGGERING' && a.status !== 'TRIGGERED',
      a.status === 'CANCELED' || a.status === 'EXPIRED',
      a.actual !== undefined && !a.actual.executedQty.isZero(),
      a.createTime,
    );
  for (const acct of ctx.accounts.values()) {
    for (const [symbol, list] of acct.orders) {
      if (list.length === 0 || now - list[0].time <= 3 * DAY_MS) continue;
      const keep = list.filter((o) => !orderGone(o));
      if (keep.length === list.length) continue;
      acct.orders.set(symbol, keep);
      const ids = acct.clientIds.get(symbol);
      if (ids) for (const [cid, o] of ids) if (orderGone(o)) ids.delete(cid);
    }
    // userTrades and income keep 3 months, as Binance does
    const cutoff = now - 90 * DAY_MS;
    for (const [symbol, list] of acct.trades) {
      if (list.length === 0 || list[0].time >= cutoff) continue;
      acct.trades.set(
        symbol,
        list.filter((t) => t.time >= cutoff),
      );
    }
    if (acct.income.length > 0 && acct.income[0].time < cutoff) {
      const keep = acct.income.filter((r) => r.time >= cutoff);
      acct.income.length = 0;
      acct.income.push(...keep);
    }
    if (acct.algoList.length > 0 && now - acct.algoList[0].createTime > 3 * DAY_MS) {
      const drop = acct.algoList.filter(algoGone);
      if (drop.length === 0) continue;
      const dropped = new Set(drop);
      for (const a of drop) {
        acct.algos.delete(a.algoId);
        if (acct.algoClientIds.get(a.clientAlgoId) === a) acct.algoClientIds.delete(a.clientAlgoId);
      }
      const keep = acct.algoList.filter((a) => !dropped.has(a));
      acct.algoList.length = 0;
      acct.algoList.push(...keep);
    }
  }
}
