// Aggregator protocol v1: the frames. WebSocket text frames, one JSON object each, `op` first.
// The document of record is docs/protocol.md.

import { z } from 'zod';
import { EpochMs, FleetName, ROLES, SymbolName } from './topics.ts';

export const PROTOCOL_VERSION = 1;

/** Defaults of the limits the aggregator enforces (each configurable; `hello` states the live ones). */
export const LIMITS = {
  /** Largest frame a client may send; bigger gets `too_large` (far bigger: the connection is closed, 1009). */
  maxFrameBytes: 1024 * 1024,
  /** Records in one `pub` frame. */
  maxRecordsPerFrame: 5000,
  /** Topics in one `sub`/`unsub` frame. */
  maxTopicsPerFrame: 100,
  /** Symbols in one `sub` filter. */
  maxSymbolsPerFilter: 5000,
  /** Distinct keys one topic may hold. */
  maxKeysPerTopic: 20_000,
  /** Distinct sources one topic may have. */
  maxSourcesPerTopic: 256,
  /** Distinct cursor names. */
  maxCursors: 10_000,
  /** Cursor sizes. */
  maxCursorSize: 1_000_000,
  /** A record's `ts` may be at most this far ahead of the aggregator's clock. */
  maxFutureMs: 60_000,
  /** Nesting of objects and arrays in a record's `data` (Binance's own objects use 3). */
  maxRecordDepth: 32,
  /** A source idle this long (ms) gives its place up when its topic has maxSourcesPerTopic. */
  sourceTtlMs: 10 * 60_000,
} as const;

export const ERROR_CODES = [
  /** The frame is larger than maxFrameBytes. */
  'too_large',
  /** Not valid JSON. */
  'bad_json',
  /** Valid JSON but not a frame: not an object, a binary frame, a missing or mistyped field. */
  'bad_frame',
  /** `op` is a string this protocol does not know. */
  'unknown_op',
  /** A topic this protocol does not know. */
  'unknown_topic',
  /** The connection's role may not do this (publish here, subscribe there, inspect). */
  'forbidden',
  /** One or more records of a `pub` failed the topic's schema, the key check or the ts bound (the rest were applied). */
  'bad_record',
  /** A limit was reached: keys per topic, sources per topic, cursors. */
  'limit',
  /** The aggregator is shutting down and takes no more publications. */
  'shutting_down',
  /** A fault inside the aggregator (a bug); the frame was dropped, the connection stays. */
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** WebSocket close codes the aggregator uses (besides 1000/1001 and the RFC's own). */
export const CLOSE_CODES = {
  /** Going away: the aggregator is shutting down; reconnect. */
  goingAway: 1001,
  /** The send buffer to this connection passed maxBufferedBytes: the consumer is too slow. */
  slowConsumer: 4008,
} as const;

/** A correlation id the client may put on any frame; replies and errors echo it. */
export const RequestId = z.union([z.string().max(64), z.int()]);
export type RequestId = z.infer<typeof RequestId>;

const TopicName = z.string().min(1).max(64);

// ---------------------------------------------------------------------------------------------
// Client → aggregator

/** A record as published; `data` is checked against the topic's schema separately (topics.ts). */
export const PubRecordFrame = z.object({ key: z.string(), ts: z.number(), data: z.unknown() });
export interface PubRecord<D = unknown> {
  key: string;
  /** The exchange's own time for the record, never the arrival time. */
  ts: number;
  data: D;
}

export const PubFrame = z.object({
  op: z.literal('pub'),
  topic: TopicName,
  src: FleetName,
  records: z.array(z.unknown()).min(1).max(LIMITS.maxRecordsPerFrame),
  id: RequestId.optional(),
  /** Ask for an `ack` with the counts. */
  ack: z.boolean().optional(),
});
export const SubFrame = z.object({
  op: z.literal('sub'),
  topics: z.array(TopicName).min(1).max(LIMITS.maxTopicsPerFrame),
  symbols: z.array(SymbolName).min(1).max(LIMITS.maxSymbolsPerFilter).optional(),
  id: RequestId.optional(),
});
export const UnsubFrame = z.object({
  op: z.literal('unsub'),
  topics: z.array(TopicName).min(1).max(LIMITS.maxTopicsPerFrame),
  id: RequestId.optional(),
});
export const CursorFrame = z.object({
  op: z.literal('cursor'),
  name: FleetName,
  size: z.int().min(1).max(LIMITS.maxCursorSize),
  id: RequestId.optional(),
});
export const PingFrame = z.object({ op: z.literal('ping'), id: RequestId.optional() });
/** Per-source freshness of a topic (and one key's sources); traders and admins. */
export const InspectFrame = z.object({
  op: z.literal('inspect'),
  topic: TopicName,
  key: z.string().max(80).optional(),
  id: RequestId.optional(),
});

export const ClientFrame = z.discriminatedUnion('op', [
  PubFrame,
  SubFrame,
  UnsubFrame,
  CursorFrame,
  PingFrame,
  InspectFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export const CLIENT_OPS = ['pub', 'sub', 'unsub', 'cursor', 'ping', 'inspect'] as const;

// ---------------------------------------------------------------------------------------------
// Aggregator → client

/** A record as served: the winning record of its key (which source it came from: `inspect`). */
export const OutRecord = z.object({ key: z.string(), ts: EpochMs, data: z.unknown() });
export interface OutRecord<D = unknown> {
  key: string;
  ts: number;
  data: D;
}

export const HelloFrame = z.object({
  op: z.literal('hello'),
  v: z.literal(PROTOCOL_VERSION),
  role: z.enum(ROLES),
  time: EpochMs,
  maxFrameBytes: z.int().positive(),
  maxRecordsPerFrame: z.int().positive(),
});
export const SnapshotFrame = z.object({
  op: z.literal('snapshot'),
  topic: TopicName,
  seq: z.int().nonnegative(),
  records: z.array(OutRecord),
  id: RequestId.optional(),
});
export const UpdFrame = z.object({
  op: z.literal('upd'),
  topic: TopicName,
  seq: z.int().positive(),
  records: z.array(OutRecord).min(1),
});
export const CursorReplyFrame = z.object({
  op: z.literal('cursor'),
  name: FleetName,
  value: z.int().nonnegative(),
  /** How many times this cursor has wrapped to 0. */
  lap: z.int().nonnegative(),
  id: RequestId.optional(),
});
export const PongFrame = z.object({ op: z.literal('pong'), id: RequestId.optional(), time: EpochMs });
export const AckFrame = z.object({
  op: z.literal('ack'),
  id: RequestId.optional(),
  accepted: z.int().nonnegative(),
  stale: z.int().nonnegative(),
  rejected: z.int().nonnegative(),
});
export const SourceStatsOut = z.object({
  records: z.int().nonnegative(),
  accepted: z.int().nonnegative(),
  stale: z.int().nonnegative(),
  lastTs: EpochMs,
  ageMs: z.number(),
  ratePerS: z.number(),
});
export const InspectReplyFrame = z.object({
  op: z.literal('inspect'),
  topic: TopicName,
  id: RequestId.optional(),
  keys: z.int().nonnegative(),
  sources: z.record(z.string(), SourceStatsOut),
  key: z.string().optional(),
  /** For `key`: each source's newest ts and arrival age, and which source holds the key now. */
  keySources: z.record(z.string(), z.object({ ts: EpochMs, ageMs: z.number() })).optional(),
  winner: z.string().optional(),
});
export const ErrorFrame = z.object({
  op: z.literal('error'),
  code: z.enum(ERROR_CODES),
  msg: z.string(),
  /** The offending frame's `id`, or null when it had none. */
  ref: RequestId.nullable(),
  /** For bad_record: indices of the rejected records (the first 20). */
  rejected: z.array(z.int().nonnegative()).optional(),
});

export const ServerFrame = z.discriminatedUnion('op', [
  HelloFrame,
  SnapshotFrame,
  UpdFrame,
  CursorReplyFrame,
  PongFrame,
  AckFrame,
  InspectReplyFrame,
  ErrorFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type PubFrame = z.infer<typeof PubFrame>;
export type HelloFrame = z.infer<typeof HelloFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type AckFrame = z.infer<typeof AckFrame>;
export type InspectReplyFrame = z.infer<typeof InspectReplyFrame>;
export type CursorReplyFrame = z.infer<typeof CursorReplyFrame>;

/** A one-line human-readable reason from a zod error (first issue, with its path). */
export function zodReason(err: z.ZodError): string {
  const i = err.issues[0];
  if (!i) return 'invalid';
  const path = i.path.length > 0 ? `${i.path.join('.')}: ` : '';
  return `${path}${i.message}`.slice(0, 300);
}
