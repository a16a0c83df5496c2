import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { RunningAggregator } from './server.ts';
import {
  bookRecord,
  type Frame,
  klineRecord,
  positionRecord,
  RawClient,
  startTestAggregator,
  TOKENS,
  waitUntil,
} from './test-support.ts';

const now = () => Date.now();

function socketOf(c: RawClient): Socket {
  return (c.ws as unknown as { _socket: Socket })._socket;
}

/** Sends frames in one TCP write, so the aggregator reads them in one event-loop turn. */
function sendTogether(c: RawClient, frames: Frame[]): void {
  const s = socketOf(c);
  s.cork();
  for (const f of frames) c.send(f);
  process.nextTick(() => s.uncork());
}

async function metricsText(agg: RunningAggregator): Promise<string> {
  const res = await fetch(agg.metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  return res.text();
}

function metric(text: string, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}"()[\].*+?^$|\\]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

describe('aggregator: authentication at the upgrade', () => {
  let agg: RunningAggregator;
  before(async () => {
    agg = await startTestAggregator();
  });
  after(() => agg.close());

  it('refuses a missing, wrong or malformed token with 401 before the upgrade', async () => {
    assert.equal(await RawClient.upgradeStatus(agg.url, {}), 401);
    assert.equal(await RawClient.upgradeStatus(agg.url, { authorization: 'Bearer nope' }), 401);
    assert.equal(await RawClient.upgradeStatus(agg.url, { authorization: `Bearer ${TOKENS.trader}x` }), 401);
    assert.equal(await RawClient.upgradeStatus(agg.url, { authorization: TOKENS.trader }), 401);
    assert.equal(await RawClient.upgradeStatus(agg.url, { authorization: `Basic ${TOKENS.trader}` }), 401);
    assert.equal(await RawClient.upgradeStatus(agg.url, { authorization: 'Bearer ' }), 401);
    assert.equal(
      await RawClient.upgradeStatus(agg.url, { authorization: `Bearer ${TOKENS.trader} extra` }),
      401,
    );
    assert.equal(
      await RawClient.upgradeStatus(`${agg.url}/elsewhere`, { authorization: `Bearer ${TOKENS.trader}` }),
      404,
    );
    assert.equal(
      metric(await metricsText(agg), 'fleet_aggregator_upgrade_rejects_total{reason="unauthorized"}'),
      7,
    );
  });

  it('validates its options at start, naming the field but never a token', async () => {
    await assert.rejects(startTestAggregator({ tokens: [] }), /at least one token/);
    await assert.rejects(
      startTestAggregator({ tokens: [{ role: 'root' as 'admin', token: 'super-secret-value' }] }),
      (e: Error) => /tokens\.0\.role/.test(e.message) && !e.message.includes('super-secret-value'),
    );
    await assert.rejects(
      startTestAggregator({ tokens: [{ role: 'trader', token: '' }] }),
      /tokens\.0\.token/,
    );
    await assert.rejects(startTestAggregator({ maxFrameBytes: 10 }), /maxFrameBytes/);
    await assert.rejects(
      startTestAggregator({
        tokens: [
          { role: 'trader', token: 'shared-secret-value' },
          { role: 'admin', token: 'shared-secret-value' },
        ],
      }),
      (e: Error) =>
        /same token is configured for two roles \(trader and admin\)/.test(e.message) &&
        !e.message.includes('shared-secret-value'),
    );
  });

  it('greets each valid token with its role', async () => {
    for (const role of ['collector', 'trader', 'admin'] as const) {
      const c = await RawClient.connect(agg.url, role);
      const hello = c.frames[0];
      assert.equal(hello.op, 'hello');
      assert.equal(hello.role, role);
      assert.equal(hello.v, 1);
      assert.ok(hello.maxFrameBytes > 0);
      await c.close();
    }
    const v1 = await RawClient.connect(`${agg.url}/v1`, 'trader');
    assert.equal(v1.frames[0].role, 'trader');
    await v1.close();
  });

  it('serves /metrics and /healthz over plain HTTP; the WebSocket path wants an upgrade', async () => {
    assert.equal((await fetch(`${agg.url.replace('ws', 'http')}/healthz`)).status, 200);
    assert.equal((await fetch(`${agg.url.replace('ws', 'http')}/`)).status, 426);
    assert.equal((await fetch(`${agg.url.replace('ws', 'http')}/other`)).status, 404);
  });
});

describe('aggregator: roles', () => {
  let agg: RunningAggregator;
  before(async () => {
    agg = await startTestAggregator();
  });
  after(() => agg.close());

  const isError = (code: string, id: number) => (f: Frame) =>
    f.op === 'error' && f.code === code && f.ref === id;

  it('collectors publish and read market data, never account data, bans or inspect', async () => {
    const c = await RawClient.connect(agg.url, 'collector');
    let id = c.request({
      op: 'pub',
      topic: 'book',
      src: 'r1',
      records: [bookRecord('BTCUSDT', now())],
      ack: true,
    });
    assert.equal((await c.next((f) => f.op === 'ack' && f.id === id)).accepted, 1);
    id = c.request({ op: 'sub', topics: ['book', 'symbols', 'risk.ban', 'health'] });
    for (const t of ['book', 'symbols', 'risk.ban', 'health'])
      await c.next((f) => f.op === 'snapshot' && f.topic === t && f.id === id);
    for (const t of ['position', 'balance', 'orders.open']) {
      id = c.request({ op: 'sub', topics: [t] });
      await c.next(isError('forbidden', id));
    }
    id = c.request({ op: 'sub', topics: ['book', 'position'] });
    await c.next(isError('forbidden', id));
    id = c.request({
      op: 'pub',
      topic: 'risk.ban',
      src: 'r1',
      records: [
        {
          key: 'ALL',
          ts: now(),
          data: { symbol: 'ALL', active: true, reason: 'x', window: 'manual', pnl: '0', until: 0 },
        },
      ],
    });
    await c.next(isError('forbidden', id));
    id = c.request({ op: 'inspect', topic: 'book' });
    await c.next(isError('forbidden', id));
    id = c.request({ op: 'cursor', name: 'kline.1m', size: 10 });
    assert.equal((await c.next((f) => f.op === 'cursor' && f.id === id)).value, 0);
    await c.roundTrip();
    assert.equal(c.all('snapshot').filter((f) => f.topic === 'position').length, 0);
    await c.close();
  });

  it('traders read everything and use cursors but cannot publish', async () => {
    const t = await RawClient.connect(agg.url, 'trader');
    let id = t.request({ op: 'pub', topic: 'book', src: 't', records: [bookRecord('BTCUSDT', now())] });
    await t.next(isError('forbidden', id));
    id = t.request({
      op: 'pub',
      topic: 'position',
      src: 't',
      records: [positionRecord('BTCUSDT', 'BOTH', now(), '1')],
    });
    await t.next(isError('forbidden', id));
    id = t.request({ op: 'sub', topics: ['position', 'balance', 'orders.open', 'book'] });
    for (const topic of ['position', 'balance', 'orders.open', 'book'])
      await t.next((f) => f.op === 'snapshot' && f.topic === topic && f.id === id);
    id = t.request({ op: 'inspect', topic: 'book', key: 'BTCUSDT' });
    const ins = await t.next((f) => f.op === 'inspect' && f.id === id);
    assert.equal(ins.winner, 'r1');
    assert.ok(ins.sources.r1.records >= 1);
    await t.close();
  });

  it('only admins set bans and the kill switch; everyone sees them', async () => {
    const admin = await RawClient.connect(agg.url, 'admin');
    const trader = await RawClient.connect(agg.url, 'trader');
    trader.send({ op: 'sub', topics: ['risk.ban'] });
    await trader.next((f) => f.op === 'snapshot' && f.topic === 'risk.ban');
    const kill = {
      symbol: 'ALL',
      active: true,
      reason: '24h loss over threshold',
      window: '24h',
      pnl: '-1800.1',
      until: 0,
    };
    const id = admin.request({
      op: 'pub',
      topic: 'risk.ban',
      src: 'risk',
      records: [{ key: 'ALL', ts: now(), data: kill }],
      ack: true,
    });
    assert.equal((await admin.next((f) => f.op === 'ack' && f.id === id)).accepted, 1);
    const upd = await trader.next((f) => f.op === 'upd' && f.topic === 'risk.ban');
    assert.deepEqual(upd.records[0].data, kill);
    // Admins may publish anything and read account data.
    admin.send({
      op: 'pub',
      topic: 'position',
      src: 'adm',
      records: [positionRecord('ETHUSDT', 'LONG', now(), '2')],
    });
    admin.send({ op: 'sub', topics: ['position'] });
    const snap = await admin.next((f) => f.op === 'snapshot' && f.topic === 'position');
    assert.equal(snap.records[0].key, 'ETHUSDT:LONG');
    await admin.close();
    await trader.close();
  });

  it("no one may publish under the aggregator's own health key", async () => {
    const admin = await RawClient.connect(agg.url, 'admin');
    const id = admin.request({
      op: 'pub',
      topic: 'health',
      src: 'fake',
      records: [
        { key: 'aggregator', ts: now(), data: { status: 'down', time: now() } },
        { key: 'reader-1', ts: now(), data: { status: 'ok', time: now() } },
      ],
      ack: true,
    });
    const err = await admin.next((f) => f.op === 'error' && f.ref === id);
    assert.equal(err.code, 'bad_record');
    assert.deepEqual(err.rejected, [0]);
    assert.equal((await admin.next((f) => f.op === 'ack' && f.id === id)).accepted, 1);
    await admin.close();
  });
});

describe('aggregator: malformed input', () => {
  let agg: RunningAggregator;
  let c: RawClient;
  before(async () => {
    agg = await startTestAggregator({ maxFrameBytes: 64 * 1024 });
    c = await RawClient.connect(agg.url, 'collector');
  });
  after(async () => {
    await c.close();
    await agg.close();
  });

  async function expectError(
    frame: Frame | string | Buffer,
    code: string,
    opts: { binary?: boolean } = {},
  ): Promise<Frame> {
    const before = c.frames.length;
    c.send(frame, opts);
    const err = await c.next((f) => f.op === 'error');
    assert.equal(err.code, code, `${String(frame).slice(0, 80)} → ${JSON.stringify(err)}`);
    assert.equal(typeof err.msg, 'string');
    assert.ok(c.frames.length > before);
    await c.roundTrip(); // the connection still works
    return err;
  }

  it('answers every class of malformed frame with an error and keeps the connection', async () => {
    await expectError('not json', 'bad_json');
    await expectError('', 'bad_json');
    await expectError('{"op":"ping"', 'bad_json');
    await expectError('{"op":"ping",}', 'bad_json');
    await expectError('[1,2]', 'bad_frame');
    await expectError('42', 'bad_frame');
    await expectError('null', 'bad_frame');
    await expectError('"pub"', 'bad_frame');
    await expectError('true', 'bad_frame');
    await expectError('{}', 'bad_frame');
    await expectError({ op: 5 }, 'bad_frame');
    await expectError({ op: null }, 'bad_frame');
    await expectError({ op: 'PUB' }, 'unknown_op');
    await expectError({ op: '__proto__' }, 'unknown_op');
    await expectError({ op: 'toString' }, 'unknown_op');
    await expectError({ op: 'constructor' }, 'unknown_op');
    await expectError({ op: 'snapshot', topic: 'book', seq: 0, records: [] }, 'unknown_op');
    await expectError(Buffer.from('{"op":"ping"}'), 'bad_frame', { binary: true });
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const e = await expectError(deep.slice(0, 60_000), 'bad_json');
    assert.equal(e.ref, null);
    await expectError('{"op":"ping","id":1e400}', 'bad_frame');
    await expectError({ op: 'ping', id: { x: 1 } }, 'bad_frame');
    await expectError({ op: 'ping', id: 'x'.repeat(65) }, 'bad_frame');
  });

  it('validates pub frames: envelope, topic, records', async () => {
    await expectError({ op: 'pub', topic: 'book', src: 'r' }, 'bad_frame');
    await expectError({ op: 'pub', topic: 'book', src: 'r', records: {} }, 'bad_frame');
    await expectError({ op: 'pub', topic: 'book', src: 'r', records: [] }, 'bad_frame');
    await expectError({ op: 'pub', topic: 'book', src: 'bad src', records: [{}] }, 'bad_frame');
    await expectError({ op: 'pub', topic: 'book', records: [{}] }, 'bad_frame');
    await expectError({ op: 'pub', topic: 7, src: 'r', records: [{}] }, 'bad_frame');
    await expectError(
      { op: 'pub', topic: 'book', src: 'r', records: Array.from({ length: 5001 }, () => 0) },
      'bad_frame',
    );
    await expectError(
      { op: 'pub', topic: 'books', src: 'r', records: [bookRecord('BTCUSDT', 1)] },
      'unknown_topic',
    );
    await expectError(
      { op: 'pub', topic: 'kline.2m', src: 'r', records: [bookRecord('BTCUSDT', 1)] },
      'unknown_topic',
    );
    await expectError(
      { op: 'pub', topic: '__proto__', src: 'r', records: [bookRecord('BTCUSDT', 1)] },
      'unknown_topic',
    );
  });

  it('refuses bad records one by one and applies the good ones in the same frame', async () => {
    const t = now();
    const good = bookRecord('GOODUSDT', t);
    const bad = [
      { ...good, ts: -1 },
      { ...good, ts: 1.5 },
      { ...good, ts: '1' },
      { ...good, ts: t + 3_600_000 }, // far future: would block the key
      { ...good, data: { ...good.data, bidPrice: 100.5 } },
      { ...good, key: 'ETHUSDT' }, // key ≠ data.symbol
      { key: 'GOODUSDT', ts: t },
      null,
      'record',
      { ...good, data: JSON.parse(`{"__proto__":{"polluted":1},${JSON.stringify(good.data).slice(1)}`) },
    ];
    const id = c.request({ op: 'pub', topic: 'book', src: 'r', records: [...bad, good], ack: true });
    const err = await c.next((f) => f.op === 'error' && f.ref === id);
    assert.equal(err.code, 'bad_record');
    assert.ok(err.rejected.length >= bad.length - 1, JSON.stringify(err));
    assert.ok(!err.rejected.includes(bad.length), 'the good record is not rejected');
    const ack = await c.next((f) => f.op === 'ack' && f.id === id);
    assert.ok(ack.accepted >= 1);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
    const kline = klineRecord('BTCUSDT', t, Math.floor(t / 60_000) * 60_000);
    kline.data.bars.reverse();
    const id2 = c.request({ op: 'pub', topic: 'kline.1m', src: 'r', records: [kline] });
    assert.equal((await c.next((f) => f.op === 'error' && f.ref === id2)).code, 'bad_record');
  });

  it('validates sub, unsub, cursor and inspect frames', async () => {
    await expectError({ op: 'sub' }, 'bad_frame');
    await expectError({ op: 'sub', topics: 'book' }, 'bad_frame');
    await expectError({ op: 'sub', topics: [] }, 'bad_frame');
    await expectError({ op: 'sub', topics: ['book'], symbols: [] }, 'bad_frame');
    await expectError({ op: 'sub', topics: ['book'], symbols: ['BAD SYMBOL'] }, 'bad_frame');
    await expectError({ op: 'sub', topics: ['nope'] }, 'unknown_topic');
    await expectError({ op: 'unsub', topics: ['nope'] }, 'unknown_topic');
    await expectError({ op: 'cursor', name: 'c', size: 0 }, 'bad_frame');
    await expectError({ op: 'cursor', name: 'c', size: -1 }, 'bad_frame');
    await expectError({ op: 'cursor', name: 'c', size: 1.5 }, 'bad_frame');
    await expectError({ op: 'cursor', name: 'c', size: 1e9 }, 'bad_frame');
    await expectError({ op: 'cursor', name: 'bad name', size: 3 }, 'bad_frame');
    await expectError({ op: 'cursor', size: 3 }, 'bad_frame');
  });

  it('refuses oversize frames with an error; far oversize ones close only that connection', async () => {
    const big = JSON.stringify({ op: 'ping', pad: 'x'.repeat(70 * 1024) });
    await expectError(big, 'too_large');
    const other = await RawClient.connect(agg.url, 'collector');
    other.send(JSON.stringify({ op: 'ping', pad: 'x'.repeat(300 * 1024) }));
    await waitUntil(() => other.closeCode !== undefined, 'the close');
    assert.equal(other.closeCode, 1009);
    await c.roundTrip();
  });

  it('closes a connection that sends invalid UTF-8 as text (1007), and no other', async () => {
    const other = await RawClient.connect(agg.url, 'collector');
    other.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    await waitUntil(() => other.closeCode !== undefined, 'the close');
    assert.equal(other.closeCode, 1007);
    await c.roundTrip();
  });

  it('counts every refusal by reason', async () => {
    const text = await metricsText(agg);
    for (const reason of [
      'bad_json',
      'bad_frame',
      'unknown_op',
      'unknown_topic',
      'bad_record',
      'too_large',
      'protocol',
    ])
      assert.ok(metric(text, `fleet_aggregator_rejects_total{reason="${reason}"}`) >= 1, reason);
  });
});

describe('aggregator: subscriptions', () => {
  let agg: RunningAggregator;
  let pub: RawClient;
  before(async () => {
    agg = await startTestAggregator({ healthIntervalMs: 60_000 });
    pub = await RawClient.connect(agg.url, 'admin');
  });
  after(async () => {
    await pub.close();
    await agg.close();
  });

  async function publish(topic: string, records: unknown[]): Promise<void> {
    const id = pub.request({ op: 'pub', topic, src: 'p', records, ack: true });
    await pub.next((f) => f.op === 'ack' && f.id === id);
  }

  it('sends a snapshot, then updates with seq rising by one per frame', async () => {
    const t0 = now();
    await publish('book', [bookRecord('AAAUSDT', t0), bookRecord('BBBUSDT', t0)]);
    const s = await RawClient.connect(agg.url, 'trader');
    s.send({ op: 'sub', topics: ['book'] });
    const snap = await s.next((f) => f.op === 'snapshot');
    assert.deepEqual(snap.records.map((r: Frame) => r.key).sort(), ['AAAUSDT', 'BBBUSDT']);
    assert.deepEqual(Object.keys(snap.records[0]), ['key', 'ts', 'data']);
    for (let i = 1; i <= 5; i++) await publish('book', [bookRecord('AAAUSDT', t0 + i)]);
    for (let i = 1; i <= 5; i++) {
      const u = await s.next((f) => f.op === 'upd');
      assert.equal(u.seq, snap.seq + i);
      assert.equal(u.records[0].ts, t0 + i);
    }
    await s.close();
  });

  it('batches what one event-loop turn accepted into one frame per topic', async () => {
    const s = await RawClient.connect(agg.url, 'trader');
    s.send({ op: 'sub', topics: ['book', 'kline.1m'] });
    await s.next((f) => f.op === 'snapshot' && f.topic === 'book');
    await s.next((f) => f.op === 'snapshot' && f.topic === 'kline.1m');
    const t = now() + 100;
    await publish('book', [bookRecord('AAAUSDT', t), bookRecord('BBBUSDT', t), bookRecord('CCCUSDT', t)]);
    const one = await s.next((f) => f.op === 'upd');
    assert.equal(one.records.length, 3);
    sendTogether(pub, [
      { op: 'pub', topic: 'book', src: 'p', records: [bookRecord('AAAUSDT', t + 1)] },
      { op: 'pub', topic: 'book', src: 'q', records: [bookRecord('BBBUSDT', t + 1)] },
      {
        op: 'pub',
        topic: 'kline.1m',
        src: 'k',
        records: [klineRecord('AAAUSDT', t + 1, Math.floor(t / 60_000) * 60_000)],
      },
      { op: 'pub', topic: 'book', src: 'p', records: [bookRecord('AAAUSDT', t + 2)] },
    ]);
    const u = await s.next((f) => f.op === 'upd' && f.topic === 'book');
    assert.deepEqual(
      u.records.map((r: Frame) => `${r.key}@${r.ts - t}`),
      ['AAAUSDT@1', 'BBBUSDT@1', 'AAAUSDT@2'],
      'every accepted record, in order, in one frame',
    );
    assert.equal(u.seq, one.seq + 1);
    const k = await s.next((f) => f.op === 'upd' && f.topic === 'kline.1m');
    assert.equal(k.records.length, 1);
    await s.close();
  });

  it('never forwards a record older than the one held', async () => {
    const s = await RawClient.connect(agg.url, 'trader');
    s.send({ op: 'sub', topics: ['book'], symbols: ['OLDUSDT'] });
    await s.next((f) => f.op === 'snapshot');
    const t = now();
    await publish('book', [bookRecord('OLDUSDT', t, '2.0')]);
    await publish('book', [bookRecord('OLDUSDT', t - 10, '1.0')]);
    await publish('book', [bookRecord('OLDUSDT', t, '3.0')]);
    const a = await s.next((f) => f.op === 'upd');
    const b = await s.next((f) => f.op === 'upd');
    assert.deepEqual([a.records[0].data.bidPrice, b.records[0].data.bidPrice], ['2.0', '3.0']);
    assert.equal(b.seq, a.seq + 1);
    await s.close();
  });

  it('filters by symbol without seq gaps: positions by symbol, ALL bans always', async () => {
    const s = await RawClient.connect(agg.url, 'trader');
    const t = now();
    await publish('position', [
      positionRecord('BTCUSDT', 'LONG', t, '1'),
      positionRecord('ETHUSDT', 'SHORT', t, '-2'),
    ]);
    s.send({ op: 'sub', topics: ['position', 'risk.ban', 'balance'], symbols: ['BTCUSDT'] });
    const snap = await s.next((f) => f.op === 'snapshot' && f.topic === 'position');
    assert.deepEqual(
      snap.records.map((r: Frame) => r.key),
      ['BTCUSDT:LONG'],
    );
    assert.equal(snap.seq, 0);
    await s.next((f) => f.op === 'snapshot' && f.topic === 'balance');
    await s.next((f) => f.op === 'snapshot' && f.topic === 'risk.ban');
    for (let i = 1; i <= 3; i++) {
      await publish('position', [positionRecord('ETHUSDT', 'SHORT', t + i, '-3')]);
      await publish('position', [positionRecord('BTCUSDT', 'LONG', t + i, String(i))]);
    }
    for (let i = 1; i <= 3; i++) {
      const u = await s.next((f) => f.op === 'upd' && f.topic === 'position');
      assert.equal(u.seq, i, 'a filtered subscription counts its own frames');
      assert.deepEqual(
        u.records.map((r: Frame) => r.key),
        ['BTCUSDT:LONG'],
      );
    }
    const ban = (sym: string) => ({
      key: sym,
      ts: now(),
      data: { symbol: sym, active: true, reason: 'r', window: '4h', pnl: '-1', until: 0 },
    });
    await publish('risk.ban', [ban('ETHUSDT'), ban('ALL')]);
    const b = await s.next((f) => f.op === 'upd' && f.topic === 'risk.ban');
    assert.deepEqual(
      b.records.map((r: Frame) => r.key),
      ['ALL'],
    );
    await publish('balance', [
      { key: 'USDT', ts: now(), data: { asset: 'USDT', walletBalance: '10', updateTime: now() } },
    ]);
    assert.equal((await s.next((f) => f.op === 'upd' && f.topic === 'balance')).records[0].key, 'USDT');
    await s.close();
  });

  it('a subscription joining mid-turn gets each record once: in the snapshot or in the next update', async () => {
    const s = await RawClient.connect(agg.url, 'admin');
    const t = now();
    // pub then sub in one turn: the record is in the snapshot, and not sent again.
    sendTogether(s, [
      {
        op: 'pub',
        topic: 'volume',
        src: 'v',
        records: [
          {
            key: 'AUSDT',
            ts: t,
            data: { symbol: 'AUSDT', quoteVolume: '1', volumeSurge: '1', fundingRate: '0' },
          },
        ],
      },
      { op: 'sub', topics: ['volume'] },
    ]);
    const snap = await s.next((f) => f.op === 'snapshot');
    assert.deepEqual(
      snap.records.map((r: Frame) => r.key),
      ['AUSDT'],
    );
    await publish('volume', [
      {
        key: 'BUSDT',
        ts: t,
        data: { symbol: 'BUSDT', quoteVolume: '2', volumeSurge: '1', fundingRate: '0' },
      },
    ]);
    const u = await s.next((f) => f.op === 'upd');
    assert.equal(u.seq, snap.seq + 1);
    assert.deepEqual(
      u.records.map((r: Frame) => r.key),
      ['BUSDT'],
    );
    // sub (again) then pub in one turn: the snapshot lacks it, the update brings it.
    sendTogether(s, [
      { op: 'sub', topics: ['volume'] },
      {
        op: 'pub',
        topic: 'volume',
        src: 'v',
        records: [
          {
            key: 'CUSDT',
            ts: t,
            data: { symbol: 'CUSDT', quoteVolume: '3', volumeSurge: '1', fundingRate: '0' },
          },
        ],
      },
    ]);
    const snap2 = await s.next((f) => f.op === 'snapshot');
    assert.deepEqual(snap2.records.map((r: Frame) => r.key).sort(), ['AUSDT', 'BUSDT']);
    const u2 = await s.next((f) => f.op === 'upd');
    assert.equal(u2.seq, snap2.seq + 1);
    assert.deepEqual(
      u2.records.map((r: Frame) => r.key),
      ['CUSDT'],
    );
    await s.close();
  });

  it('pub, sub, pub in one turn: the first record is in the snapshot, the second in the next upd', async () => {
    const watcher = await RawClient.connect(agg.url, 'trader');
    watcher.send({ op: 'sub', topics: ['kline.5m'] });
    const w0 = await watcher.next((f) => f.op === 'snapshot');
    const s = await RawClient.connect(agg.url, 'admin');
    const t = now();
    const open = Math.floor(t / 300_000) * 300_000;
    const pubOf = (sym: string) => ({
      op: 'pub',
      topic: 'kline.5m',
      src: 'k',
      records: [klineRecord(sym, t, open)],
    });
    sendTogether(s, [pubOf('AUSDT'), { op: 'sub', topics: ['kline.5m'] }, pubOf('BUSDT')]);
    const snap = await s.next((f) => f.op === 'snapshot');
    assert.deepEqual(
      snap.records.map((r: Frame) => r.key),
      ['AUSDT'],
    );
    const u = await s.next((f) => f.op === 'upd');
    assert.equal(u.seq, snap.seq + 1);
    assert.deepEqual(
      u.records.map((r: Frame) => r.key),
      ['BUSDT'],
      'the record accepted after the sub arrives',
    );
    // A subscriber from before saw both, with no gap.
    const a = await watcher.next((f) => f.op === 'upd');
    const b = await watcher.next((f) => f.op === 'upd');
    assert.deepEqual([a.seq, b.seq], [w0.seq + 1, w0.seq + 2]);
    assert.deepEqual(
      [...a.records, ...b.records].map((r: Frame) => r.key),
      ['AUSDT', 'BUSDT'],
    );
    await s.close();
    await watcher.close();
  });

  it('unsub stops updates', async () => {
    const s = await RawClient.connect(agg.url, 'trader');
    s.send({ op: 'sub', topics: ['symbols'] });
    await s.next((f) => f.op === 'snapshot');
    s.send({ op: 'unsub', topics: ['symbols'] });
    await s.roundTrip();
    await publish('symbols', [
      { key: 'XUSDT', ts: now(), data: { symbol: 'XUSDT', status: 'TRADING', filters: [] } },
    ]);
    await s.roundTrip();
    assert.equal(s.all('upd').length, 0);
    await s.close();
  });
});

describe('aggregator: slow consumers', () => {
  it('disconnects a subscriber whose send buffer passes the cap; others keep receiving', async (t) => {
    const agg = await startTestAggregator({ maxBufferedBytes: 256 * 1024, maxFrameBytes: 1024 * 1024 });
    t.after(() => agg.close());
    const pub = await RawClient.connect(agg.url, 'collector');
    const slow = await RawClient.connect(agg.url, 'trader');
    const good = await RawClient.connect(agg.url, 'trader');
    t.after(() => {
      for (const c of [pub, slow, good]) c.ws.terminate();
    });
    for (const c of [slow, good]) {
      c.send({ op: 'sub', topics: ['symbols'] });
      await c.next((f) => f.op === 'snapshot');
    }
    socketOf(slow).pause(); // stops reading: the kernel buffers fill, then the aggregator's
    const pad = 'x'.repeat(200 * 1024);
    let i = 0;
    let received = 0;
    good.ws.on('message', () => received++);
    while (agg.metrics.slowConsumers === 0 && i < 2000) {
      const id = pub.request({
        op: 'pub',
        topic: 'symbols',
        src: 'big',
        records: [
          {
            key: `S${i % 50}USDT`,
            ts: now(),
            data: { symbol: `S${i % 50}USDT`, status: 'TRADING', filters: [], pad },
          },
        ],
        ack: true,
      });
      await pub.next((f) => f.op === 'ack' && f.id === id);
      i++;
    }
    assert.equal(agg.metrics.slowConsumers, 1, `after ${i} frames`);
    await waitUntil(() => received >= i, 'the healthy subscriber got every update', 10_000);
    socketOf(slow).resume();
    await waitUntil(() => slow.closeCode !== undefined, 'the slow connection closed', 10_000);
    await waitUntil(() => agg.connections().trader === 1, 'only the slow one gone');
    assert.equal(good.closeCode, undefined);
    assert.match(await metricsText(agg), /fleet_aggregator_slow_consumers_total 1/);
    await pub.close();
    await good.close();
    await agg.close();
  });
});

describe('aggregator: repeated sub frames from a consumer that does not read', () => {
  /** An aggregator whose `symbols` topic holds one record of ~200 kB; a trader that stops reading. */
  async function setup(t: { after: (f: () => unknown) => void }) {
    const agg = await startTestAggregator({ maxBufferedBytes: 256 * 1024, healthIntervalMs: 60_000 });
    t.after(() => agg.close());
    const pub = await RawClient.connect(agg.url, 'collector');
    const slow = await RawClient.connect(agg.url, 'trader');
    t.after(() => {
      for (const c of [pub, slow]) c.ws.terminate();
    });
    const id = pub.request({
      op: 'pub',
      topic: 'symbols',
      src: 'big',
      records: [
        {
          key: 'BIGUSDT',
          ts: now(),
          data: { symbol: 'BIGUSDT', status: 'TRADING', filters: [], pad: 'x'.repeat(200 * 1024) },
        },
      ],
      ack: true,
    });
    await pub.next((f) => f.op === 'ack' && f.id === id);
    socketOf(slow).pause();
    return { agg, slow };
  }

  it('cannot raise the slow-consumer cap: the connection is dropped, the bytes held stay bounded', async (t) => {
    const { agg, slow } = await setup(t);
    const bytesBefore = agg.metrics.bytesOut;
    const subsBefore = agg.metrics.framesIn.get('sub');
    const n = 400; // 400 × 200 kB = 80 MB if every snapshot were queued
    for (let i = 0; i < n; i++) slow.send({ op: 'sub', topics: ['symbols'] });
    await waitUntil(
      () => agg.metrics.slowConsumers > 0 || agg.metrics.framesIn.get('sub') - subsBefore >= n,
      'the subs to be read',
      20_000,
    );
    assert.equal(agg.metrics.slowConsumers, 1, 'dropped as a slow consumer');
    const queued = agg.metrics.bytesOut - bytesBefore;
    assert.ok(queued < 24 * 1024 * 1024, `${queued} bytes queued for a consumer that does not read`);
  });

  it('a multi-topic sub cut short by the drop leaves no subscription behind', async (t) => {
    const { agg, slow } = await setup(t);
    for (let i = 0; i < 400; i++) slow.send({ op: 'sub', topics: ['symbols', 'book', 'volume', 'health'] });
    await waitUntil(() => agg.metrics.slowConsumers > 0, 'the drop', 20_000);
    const text = await metricsText(agg);
    assert.doesNotMatch(text, /^fleet_aggregator_subscriptions\{/m, 'no subscription of a closed connection');
  });
});

describe('aggregator: records and sources that could break a topic', () => {
  let clock = Date.now();
  let agg: RunningAggregator;
  before(async () => {
    agg = await startTestAggregator({ healthIntervalMs: 60_000, maxSourcesPerTopic: 4, now: () => clock });
  });
  after(() => agg.close());

  it('refuses a deeply nested record at pub time (bad_record); the topic keeps serving snapshots', async () => {
    const c = await RawClient.connect(agg.url, 'trader');
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const ts = clock;
    c.send(
      `{"op":"pub","topic":"health","src":"t1","id":1,"records":[{"key":"t1","ts":${ts},"data":{"status":"ok","time":${ts},"x":${deep}}}]}`,
    );
    const e = await c.next((f) => f.op === 'error' && f.ref === 1);
    assert.equal(e.code, 'bad_record');
    assert.match(e.msg, /nested deeper/);
    // The book fast path too (extra fields are serialized by JSON.stringify).
    const a = await RawClient.connect(agg.url, 'admin');
    a.send(
      `{"op":"pub","topic":"book","src":"b","id":2,"records":[{"key":"DEEPUSDT","ts":${ts},"data":{"symbol":"DEEPUSDT","bidPrice":"1","bidQty":"1","askPrice":"1","askQty":"1","time":${ts},"x":${deep}}}]}`,
    );
    assert.equal((await a.next((f) => f.op === 'error' && f.ref === 2)).code, 'bad_record');
    // Moderate nesting is fine.
    const ok = c.request({
      op: 'pub',
      topic: 'health',
      src: 't1',
      ack: true,
      records: [{ key: 't1', ts, data: { status: 'ok', time: ts, x: { a: { b: [[{ c: 1 }]] } } } }],
    });
    assert.equal((await c.next((f) => f.op === 'ack' && f.id === ok)).accepted, 1);
    for (const topic of ['health', 'book']) {
      const id = c.request({ op: 'sub', topics: [topic] });
      const snap = await c.next(
        (f) => (f.op === 'snapshot' || f.op === 'error') && (f.id === id || f.ref === id),
      );
      assert.equal(snap.op, 'snapshot', JSON.stringify(snap).slice(0, 200));
    }
    await c.close();
    await a.close();
  });

  it('lets a non-admin publish health only under its own src', async () => {
    const c = await RawClient.connect(agg.url, 'collector');
    const tr = await RawClient.connect(agg.url, 'trader');
    const ad = await RawClient.connect(agg.url, 'admin');
    const health = (key: string) => ({ key, ts: clock, data: { status: 'down', time: clock } });
    for (const x of [c, tr]) {
      const id = x.request({
        op: 'pub',
        topic: 'health',
        src: 'me',
        records: [health('gateway')],
        ack: true,
      });
      const err = await x.next((f) => f.op === 'error' && f.ref === id);
      assert.equal(err.code, 'bad_record');
      assert.match(err.msg, /own src/);
      assert.equal((await x.next((f) => f.op === 'ack' && f.id === id)).accepted, 0);
      const mine = x.request({ op: 'pub', topic: 'health', src: 'me', records: [health('me')], ack: true });
      assert.equal((await x.next((f) => f.op === 'ack' && f.id === mine)).accepted, 1);
    }
    const id = ad.request({
      op: 'pub',
      topic: 'health',
      src: 'ops',
      records: [health('gateway')],
      ack: true,
    });
    assert.equal((await ad.next((f) => f.op === 'ack' && f.id === id)).accepted, 1, 'an admin may');
    const iid = tr.request({ op: 'inspect', topic: 'health', key: 'gateway' });
    assert.equal((await tr.next((f) => f.op === 'inspect' && f.id === iid)).winner, 'ops');
    for (const x of [c, tr, ad]) await x.close();
  });

  it('makes a source only for a valid record, and evicts idle ones when the table is full', async () => {
    const c = await RawClient.connect(agg.url, 'collector');
    // Junk under 20 made-up names: no source entries.
    for (let i = 0; i < 20; i++)
      c.send({ op: 'pub', topic: 'volume', src: `junk-${i}`, records: [{ key: 'X', ts: clock, data: {} }] });
    await c.roundTrip();
    const pubVolume = async (src: string) => {
      const id = c.request({
        op: 'pub',
        topic: 'volume',
        src,
        ack: true,
        records: [
          {
            key: 'AUSDT',
            ts: clock,
            data: { symbol: 'AUSDT', quoteVolume: '1', volumeSurge: '1', fundingRate: '0' },
          },
        ],
      });
      return c.next((f) => f.op === 'ack' && f.id === id);
    };
    assert.equal((await pubVolume('real')).accepted, 1, 'the real reader is not locked out');
    let text = await metricsText(agg);
    assert.doesNotMatch(text, /junk-/);
    for (const src of ['r2', 'r3', 'r4']) assert.equal((await pubVolume(src)).accepted, 1);
    assert.equal((await pubVolume('r5')).rejected, 1, 'four sources: the table is full');
    clock += 5 * 60_000;
    assert.equal((await pubVolume('real')).accepted, 1, 'real stays active');
    clock += 6 * 60_000; // r2-r4 idle for 11 min, real for 6
    assert.equal((await pubVolume('r5')).accepted, 1, 'an idle source gave its place up');
    text = await metricsText(agg);
    assert.match(text, /source="real"/);
    assert.match(text, /source="r5"/);
    assert.equal((text.match(/fleet_aggregator_source_records_total\{topic="volume"/g) ?? []).length, 4);
    await c.close();
  });
});

describe('aggregator: cursors over the wire', () => {
  it('splits a universe between concurrent readers: each index once per lap', async (t) => {
    const agg = await startTestAggregator();
    t.after(() => agg.close());
    const clients = await Promise.all(
      Array.from({ length: 8 }, (_, i) => RawClient.connect(agg.url, i % 2 ? 'collector' : 'trader')),
    );
    const take = async (c: RawClient) => {
      const id = c.request({ op: 'cursor', name: 'kline.1m', size: 200 });
      return c.next((f) => f.op === 'cursor' && f.id === id);
    };
    // 8 readers × 25 concurrent requests each, all in flight at once.
    const replies = (
      await Promise.all(clients.map((c) => Promise.all(Array.from({ length: 25 }, () => take(c)))))
    ).flat();
    assert.deepEqual(
      replies.map((r) => r.value).sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.ok(replies.every((r) => r.lap === 0 && r.name === 'kline.1m'));
    const next = await take(clients[3]);
    assert.deepEqual([next.value, next.lap], [0, 1]);
    // The universe shrinks: values stay in range.
    const shrunk = await Promise.all(
      clients.map(async (c) => {
        const id = c.request({ op: 'cursor', name: 'kline.1m', size: 5 });
        return (await c.next((f) => f.op === 'cursor' && f.id === id)).value;
      }),
    );
    assert.ok(shrunk.every((v) => v >= 0 && v < 5));
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe('aggregator: metrics, health and inspect', () => {
  it('exposes connections, frames, rejects, per-source ages and rates, and loop lag', async (t) => {
    const agg = await startTestAggregator({ healthIntervalMs: 50 });
    t.after(() => agg.close());
    const pub = await RawClient.connect(agg.url, 'collector');
    const sub = await RawClient.connect(agg.url, 'trader');
    t.after(() => {
      for (const c of [pub, sub]) c.ws.terminate();
    });
    sub.send({ op: 'sub', topics: ['health', 'book'] });
    await sub.next((f) => f.op === 'snapshot' && f.topic === 'book');
    pub.send({ op: 'pub', topic: 'book', src: 'book-reader-1', records: [bookRecord('BTCUSDT', now())] });
    pub.send('garbage');
    await pub.next((f) => f.op === 'error');
    const h = await sub.next(
      (f) => f.op === 'upd' && f.topic === 'health' && f.records[0].data.sources.length > 0,
    );
    const health = h.records[0];
    assert.equal(health.key, 'aggregator');
    assert.equal(health.data.status, 'ok');
    assert.equal(health.data.connections.trader, 1);
    assert.ok(health.data.sources.some((s: Frame) => s.topic === 'book' && s.src === 'book-reader-1'));
    const bookTopic = health.data.topics.find((x: Frame) => x.topic === 'book');
    assert.ok(bookTopic, 'per-topic entries in the health record');
    assert.ok(bookTopic.ageMs >= 0 && typeof bookTopic.ratePerS === 'number' && bookTopic.keys === 1);
    const text = await metricsText(agg);
    assert.equal(metric(text, 'fleet_aggregator_connections{role="collector"}'), 1);
    assert.equal(metric(text, 'fleet_aggregator_connections{role="trader"}'), 1);
    assert.equal(metric(text, 'fleet_aggregator_connections{role="admin"}'), 0);
    assert.ok(metric(text, 'fleet_aggregator_frames_in_total{op="pub"}') >= 1);
    assert.ok(metric(text, 'fleet_aggregator_frames_out_total{op="upd"}') >= 1);
    assert.equal(metric(text, 'fleet_aggregator_rejects_total{reason="bad_json"}'), 1);
    assert.equal(metric(text, 'fleet_aggregator_records_accepted_total{topic="book"}'), 1);
    assert.ok(
      metric(text, 'fleet_aggregator_source_last_update_age_seconds{topic="book",source="book-reader-1"}') >=
        0,
    );
    assert.ok(
      metric(text, 'fleet_aggregator_source_data_age_seconds{topic="book",source="book-reader-1"}') >= 0,
    );
    assert.ok(metric(text, 'fleet_aggregator_source_rate{topic="book",source="book-reader-1"}') >= 0);
    assert.equal(
      metric(text, 'fleet_aggregator_source_records_total{topic="book",source="book-reader-1"}'),
      1,
    );
    assert.equal(metric(text, 'fleet_aggregator_subscriptions{topic="book"}'), 1);
    assert.ok(metric(text, 'fleet_aggregator_event_loop_lag_seconds{stat="p99"}') >= 0);
    assert.equal(metric(text, 'fleet_aggregator_topic_keys{topic="book"}'), 1);
    assert.ok(metric(text, 'fleet_aggregator_topic_rate{topic="book"}') >= 0, 'a per-topic rate');
    assert.doesNotMatch(text, new RegExp(Object.values(TOKENS).join('|')), 'no token in metrics');
  });
});

describe('aggregator: shutdown', () => {
  it('sends what was accepted, closes every connection with 1001, refuses new ones', async (t) => {
    const agg = await startTestAggregator();
    t.after(() => agg.close());
    const pub = await RawClient.connect(agg.url, 'collector');
    const sub = await RawClient.connect(agg.url, 'trader');
    t.after(() => {
      for (const c of [pub, sub]) c.ws.terminate();
    });
    sub.send({ op: 'sub', topics: ['book'] });
    await sub.next((f) => f.op === 'snapshot');
    pub.send({ op: 'pub', topic: 'book', src: 'r', records: [bookRecord('BTCUSDT', now())] });
    await pub.roundTrip();
    const closing = agg.close();
    await closing;
    await waitUntil(() => sub.closeCode !== undefined && pub.closeCode !== undefined, 'the closes');
    assert.equal(sub.closeCode, 1001);
    assert.equal(sub.all('upd').length, 1, 'the pending update went out before the close');
    assert.equal(await RawClient.upgradeStatus(agg.url, { authorization: `Bearer ${TOKENS.trader}` }), 0);
  });
});
