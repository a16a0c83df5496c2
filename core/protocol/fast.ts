// Hand-compiled fast paths for the `pub` envelope and the hottest topic, `book` (about 96 % of
// the fleet's records):
// a check that is a *sufficient* condition for the zod schema (when it says yes, the zod record
// schema would accept the record unchanged; when it says no, the caller falls back to zod for the
// verdict and the error message), and a serializer for data that passed it. The zod schemas in
// topics.ts stay the schema of record; fast.test.ts checks on random and mutated records that
// the fast check never accepts what zod refuses and that the serializer equals JSON.stringify.

import { LIMITS, type PubFrame } from './frames.ts';
import { DECIMAL_RE, FLEET_NAME_RE, SYMBOL_RE, type TopicSpec } from './topics.ts';

const BOOK_FIELDS = new Set(['symbol', 'bidPrice', 'bidQty', 'askPrice', 'askQty', 'time']);

function isMs(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isDec(x: unknown): x is string {
  return typeof x === 'string' && DECIMAL_RE.test(x);
}

/**
 * A book record `{key, ts, data}` that the zod schema accepts as it is (extra data fields
 * allowed) and whose key is its symbol (the key check of topics.ts `keyMismatch`).
 */
export function fastBookRecord(r: unknown): boolean {
  if (typeof r !== 'object' || r === null) return false;
  const rec = r as { key?: unknown; ts?: unknown; data?: unknown };
  const d = rec.data as Record<string, unknown> | null | undefined;
  return (
    typeof rec.key === 'string' &&
    isMs(rec.ts) &&
    typeof d === 'object' &&
    d !== null &&
    !Array.isArray(d) &&
    Object.getPrototypeOf(d) === Object.prototype &&
    !Object.hasOwn(d, '__proto__') &&
    d.symbol === rec.key &&
    SYMBOL_RE.test(rec.key) &&
    isDec(d.bidPrice) &&
    isDec(d.bidQty) &&
    isDec(d.askPrice) &&
    isDec(d.askQty) &&
    isMs(d.time)
  );
}

/**
 * JSON of book data that passed fastBookRecord: its strings need no escaping (decimals, and
 * symbols exclude quotes, backslashes and control characters), so a template does it; other
 * fields Binance may add (lastUpdateId) follow through JSON.stringify.
 */
export function bookDataJson(d: Record<string, unknown>): string {
  let s = `{"symbol":"${d.symbol}","bidPrice":"${d.bidPrice}","bidQty":"${d.bidQty}","askPrice":"${d.askPrice}","askQty":"${d.askQty}","time":${d.time}`;
  for (const k in d) {
    if (BOOK_FIELDS.has(k) || !Object.hasOwn(d, k)) continue;
    const v = JSON.stringify(d[k]);
    if (v !== undefined) s += `,${JSON.stringify(k)}:${v}`;
  }
  return `${s}}`;
}

/** A `pub` frame the zod PubFrame schema accepts as it is (records are checked one by one later). */
export function fastPubFrame(f: Record<string, unknown>): f is PubFrame {
  const { topic, src, records, id, ack } = f;
  return (
    f.op === 'pub' &&
    typeof topic === 'string' &&
    topic.length >= 1 &&
    topic.length <= 64 &&
    typeof src === 'string' &&
    FLEET_NAME_RE.test(src) &&
    Array.isArray(records) &&
    records.length >= 1 &&
    records.length <= LIMITS.maxRecordsPerFrame &&
    (id === undefined ||
      (typeof id === 'string' && id.length <= 64) ||
      (typeof id === 'number' && Number.isSafeInteger(id))) &&
    (ack === undefined || typeof ack === 'boolean')
  );
}

/** The fast check of a topic, if it has one. */
export function fastCheckOf(spec: TopicSpec): ((r: unknown) => boolean) | undefined {
  return spec.family === 'book' ? fastBookRecord : undefined;
}
