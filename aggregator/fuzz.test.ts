// Fuzz: 100,000+ random and mutated frames from several connections of every role, while a
// well-behaved publisher and subscriber carry on; the subscriber must see exactly what was
// published, with no gap, and the aggregator must answer throughout.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { AggregatorClient } from '../core/protocol/client.ts';
import type { Role } from '../core/protocol/topics.ts';
import {
  bookRecord,
  klineRecord,
  positionRecord,
  startTestAggregator,
  TOKENS,
  waitUntil,
} from './test-support.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const FRAMES_PER_CONN = 25_000;
const ROLES: Role[] = ['collector', 'collector', 'trader', 'admin'];
const GOOD = Array.from({ length: 20 }, (_, i) => `GOOD${String(i).padStart(2, '0')}USDT`);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JUNK_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -0,
  2 ** 53 + 2,
  '',
  'x',
  'book',
  'pub',
  'ALL',
  'aggregator',
  '__proto__',
  'constructor',
  '\u0000',
  '\ud800',
  '💥',
  '"',
  '\\',
  [],
  [null],
  {},
  { __proto__: { polluted: true } },
  { op: 'pub' },
  'x'.repeat(300),
  Array.from({ length: 50 }, (_, i) => i),
];

class Fuzzer {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(seed);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)];
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  chance(p: number): boolean {
    return this.r() < p;
  }

  /** A frame that is valid or nearly valid, of any op, about FUZZ symbols (never GOOD ones). */
  baseFrame(): Record<string, unknown> {
    const sym = `FUZZ${this.int(30)}USDT`;
    const ts = Date.now() - this.int(100_000);
    const topics = [
      'book',
      'kline.1m',
      'kline.1m.window',
      'position',
      'balance',
      'orders.open',
      'symbols',
      'volume',
      'risk.ban',
      'health',
    ];
    switch (this.int(7)) {
      case 0:
        return {
          op: 'pub',
          topic: 'book',
          src: `fuzz${this.int(5)}`,
          records: [bookRecord(sym, ts, `${this.int(1000)}.5`)],
        };
      case 1:
        return {
          op: 'pub',
          topic: 'kline.1m',
          src: 'fuzz',
          records: [klineRecord(sym, ts, Math.floor(ts / 60_000) * 60_000)],
        };
      case 2:
        return {
          op: 'pub',
          topic: 'position',
          src: 'fuzz',
          records: [positionRecord(sym, 'BOTH', ts, `${this.int(9)}`)],
        };
      case 3:
        return {
          op: 'sub',
          topics: [this.pick(topics), this.pick(topics)],
          ...(this.chance(0.5) ? { symbols: [sym] } : {}),
        };
      case 4:
        return { op: 'unsub', topics: [this.pick(topics)] };
      case 5:
        return { op: 'cursor', name: `fuzz.${this.int(3)}`, size: 1 + this.int(300), id: this.int(1000) };
      default:
        return {
          op: this.pick(['ping', 'inspect']),
          topic: this.pick(topics),
          id: this.pick(['a', 1, null, {}]),
        };
    }
  }

  mutateValue(v: unknown, depth = 0): unknown {
    if (depth > 3 || this.chance(0.3)) return this.pick(JUNK_VALUES);
    if (Array.isArray(v)) {
      const a = [...v];
      if (a.length > 0 && this.chance(0.5))
        a[this.int(a.length)] = this.mutateValue(a[this.int(a.length)], depth + 1);
      else if (this.chance(0.5)) a.push(this.pick(JUNK_VALUES));
      else a.splice(this.int(a.length + 1), 1);
      return a;
    }
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
      const keys = Object.keys(o);
      const k =
        keys.length > 0 && this.chance(0.8) ? this.pick(keys) : this.pick(['extra', '__proto__', 'op', 'id']);
      if (this.chance(0.2)) delete o[k];
      else o[k] = this.mutateValue(o[k], depth + 1);
      return o;
    }
    return this.pick(JUNK_VALUES);
  }

  mutateText(s: string): string {
    const n = 1 + this.int(4);
    let out = s;
    for (let i = 0; i < n; i++) {
      const at = this.int(out.length + 1);
      switch (this.int(4)) {
        case 0:
          out = out.slice(0, at); // truncated
          break;
        case 1:
          out = out.slice(0, at) + out.slice(at + 1 + this.int(5)); // deleted
          break;
        case 2:
          out =
            out.slice(0, at) +
            this.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '\u0000', '9e999', 'null', '💥']) +
            out.slice(at);
          break;
        default: {
          const c = String.fromCharCode(this.int(0x3000));
          out = out.slice(0, at) + c + out.slice(at + 1);
        }
      }
    }
    return out;
  }

  randomText(): string {
    const len = this.int(200);
    let s = '';
    for (let i = 0; i < len; i++)
      s += String.fromCharCode(this.chance(0.8) ? 32 + this.int(95) : this.int(0xd7ff));
    return s;
  }

  /** One fuzz frame: [data, binary]. */
  frame(): [string | Buffer, boolean] {
    const k = this.r();
    if (k < 0.15) return [this.randomText(), false];
    if (k < 0.45) return [this.mutateText(JSON.stringify(this.baseFrame())), false];
    if (k < 0.8) return [JSON.stringify(this.mutateValue(this.baseFrame())), false];
    if (k < 0.95) return [JSON.stringify(this.baseFrame()), false];
    if (k < 0.97) return [Buffer.from(JSON.stringify(this.baseFrame())), true];
    if (k < 0.985) return [`${'['.repeat(this.int(5000))}`, false];
    if (k < 0.999)
      return [
        JSON.stringify({
          op: 'pub',
          topic: 'book',
          src: 'f',
          records: Array.from({ length: this.int(300) }, () => this.pick(JUNK_VALUES)),
        }),
        false,
      ];
    return [JSON.stringify({ op: 'ping', pad: 'x'.repeat(70 * 1024) }), false]; // over maxFrameBytes
  }
}

async function open(url: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  ws.on('error', () => {});
  await once(ws, 'open');
  return ws;
}

/** Sends `count` fuzz frames over one connection (reconnecting when the aggregator closes it). */
async function fuzzConnection(
  url: string,
  role: Role,
  seed: number,
  count: number,
): Promise<{ sent: number; reconnects: number; replies: number }> {
  const f = new Fuzzer(seed);
  let ws = await open(url, TOKENS[role]);
  let sent = 0;
  let reconnects = 0;
  let replies = 0;
  let pongs = new Set<string>();
  const listen = (w: WebSocket) =>
    w.on('message', (d) => {
      replies++;
      const s = String(d);
      if (s.startsWith('{"op":"pong"')) pongs.add(JSON.parse(s).id);
    });
  listen(ws);
  while (sent < count) {
    if (ws.readyState !== WebSocket.OPEN) {
      ws.terminate();
      ws = await open(url, TOKENS[role]);
      pongs = new Set();
      listen(ws);
      reconnects++;
    }
    for (let i = 0; i < 500 && sent < count && ws.readyState === WebSocket.OPEN; i++, sent++) {
      const [data, binary] = f.frame();
      ws.send(data, { binary });
      // Now and then, a frame `ws` itself refuses: invalid UTF-8 in a text frame (closes 1007).
      if (f.chance(0.0002)) ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false });
    }
    // Flow control: wait until the aggregator has processed the batch.
    const id = `sync-${sent}`;
    ws.send(JSON.stringify({ op: 'ping', id }));
    const w = ws;
    await waitUntil(
      () => pongs.has(id) || w.readyState !== WebSocket.OPEN,
      'a batch to be processed',
      20_000,
    );
  }
  ws.terminate();
  return { sent, reconnects, replies };
}

describe('aggregator fuzz', () => {
  it(`survives ${ROLES.length * FRAMES_PER_CONN} random and mutated frames while serving a well-behaved subscriber`, async (t) => {
    const agg = await startTestAggregator({
      maxFrameBytes: 64 * 1024,
      healthIntervalMs: 100,
      maxBufferedBytes: 64 * 1024 * 1024,
    });
    t.after(() => agg.close());
    const publisher = new AggregatorClient({ url: agg.url, token: TOKENS.collector, source: 'good-reader' });
    const subscriber = new AggregatorClient({ url: agg.url, token: TOKENS.trader });
    t.after(() => Promise.all([publisher.close(), subscriber.close()]));
    await publisher.connect();
    await subscriber.connect();
    await subscriber.subscribe(['book'], { symbols: GOOD });

    // What the good publisher sent, by key and ts; what the subscriber received must match it.
    const sentData = new Map<string, unknown>();
    const latest = new Map<string, { ts: number; bid: string }>();
    let received = 0;
    let mismatches = 0;
    subscriber.on('update', (_topic, recs) => {
      for (const r of recs) {
        received++;
        const want = sentData.get(`${r.key}@${r.ts}`);
        if (want === undefined || JSON.stringify(want) !== JSON.stringify(r.data)) mismatches++;
      }
    });
    let stop = false;
    t.after(() => {
      stop = true;
    });
    let published = 0;
    const good = (async () => {
      let ts = Date.now();
      while (!stop) {
        ts++;
        const recs = GOOD.filter((_, i) => (i + published) % 3 === 0).map((s) =>
          bookRecord(s, ts, `${published % 1000}.25`),
        );
        for (const r of recs) {
          sentData.set(`${r.key}@${r.ts}`, r.data);
          latest.set(r.key, { ts: r.ts, bid: r.data.bidPrice });
        }
        await publisher.publish('book', recs);
        published++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();

    // Strangers knock meanwhile: random tokens and header shapes, all refused before the upgrade.
    const strangers = (async () => {
      const f = new Fuzzer(SEED - 1);
      let refused = 0;
      for (let i = 0; i < 200; i++) {
        const headers: Record<string, string> = f.chance(0.2)
          ? {}
          : {
              authorization:
                f.pick(['Bearer ', 'bearer ', 'Basic ', '', 'Bearer  ']) +
                f.randomText().replace(/[^\x21-\x7e]/g, ''),
            };
        const ws = new WebSocket(agg.url, { headers });
        const status = await new Promise<number>((resolve) => {
          ws.on('unexpected-response', (_req, res) => {
            resolve(res.statusCode ?? 0);
            ws.terminate();
          });
          ws.on('open', () => resolve(101));
          ws.on('error', () => resolve(0));
        });
        if (status === 401) refused++;
      }
      return refused;
    })();

    const started = Date.now();
    const results = await Promise.all(
      ROLES.map((role, i) => fuzzConnection(agg.url, role, SEED + i, FRAMES_PER_CONN)),
    );
    assert.equal(await strangers, 200, 'every stranger refused with 401');
    stop = true;
    await good;
    await publisher.flush();
    const fuzzMs = Date.now() - started;

    // The good subscriber converges on exactly what was last published, having missed nothing.
    await waitUntil(
      () => GOOD.every((s) => subscriber.get('book', s)?.ts === latest.get(s)?.ts),
      'the subscriber to catch up',
      10_000,
    );
    for (const s of GOOD)
      assert.equal(subscriber.get<{ bidPrice: string }>('book', s)?.data.bidPrice, latest.get(s)?.bid);
    assert.equal(mismatches, 0, 'every record received is one that was published, unchanged');
    assert.equal(subscriber.stats.gaps, 0);
    assert.equal(subscriber.stats.disconnects, 0);
    assert.equal(publisher.stats.disconnects, 0);
    assert.ok(received > 0 && published > 50, `received ${received} from ${published} publications`);
    const pong = await subscriber.ping();
    assert.ok(pong.rttMs < 5000);

    const total = results.reduce((a, r) => a + r.sent, 0);
    assert.ok(total >= 100_000, `sent ${total}`);
    const text = await fetch(agg.metricsUrl).then((r) => r.text());
    const rejects = [...text.matchAll(/^fleet_aggregator_rejects_total\{[^}]*\} (\S+)$/gm)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
    assert.ok(rejects > 30_000, `rejects counted: ${rejects}`);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    console.log(
      `fuzz: ${total} frames in ${fuzzMs} ms (seed ${SEED}), ${rejects} refused, ${results.reduce((a, r) => a + r.reconnects, 0)} reconnects after closes; good subscriber got ${received} records of ${published} publications`,
    );
  });
});
