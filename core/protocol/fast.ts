// Hand-compiled fast paths for the `pub` envelope and the hottest topics, `book` (about 96 % of
// the fleet's records) and `kline.<interval>` (most of its frames):
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
  // Binance's bookTicker adds lastUpdateId (an integer): by template too.
  const u = d.lastUpdateId;
  const withId = typeof u === 'number' && Number.isSafeInteger(u);
  if (withId) s += `,"lastUpdateId":${u}`;
  // Any other field is rare: count the keys first (cheaper than a keyed walk), walk only then.
  let n = 0;
  for (const _ in d) n++;
  if (n > (withId ? 7 : 6))
    for (const k in d) {
      if (BOOK_FIELDS.has(k) || (withId && k === 'lastUpdateId') || !Object.hasOwn(d, k)) continue;
      const v = JSON.stringify(d[k]);
      if (v !== undefined) s += `,${JSON.stringify(k)}:${v}`;
    }
  return `${s}}`;
}

function isKlineBar(b: unknown): boolean {
  if (!Array.isArray(b) || b.length !== 12) return false;
  const t = b[11];
  return (
    isMs(b[0]) &&
    isDec(b[1]) &&
    isDec(b[2]) &&
    isDec(b[3]) &&
    isDec(b[4]) &&
    isDec(b[5]) &&
    isMs(b[6]) &&
    isDec(b[7]) &&
    isMs(b[8]) &&
    isDec(b[9]) &&
    isDec(b[10]) &&
    typeof t === 'string' &&
    t.length <= 64
  );
}

/**
 * A `kline.<interval>` record (the last closed and the forming bar) that the zod schema accepts
 * as it is: a symbol key, 1-2 bars of Binance's 12-element shape, ascending by open time.
 */
export function fastKlineRecord(r: unknown): boolean {
  if (typeof r !== 'object' || r === null) return false;
  const rec = r as { key?: unknown; ts?: unknown; data?: unknown };
  const d = rec.data as Record<string, unknown> | null | undefined;
  if (
    typeof rec.key !== 'string' ||
    !isMs(rec.ts) ||
    typeof d !== 'object' ||
    d === null ||
    Array.isArray(d) ||
    Object.getPrototypeOf(d) !== Object.prototype ||
    Object.hasOwn(d, '__proto__') ||
    !SYMBOL_RE.test(rec.key)
  )
    return false;
  const bars = d.bars;
  if (!Array.isArray(bars) || bars.length < 1 || bars.length > 2) return false;
  if (!isKlineBar(bars[0])) return false;
  if (bars.length === 2 && !(isKlineBar(bars[1]) && (bars[1] as number[])[0] > (bars[0] as number[])[0]))
    return false;
  return true;
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
  if (spec.family === 'book') return fastBookRecord;
  if (spec.family === 'kline') return fastKlineRecord;
  return undefined;
}
