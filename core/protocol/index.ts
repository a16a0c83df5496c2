// Aggregator protocol v1 (docs/protocol.md): topics and their record schemas, frames, the client.
export * from './client.ts';
export * from './frames.ts';
export * from './topics.ts';
