// The trader component: kline book, strategy interface and demo strategy, pre-trade risk, order
// tracker, and the order gateway. `fleet trader` and `fleet gateway` (and later `fleet stack`)
// start them through startTrader / startGateway.
export { KlineBook, SymbolBars } from './book.ts';
export { type GatewayOptions, type GatewayStatus, type RunningGateway, startGateway } from './gateway.ts';
export { clientOrderId, prepareOrder } from './orders.ts';
export { DEFAULT_LIMITS, PreTradeRisk, type RiskLimits } from './risk.ts';
export type { Intent, MarketView, Strategy, StrategyFactory } from './strategy.ts';
export { loadStrategy } from './strategy.ts';
export { OrderTracker, type TrackedOrder } from './tracker.ts';
export { type RunningTrader, startTrader, type TraderOptions, type TraderStatus } from './trader.ts';
