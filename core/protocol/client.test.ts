// The client against a scripted fake aggregator (core/ may not import aggregator/; the real
// pairing is tested in test/aggregator.test.ts).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, afterEach, describe, it } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  AggregatorAuthError,
  AggregatorClient,
  type AggregatorClientOptions,
  AggregatorConnectionError,
  AggregatorRecordError,
  AggregatorServerError,
  reconnectDelay,
} from './client.ts';

type Frame = Record<string, any>;

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A few turns of the event loop: enough for anything already due to have happened. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

class FakeConn {
  readonly frames: Frame[] = [];
  closed = false;
  constructor(
    readonly ws: WebSocket,
    readonly req: IncomingMessage,
  ) {
    ws.on('message', (d) => this.frames.push(JSON.parse(String(d))));
    ws.on('close', () => {
      this.closed = true;
    });
  }
  send(f: Frame): void {
    this.ws.send(JSON.stringify(f));
  }
  hello(role = 'trader'): void {
    this.send({
      op: 'hello',
      v: 1,
      role,
      time: Date.now(),
      maxFrameBytes: 1 << 20,
      maxRecordsPerFrame: 5000,
    });
  }
  async next(pred: (f: Frame) => boolean, what = 'a frame'): Promise<Frame> {
    let found: Frame | undefined;
    await until(() => {
      const i = this.frames.findIndex(pred);
      if (i >= 0) found = this.frames.splice(i, 1)[0];
      return found !== undefined;
    }, what);
    return found!;
  }
}

/** A scripted aggregator: tests answer frames by hand. */
class FakeAggregator {
  readonly conns: FakeConn[] = [];
  status = 101;
  autoHello = true;
  private readonly wss: WebSocketServer;
  private constructor(
    private readonly server: Server,
    readonly port: number,
    autoPong: boolean,
  ) {
    this.wss = new WebSocketServer({ noServer: true, autoPong });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.status !== 101) {
        socket.end(`HTTP/1.1 ${this.status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const c = new FakeConn(ws, req);
        this.conns.push(c);
        if (this.autoHello) c.hello();
      });
    });
  }
  static async start(port = 0, autoPong = true): Promise<FakeAggregator> {
    const server = createServer();
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return new FakeAggregator(server, (server.address() as AddressInfo).port, autoPong);
  }
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }
  async conn(n: number): Promise<FakeConn> {
    await until(() => this.conns.length > n, `connection #${n + 1}`);
    return this.conns[n];
  }
  dropAll(): void {
    for (const c of this.conns) c.ws.terminate();
  }
  async close(): Promise<void> {
    this.dropAll();
    this.wss.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function client(fake: FakeAggregator, opts: Partial<AggregatorClientOptions> = {}): AggregatorClient {
  const c = new AggregatorClient({
    url: fake.url,
    token: 'secret-token',
    source: 'test-reader',
    reconnect: { baseMs: 10, maxMs: 50 },
    ...opts,
  });
  cleanups.push(() => c.close());
  return c;
}

async function fake(port = 0, autoPong = true): Promise<FakeAggregator> {
  const f = await FakeAggregator.start(port, autoPong);
  cleanups.push(() => f.close());
  return f;
}

const book = (symbol: string, ts: number, bid = '1.0') => ({
  key: symbol,
  ts,
  data: { symbol, bidPrice: bid, bidQty: '1', askPrice: '1.1', askQty: '1', time: ts },
});

describe('AggregatorClient: connection', () => {
  it('connects with the bearer token and learns its role from the greeting', async () => {
    const f = await fake();
    const c = client(f);
    let opened = 0;
    c.on('open', () => opened++);
    await c.connect();
    const conn = await f.conn(0);
    assert.equal(conn.req.headers.authorization, 'Bearer secret-token');
    assert.ok(c.connected);
    assert.equal(c.role, 'trader');
    assert.equal(opened, 1);
  });

  it('reports a refused token (401) and keeps trying until it is accepted', async () => {
    const f = await fake();
    f.status = 401;
    const c = client(f);
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    const connected = c.connect();
    await until(() => errors.length >= 2, 'two refusals');
    assert.ok(errors[0] instanceof AggregatorAuthError);
    assert.equal((errors[0] as AggregatorAuthError).status, 401);
    assert.ok(!errors.some((e) => e.message.includes('secret-token')), 'the token is never in an error');
    f.status = 101;
    await connected;
    assert.ok(c.connected);
  });

  it('backs off exponentially with jitter, up to a cap', () => {
    const opts = { baseMs: 100, maxMs: 5000, jitter: 0.5 };
    assert.equal(
      reconnectDelay(0, opts, () => 0),
      100,
    );
    assert.equal(
      reconnectDelay(3, opts, () => 0),
      800,
    );
    assert.equal(
      reconnectDelay(10, opts, () => 0),
      5000,
    );
    assert.equal(
      reconnectDelay(1, opts, () => 1),
      100,
      'jitter takes up to half off',
    );
    for (let i = 0; i < 100; i++) {
      const d = reconnectDelay(i % 12, opts);
      assert.ok(d >= Math.min(5000, 100 * 2 ** (i % 12)) / 2 && d <= 5000);
    }
  });

  it('sends pings when the line is silent and reconnects when nothing answers', async () => {
    const f = await fake(0, false); // this fake never answers WebSocket pings
    const c = client(f, { heartbeatMs: 60 });
    await c.connect();
    let closes = 0;
    c.on('close', () => closes++);
    await until(() => closes === 1 && c.connected, 'a reconnect after silence');
    assert.ok(f.conns.length >= 2);
  });

  it('close() stops for good: requests fail, no reconnect', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    const conn = await f.conn(0);
    const cur = assert.rejects(c.cursor('kline.1m', 10), AggregatorConnectionError);
    await conn.next((x) => x.op === 'cursor');
    await c.close();
    await cur;
    await assert.rejects(c.publish('book', [book('BTCUSDT', 1)]), AggregatorConnectionError);
    await settle();
    assert.equal(f.conns.length, 1);
  });
});

describe('AggregatorClient: subscriptions and the mirror', () => {
  it('resolves subscribe on the snapshot, applies updates, and reports data age', async () => {
    const f = await fake();
    let exchangeNow = 1_000_000;
    const c = client(f, { now: () => exchangeNow });
    await c.connect();
    const conn = await f.conn(0);
    const subscribed = c.subscribe(['book'], { symbols: ['BTCUSDT', 'ETHUSDT'] });
    const sub = await conn.next((x) => x.op === 'sub');
    assert.deepEqual(sub.topics, ['book']);
    assert.deepEqual(sub.symbols, ['BTCUSDT', 'ETHUSDT']);
    assert.equal(c.age('book'), Number.POSITIVE_INFINITY);
    conn.send({ op: 'snapshot', topic: 'book', seq: 4, id: sub.id, records: [book('BTCUSDT', 999_000)] });
    await subscribed;
    assert.ok(c.isLive('book'));
    assert.equal(c.get('book', 'BTCUSDT')?.ts, 999_000);
    assert.equal(c.age('book', 'BTCUSDT'), 1000);
    assert.equal(c.age('book', 'ETHUSDT'), Number.POSITIVE_INFINITY);
    const updates: number[] = [];
    c.on('update', (_t, recs) => updates.push(recs.length));
    conn.send({
      op: 'upd',
      topic: 'book',
      seq: 5,
      records: [book('ETHUSDT', 999_500), book('BTCUSDT', 999_800, '2.0')],
    });
    conn.send({ op: 'upd', topic: 'book', seq: 6, records: [book('BTCUSDT', 999_700, '0.5')] }); // older: ignored
    await until(() => updates.length === 2, 'two updates');
    exchangeNow = 1_000_100;
    assert.equal(c.age('book', 'ETHUSDT'), 600);
    assert.equal(c.age('book'), 300, 'topic age: the newest record');
    assert.equal(c.get<{ bidPrice: string }>('book', 'BTCUSDT')?.data.bidPrice, '2.0');
    assert.ok(c.receivedAge('book', 'BTCUSDT') < 5000);
    assert.equal(c.records('book').size, 2);
  });

  it('re-subscribes on a seq gap and takes the fresh snapshot', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    const conn = await f.conn(0);
    const s = c.subscribe('book');
    const sub = await conn.next((x) => x.op === 'sub');
    conn.send({ op: 'snapshot', topic: 'book', seq: 0, id: sub.id, records: [book('BTCUSDT', 1)] });
    await s;
    const gaps: Array<[number, number]> = [];
    c.on('gap', (_t, want, got) => gaps.push([want, got]));
    conn.send({ op: 'upd', topic: 'book', seq: 1, records: [book('BTCUSDT', 2)] });
    conn.send({ op: 'upd', topic: 'book', seq: 3, records: [book('BTCUSDT', 4)] }); // 2 went missing
    conn.send({ op: 'upd', topic: 'book', seq: 4, records: [book('BTCUSDT', 5)] }); // ignored until the snapshot
    const resub = await conn.next((x) => x.op === 'sub', 'the re-subscription');
    assert.deepEqual(resub.topics, ['book']);
    assert.deepEqual(gaps, [[2, 3]]);
    assert.equal(c.stats.gaps, 1);
    assert.ok(!c.isLive('book'));
    assert.equal(c.get('book', 'BTCUSDT')?.ts, 2);
    conn.send({
      op: 'snapshot',
      topic: 'book',
      seq: 10,
      id: resub.id,
      records: [book('BTCUSDT', 7), book('ETHUSDT', 7)],
    });
    await until(() => c.isLive('book'), 'live again');
    assert.equal(c.get('book', 'BTCUSDT')?.ts, 7);
    conn.send({ op: 'upd', topic: 'book', seq: 11, records: [book('BTCUSDT', 8)] });
    await until(() => c.get('book', 'BTCUSDT')?.ts === 8, 'updates resume from the snapshot seq');
  });

  it('after a reconnect, re-subscribes with the same filters and replaces the mirror', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    let conn = await f.conn(0);
    const s = c.subscribe(['book', 'position'], { symbols: ['BTCUSDT'] });
    let sub = await conn.next((x) => x.op === 'sub');
    for (const t of ['book', 'position'])
      conn.send({
        op: 'snapshot',
        topic: t,
        seq: 0,
        id: sub.id,
        records: t === 'book' ? [book('BTCUSDT', 1)] : [],
      });
    await s;
    let closes = 0;
    c.on('close', () => closes++);
    f.dropAll();
    conn = await f.conn(1);
    sub = await conn.next((x) => x.op === 'sub', 'the re-subscription');
    assert.deepEqual(sub.topics.sort(), ['book', 'position']);
    assert.deepEqual(sub.symbols, ['BTCUSDT']);
    assert.equal(closes, 1);
    assert.ok(!c.isLive('book'));
    // A restarted aggregator knows nothing yet: the mirror follows it.
    conn.send({ op: 'snapshot', topic: 'book', seq: 0, id: sub.id, records: [] });
    await until(() => c.isLive('book'), 'live again');
    assert.equal(c.records('book').size, 0);
    assert.equal(c.age('book', 'BTCUSDT'), Number.POSITIVE_INFINITY);
    assert.equal(c.stats.connects, 2);
  });

  it('rejects a refused subscription and stops asking for it', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    const conn = await f.conn(0);
    const s = c.subscribe('position');
    const sub = await conn.next((x) => x.op === 'sub');
    conn.send({
      op: 'error',
      code: 'forbidden',
      msg: 'a collector may not subscribe to position',
      ref: sub.id,
    });
    await assert.rejects(s, (e: unknown) => e instanceof AggregatorServerError && e.code === 'forbidden');
    f.dropAll();
    const conn2 = await f.conn(1);
    await until(() => c.connected, 'reconnected');
    await settle();
    assert.equal(conn2.frames.filter((x) => x.op === 'sub').length, 0);
  });
});

describe('AggregatorClient: transient sub errors', () => {
  it('retries a sub answered with any error but forbidden/unknown_topic, with backoff, and reports it', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    const conn = await f.conn(0);
    const errors: AggregatorServerError[] = [];
    c.on('serverError', (e) => errors.push(e));
    const s = c.subscribe(['book', 'health']);
    const sub = await conn.next((x) => x.op === 'sub');
    // The first topic's snapshot arrives, the second fails inside the aggregator.
    conn.send({ op: 'snapshot', topic: 'book', seq: 1, id: sub.id, records: [book('BTCUSDT', 1)] });
    conn.send({ op: 'error', code: 'internal', msg: 'internal error', ref: sub.id });
    const again = await conn.next((x) => x.op === 'sub', 'the retry');
    assert.deepEqual(again.topics, ['health'], 'only the topic still without a snapshot');
    assert.notEqual(again.id, sub.id);
    assert.equal(errors[0]?.code, 'internal');
    conn.send({ op: 'error', code: 'internal', msg: 'internal error', ref: again.id });
    const third = await conn.next((x) => x.op === 'sub', 'the second retry');
    conn.send({ op: 'snapshot', topic: 'health', seq: 0, id: third.id, records: [] });
    await s;
    assert.ok(c.isLive('book') && c.isLive('health'));
    assert.equal(errors.length, 2);
  });
});

describe('AggregatorClient: publishing while the aggregator drains', () => {
  it('sends publications refused with shutting_down again after the reconnect, in order', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    const conn = await f.conn(0);
    await c.publish('book', [book('AUSDT', 1)]);
    await c.publish('book', [book('BUSDT', 2)]);
    const acked = c.publish('book', [book('CUSDT', 3)], { ack: true });
    const keyOf = (x: Frame) => x.records[0].key;
    const [, b, cc] = [
      await conn.next((x) => x.op === 'pub' && keyOf(x) === 'AUSDT'),
      await conn.next((x) => x.op === 'pub' && keyOf(x) === 'BUSDT'),
      await conn.next((x) => x.op === 'pub' && keyOf(x) === 'CUSDT'),
    ];
    // A was taken; B and C came after the aggregator began to drain.
    conn.send({ op: 'error', code: 'shutting_down', msg: 'the aggregator is shutting down', ref: b.id });
    conn.send({ op: 'error', code: 'shutting_down', msg: 'the aggregator is shutting down', ref: cc.id });
    await until(() => c.queued > 0, 'the refused frames back in the queue');
    await c.publish('book', [book('DUSDT', 4)]);
    await settle();
    assert.equal(
      conn.frames.filter((x) => x.op === 'pub').length,
      0,
      'nothing more to a draining aggregator',
    );
    conn.ws.close(1001, 'aggregator shutting down');
    const conn2 = await f.conn(1);
    await until(() => conn2.frames.filter((x) => x.op === 'pub').length === 3, 'the re-sent frames');
    const pubs = conn2.frames.filter((x) => x.op === 'pub');
    assert.deepEqual(pubs.map(keyOf), ['BUSDT', 'CUSDT', 'DUSDT']);
    conn2.send({ op: 'ack', id: pubs[1].id, accepted: 1, stale: 0, rejected: 0 });
    assert.deepEqual(await acked, { accepted: 1, stale: 0, rejected: 0 }, 'its ack survived the reconnect');
    await c.flush();
    assert.equal(c.queued, 0);
  });

  it('counts the queue in bytes (UTF-8), not characters', async () => {
    const f = await fake();
    const port = f.port;
    await f.close();
    const c = new AggregatorClient({
      url: `ws://127.0.0.1:${port}`,
      token: 't',
      source: 'r',
      reconnect: { baseMs: 10, maxMs: 20 },
    });
    cleanups.push(() => c.close());
    void c.connect().catch(() => {});
    await c.publish('book', [book('币安人生USDT', 1)]);
    const queued = c.queued;
    const back = await FakeAggregator.start(port);
    cleanups.push(() => back.close());
    const conn = await back.conn(0);
    const pub = await conn.next((x) => x.op === 'pub');
    const text = JSON.stringify(pub);
    assert.equal(queued, Buffer.byteLength(text));
    assert.ok(queued > text.length);
  });
});

describe('AggregatorClient: publishing', () => {
  it('validates records before sending', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    await assert.rejects(
      c.publish('book', [{ ...book('BTCUSDT', 1), key: 'ETHUSDT' }]),
      AggregatorRecordError,
    );
    await assert.rejects(
      c.publish('book', [{ key: 'BTCUSDT', ts: 1, data: { symbol: 'BTCUSDT', bidPrice: 1 } }]),
      AggregatorRecordError,
    );
    await assert.rejects(c.publish('nope', [book('BTCUSDT', 1)]), /unknown topic/);
    const conn = await f.conn(0);
    await settle();
    assert.equal(conn.frames.filter((x) => x.op === 'pub').length, 0);
  });

  it('queues while away, waits when the queue is full (backpressure), drains in order', async () => {
    const f = await fake();
    const port = f.port;
    await f.close(); // nothing listens on the port yet
    const real = new AggregatorClient({
      url: `ws://127.0.0.1:${port}`,
      token: 't',
      source: 'r',
      maxQueueBytes: 1000,
      reconnect: { baseMs: 10, maxMs: 20 },
    });
    cleanups.push(() => real.close());
    void real.connect().catch(() => {});
    const frameBytes = JSON.stringify({
      op: 'pub',
      topic: 'book',
      src: 'r',
      records: [book('BTCUSDT', 1)],
    }).length;
    const perQueue = Math.floor(1000 / frameBytes);
    const done: number[] = [];
    const pubs = Array.from({ length: perQueue + 2 }, (_, i) =>
      real.publish('book', [book('BTCUSDT', i + 1)]).then(() => done.push(i)),
    );
    await settle();
    assert.equal(done.length, perQueue, 'publishers beyond the bound wait');
    assert.ok(real.queued <= 1000);
    // The aggregator appears: everything drains, in order.
    const back = await FakeAggregator.start(port);
    cleanups.push(() => back.close());
    await Promise.all(pubs);
    const conn = await back.conn(0);
    await until(() => conn.frames.filter((x) => x.op === 'pub').length === perQueue + 2, 'every publication');
    assert.deepEqual(
      conn.frames.filter((x) => x.op === 'pub').map((x) => x.records[0].ts),
      Array.from({ length: perQueue + 2 }, (_, i) => i + 1),
    );
    await real.flush();
    assert.equal(real.queued, 0);
  });

  it('a publisher waiting for room can give up (AbortSignal); its frame is never sent', async () => {
    const f = await fake();
    const port = f.port;
    await f.close();
    const c = new AggregatorClient({
      url: `ws://127.0.0.1:${port}`,
      token: 't',
      source: 'r',
      maxQueueBytes: 10,
      reconnect: { baseMs: 10, maxMs: 20 },
    });
    cleanups.push(() => c.close());
    void c.connect().catch(() => {});
    await c.publish('book', [book('BTCUSDT', 1)]); // the first always fits
    const ac = new AbortController();
    const waiting = c.publish('book', [book('BTCUSDT', 2)], { signal: ac.signal });
    ac.abort(new Error('deadline'));
    await assert.rejects(waiting, /deadline/);
    const back = await FakeAggregator.start(port);
    cleanups.push(() => back.close());
    const conn = await back.conn(0);
    await c.flush();
    await settle();
    assert.deepEqual(
      conn.frames.filter((x) => x.op === 'pub').map((x) => x.records[0].ts),
      [1],
    );
  });

  it('with ack, resolves with the counts; a bad_record error does not pre-empt the ack', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    const conn = await f.conn(0);
    const p = c.publish('book', [book('BTCUSDT', 1)], { ack: true, src: 'other' });
    const pub = await conn.next((x) => x.op === 'pub');
    assert.equal(pub.src, 'other');
    assert.equal(pub.ack, true);
    const serverErrors: AggregatorServerError[] = [];
    c.on('serverError', (e) => serverErrors.push(e));
    conn.send({ op: 'error', code: 'bad_record', msg: '1 of 2 refused', ref: pub.id, rejected: [1] });
    conn.send({ op: 'ack', id: pub.id, accepted: 1, stale: 0, rejected: 1 });
    assert.deepEqual(await p, { accepted: 1, stale: 0, rejected: 1 });
    assert.equal(serverErrors[0]?.code, 'bad_record');
    // A refusal of the whole frame rejects the publication.
    const q = c.publish('book', [book('BTCUSDT', 2)], { ack: true });
    const pub2 = await conn.next((x) => x.op === 'pub');
    conn.send({ op: 'error', code: 'forbidden', msg: 'no', ref: pub2.id });
    await assert.rejects(q, (e: unknown) => e instanceof AggregatorServerError && e.code === 'forbidden');
  });
});

describe('AggregatorClient: frame limits', () => {
  it("splits a publication over the aggregator's frame limits, in order, and sums the acks", async () => {
    const f = await fake();
    f.autoHello = false;
    const c = client(f);
    const connected = c.connect();
    const conn = await f.conn(0);
    conn.send({
      op: 'hello',
      v: 1,
      role: 'collector',
      time: Date.now(),
      maxFrameBytes: 2000,
      maxRecordsPerFrame: 3,
    });
    await connected;
    const recs = Array.from({ length: 10 }, (_, i) => book(`S${i}USDT`, i + 1));
    const p = c.publish('book', recs, { ack: true });
    await until(() => conn.frames.filter((x) => x.op === 'pub').length >= 4, 'the frames');
    const pubs = conn.frames.filter((x) => x.op === 'pub');
    assert.ok(pubs.every((x) => x.records.length <= 3 && JSON.stringify(x).length <= 2000));
    assert.deepEqual(
      pubs.flatMap((x) => x.records.map((r: Frame) => r.ts)),
      recs.map((r) => r.ts),
    );
    for (const x of pubs)
      conn.send({ op: 'ack', id: x.id, accepted: x.records.length, stale: 0, rejected: 0 });
    assert.deepEqual(await p, { accepted: 10, stale: 0, rejected: 0 });
    const huge = { ...book('BIGUSDT', 1), data: { ...book('BIGUSDT', 1).data, pad: 'x'.repeat(3000) } };
    await assert.rejects(
      c.publish('book', [huge]),
      (e: unknown) => e instanceof AggregatorRecordError && /BIGUSDT/.test(String(e)),
    );
  });
});

describe('AggregatorClient: requests', () => {
  it('cursor: matched by id, re-sent after a reconnect when the reply was lost', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    let conn = await f.conn(0);
    const a = c.cursor('kline.1m', 200);
    const b = c.cursor('kline.1m', 200);
    const ra = await conn.next((x) => x.op === 'cursor');
    const rb = await conn.next((x) => x.op === 'cursor');
    conn.send({ op: 'cursor', name: 'kline.1m', value: 8, lap: 0, id: rb.id });
    conn.send({ op: 'cursor', name: 'kline.1m', value: 7, lap: 0, id: ra.id });
    assert.deepEqual(await a, { value: 7, lap: 0 });
    assert.deepEqual(await b, { value: 8, lap: 0 });
    const lost = c.cursor('kline.1m', 200);
    await conn.next((x) => x.op === 'cursor');
    f.dropAll();
    conn = await f.conn(1);
    const again = await conn.next((x) => x.op === 'cursor', 'the re-sent request');
    conn.send({ op: 'cursor', name: 'kline.1m', value: 9, lap: 0, id: again.id });
    assert.deepEqual(await lost, { value: 9, lap: 0 });
  });

  it('ping: round trip and server time; lost on a disconnect', async () => {
    const f = await fake();
    const c = client(f);
    await c.connect();
    const conn = await f.conn(0);
    const p = c.ping();
    const ping = await conn.next((x) => x.op === 'ping');
    conn.send({ op: 'pong', id: ping.id, time: 1234 });
    const r = await p;
    assert.equal(r.serverTime, 1234);
    assert.ok(r.rttMs >= 0);
    const q = c.ping();
    await conn.next((x) => x.op === 'ping');
    f.dropAll();
    await assert.rejects(q, AggregatorConnectionError);
  });

  it('times requests out', async () => {
    const f = await fake();
    const c = client(f, { requestTimeoutMs: 50 });
    await c.connect();
    await assert.rejects(c.ping(), /timed out/);
  });
});

after(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});
