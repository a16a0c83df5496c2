// The aggregator: one source of truth for every trader (protocol v1, docs/protocol.md).
export { Cursors, type CursorTake } from './cursors.ts';
export { Metrics } from './metrics.ts';
export {
  type AggregatorOptions,
  type AggregatorToken,
  type RunningAggregator,
  startAggregator,
  tokenConflict,
} from './server.ts';
export { Store, TopicState } from './state.ts';
