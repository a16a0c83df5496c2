// The engine's shared state: accounts, exchange-wide id counters, the indexes the market ticks
// walk (resting orders and pending triggers per symbol), the event queue.

import { D, type Decimal } from '../../core/decimal.ts';
import { ApiError, apiError, type MarketView } from '../contracts.ts';
import type { Account } from './account.ts';
import { EventQueue } from './events.ts';
import { fnv32 } from './format.ts';
import { buildRules } from './rules.ts';
import type { AlgoOrder, Order, SymbolRules } from './types.ts';

export interface EngineOptions {
  market: MarketView;
  makerRate: Decimal;
  takerRate: Decimal;
  legacyConditional: boolean;
}

export class Ctx {
  readonly market: MarketView;
  readonly makerRate: Decimal;
  readonly takerRate: Decimal;
  readonly legacyConditional: boolean;
  readonly accounts = new Map<string, Account>();
  readonly events = new EventQueue();
  /** Open LIMIT orders on the book, per symbol, all accounts. */
  readonly resting = new Map<string, Set<Order>>();
  /** Untriggered algo orders and legacy conditional orders, per symbol, all accounts. */
  readonly triggers = new Map<string, Set<AlgoOrder | Order>>();
  private readonly rulesCache = new Map<string, SymbolRules>();
  private readonly orderIds = new Map<string, number>();
  private readonly tradeIds = new Map<string, number>();
  private readonly tranIds = new Map<string, number>();
  private algoIdNext = 4_000_000_001;
  private liquidationSeq = 0;
  /**
   * Bumped by everything that can change an account's margins other than a mark move (requests,
   * fills, funding, liquidations): the liquidation check's cached slack is only valid within one.
   */
  marginEpoch = 0;

  constructor(opts: EngineOptions) {
    this.market = opts.market;
    this.makerRate = opts.makerRate;
    this.takerRate = opts.takerRate;
    this.legacyConditional = opts.legacyConditional;
  }

  now(): number {
    return this.market.clock.now();
  }

  rules(symbol: string): SymbolRules | undefined {
    let r = this.rulesCache.get(symbol);
    if (r) return r;
    const spec = this.market.spec(symbol);
    if (!spec) return undefined;
    r = buildRules(spec);
    this.rulesCache.set(symbol, r);
    return r;
  }

  /** The symbol's rules or -1121. */
  needRules(symbol: string): SymbolRules {
    const r = this.rules(symbol);
    if (!r) throw apiError(-1121);
    return r;
  }

  account(apiKey: string): Account {
    const a = this.accounts.get(apiKey);
    if (!a) throw new ApiError(-2015, undefined, 401);
    return a;
  }

  nextOrderId(symbol: string): number {
    const n = this.orderIds.get(symbol) ?? 2_000_000_000 + (fnv32(symbol) % 2_000_000) * 1000;
    this.orderIds.set(symbol, n + 1);
    return n;
  }

  nextTradeId(symbol: string): number {
    const n = this.tradeIds.get(symbol) ?? 100_000_000 + (fnv32(`${symbol}#t`) % 400_000) * 1000;
    this.tradeIds.set(symbol, n + 1);
    return n;
  }

  /** Sequence of forced orders (the tail of their "autoclose-…" client ids). */
  nextLiquidationSeq(): number {
    return this.liquidationSeq++;
  }

  nextAlgoId(): number {
    return this.algoIdNext++;
  }

  /** tranIds are unique per income type (and do repeat across types, as on Binance). */
  nextTranId(incomeType: string): number {
    const n = this.tranIds.get(incomeType) ?? 9_000_000_000;
    this.tranIds.set(incomeType, n + 1);
    return n;
  }

  mark(symbol: string): Decimal {
    return D(this.market.markPrice(symbol));
  }

  addResting(order: Order): void {
    order.resting = true;
    let set = this.resting.get(order.symbol);
    if (!set) {
      set = new Set();
      this.resting.set(order.symbol, set);
    }
    set.add(order);
  }

  removeResting(order: Order): void {
    order.resting = false;
    this.resting.get(order.symbol)?.delete(order);
  }

  addTrigger(item: AlgoOrder | Order): void {
    let set = this.triggers.get(item.symbol);
    if (!set) {
      set = new Set();
      this.triggers.set(item.symbol, set);
    }
    set.add(item);
  }

  removeTrigger(item: AlgoOrder | Order): void {
    this.triggers.get(item.symbol)?.delete(item);
  }

  /** Drops every order and trigger of an account from the shared indexes. */
  forgetAccount(acct: Account): void {
    for (const set of this.resting.values()) for (const o of set) if (o.acct === acct) set.delete(o);
    for (const set of this.triggers.values()) for (const t of set) if (t.acct === acct) set.delete(t);
  }
}
