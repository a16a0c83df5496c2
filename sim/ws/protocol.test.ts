// Routes, the live subscribe protocol, and the connection rules.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Msg, type Sim, startSim } from './test-support.ts';

const ev = (type: string) => (m: Msg) => m?.e === type;
const wrapped = (stream: string) => (m: Msg) => m?.stream === stream;

describe('routes and forms', () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim();
  });
  after(() => sim.stop());

  it('raw /public/ws/<s1>/<s2> sends bare payloads of each stream', async () => {
    const c = await sim.connect('/public/ws/btcusdt@bookTicker/ethusdt@bookTicker');
    sim.market.tick('BTCUSDT');
    sim.market.tick('ETHUSDT');
    const a = await c.next(ev('bookTicker'));
    const b = await c.next(ev('bookTicker'));
    assert.deepEqual([a.s, b.s], ['BTCUSDT', 'ETHUSDT']);
    c.close();
  });

  it('combined /public/stream?streams= wraps {"stream","data"}', async () => {
    const c = await sim.connect('/public/stream?streams=btcusdt@bookTicker/ethusdt@bookTicker');
    sim.market.tick('ETHUSDT');
    const m = await c.next();
    assert.deepEqual(Object.keys(m), ['stream', 'data']);
    assert.equal(m.stream, 'ethusdt@bookTicker');
    assert.equal(m.data.e, 'bookTicker');
    assert.equal(m.data.s, 'ETHUSDT');
    c.close();
  });

  it('/market/ws and /market/stream carry market streams', async () => {
    const raw = await sim.connect('/market/ws/btcusdt@aggTrade');
    const comb = await sim.connect('/market/stream?streams=btcusdt@aggTrade');
    sim.market.tick('BTCUSDT', { trades: 1 });
    assert.equal((await raw.next(ev('aggTrade'))).s, 'BTCUSDT');
    const m = await comb.next(wrapped('btcusdt@aggTrade'));
    assert.equal(m.data.e, 'aggTrade');
    raw.close();
    comb.close();
  });

  it('legacy unrouted /ws and /stream deliver public streams only', async () => {
    const raw = await sim.connect('/ws/btcusdt@aggTrade/btcusdt@bookTicker');
    const comb = await sim.connect('/stream?streams=btcusdt@markPrice@1s/btcusdt@bookTicker');
    sim.market.tick('BTCUSDT', { trades: 2 });
    sim.clock.advance(1000);
    const second = sim.market.tick('BTCUSDT', { trades: 2 });
    // The second tick's bookTicker arrives; no aggTrade (or mark price) came before it.
    const r = await raw.take((m) => m.e === 'bookTicker' && m.T === second.time);
    assert.ok(
      r.before.every((m) => m.e === 'bookTicker'),
      JSON.stringify(r.before),
    );
    const s = await comb.take((m) => m.stream === 'btcusdt@bookTicker' && m.data.T === second.time);
    assert.ok(
      s.before.every((m) => m.stream === 'btcusdt@bookTicker'),
      JSON.stringify(s.before),
    );
    raw.close();
    comb.close();
  });

  it('a stream on the wrong route is acknowledged and listed, and delivers nothing', async () => {
    const pub = await sim.connect('/public/ws');
    const mkt = await sim.connect('/market/ws');
    assert.deepEqual(
      await pub.request({ method: 'SUBSCRIBE', params: ['btcusdt@aggTrade', 'btcusdt@bookTicker'], id: 1 }),
      {
        result: null,
        id: 1,
      },
    );
    assert.deepEqual(
      await mkt.request({ method: 'SUBSCRIBE', params: ['btcusdt@bookTicker', 'btcusdt@aggTrade'], id: 2 }),
      {
        result: null,
        id: 2,
      },
    );
    assert.deepEqual(await pub.request({ method: 'LIST_SUBSCRIPTIONS', id: 3 }), {
      result: ['btcusdt@aggTrade', 'btcusdt@bookTicker'],
      id: 3,
    });
    sim.market.tick('BTCUSDT', { trades: 1 });
    sim.clock.advance(1);
    const second = sim.market.tick('BTCUSDT', { trades: 1 });
    const p = await pub.take((m) => m.e === 'bookTicker' && m.T === second.time);
    assert.ok(
      p.before.every((m) => m.e === 'bookTicker'),
      'no aggTrade on /public',
    );
    const last = second.trades[0].id;
    const q = await mkt.take((m) => m.e === 'aggTrade' && m.a === last);
    assert.ok(
      q.before.every((m) => m.e === 'aggTrade'),
      'no bookTicker on /market',
    );
    pub.close();
    mkt.close();
  });

  it('unknown symbols, unknown stream types and upper-case names are acknowledged and silent', async () => {
    const c = await sim.connect('/market/ws');
    const r = await c.request({
      method: 'SUBSCRIBE',
      params: [
        'xyzusdt@aggTrade',
        'btcusdt@noSuchStream',
        'BTCUSDT@aggTrade',
        'btcusdt@kline_7m',
        'ethusdt@aggTrade',
      ],
      id: 1,
    });
    assert.deepEqual(r, { result: null, id: 1 });
    sim.market.tick('BTCUSDT', { trades: 1 });
    const { trades } = sim.market.tick('ETHUSDT', { trades: 1 });
    const t = await c.take((m) => m.e === 'aggTrade');
    assert.equal(t.msg.a, trades[0].id);
    assert.deepEqual(t.before, []);
    c.close();
  });

  it('/private/ws/<key>, /private/ws?listenKey= and /private/stream?listenKey= connect', async () => {
    const k = sim.listenKeys.create('apiA');
    for (const path of [`/private/ws/${k}`, `/private/ws?listenKey=${k}`, `/private/stream?listenKey=${k}`]) {
      const c = await sim.connect(path);
      sim.engine.emit('apiA', { e: 'ACCOUNT_UPDATE', E: sim.clock.now(), T: 1 });
      const m = await c.next();
      const data = path.includes('/stream') ? m.data : m;
      assert.equal(data.e, 'ACCOUNT_UPDATE', path);
      if (path.includes('/stream')) assert.equal(m.stream, k);
      c.close();
    }
  });

  it('refuses upgrades for paths it does not serve with 404', async () => {
    for (const path of [
      '/',
      '/foo',
      '/public',
      '/public/foo',
      '/market/stream/x',
      '/private',
      '/fapi/v1/ping',
    ]) {
      assert.equal(await sim.refused(path), 404, path);
    }
  });

  it('an invalid listenKey at connect is accepted and receives nothing', async () => {
    const c = await sim.connect('/private/ws?listenKey=bogus');
    const k = sim.listenKeys.create('apiB');
    const good = await sim.connect(`/private/ws?listenKey=bogus&listenKey=${k}`);
    sim.engine.emit('apiB', { e: 'ACCOUNT_UPDATE', E: sim.clock.now() });
    await good.next(ev('ACCOUNT_UPDATE'));
    assert.equal(c.log.length, 0);
    assert.equal(c.ws.readyState, c.ws.OPEN);
    c.close();
    good.close();
  });
});

describe('live subscribe protocol', () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim();
  });
  after(() => sim.stop());

  it('SUBSCRIBE, LIST_SUBSCRIPTIONS, UNSUBSCRIBE', async () => {
    const c = await sim.connect('/public/ws/btcusdt@bookTicker');
    assert.deepEqual(
      await c.request({ method: 'SUBSCRIBE', params: ['ethusdt@bookTicker', 'btcusdt@depth5'], id: 1 }),
      {
        result: null,
        id: 1,
      },
    );
    assert.deepEqual(await c.request({ method: 'LIST_SUBSCRIPTIONS', id: 2 }), {
      result: ['btcusdt@bookTicker', 'ethusdt@bookTicker', 'btcusdt@depth5'],
      id: 2,
    });
    sim.market.tick('ETHUSDT');
    assert.equal((await c.next(ev('bookTicker'))).s, 'ETHUSDT');
    assert.deepEqual(
      await c.request({ method: 'UNSUBSCRIBE', params: ['ethusdt@bookTicker', 'never@subscribed'], id: 3 }),
      {
        result: null,
        id: 3,
      },
    );
    assert.deepEqual(await c.request({ method: 'LIST_SUBSCRIPTIONS', id: 4 }), {
      result: ['btcusdt@bookTicker', 'btcusdt@depth5'],
      id: 4,
    });
    sim.market.tick('ETHUSDT');
    sim.clock.advance(1);
    const { time } = sim.market.tick('BTCUSDT');
    const r = await c.take((m) => m.e === 'bookTicker' && m.T === time);
    assert.ok(
      r.before.every((m) => m.s === 'BTCUSDT'),
      'nothing for ethusdt after UNSUBSCRIBE',
    );
    // Subscribing twice lists once.
    await c.request({ method: 'SUBSCRIBE', params: ['btcusdt@bookTicker'], id: 5 });
    assert.deepEqual((await c.request({ method: 'LIST_SUBSCRIPTIONS', id: 6 })).result, [
      'btcusdt@bookTicker',
      'btcusdt@depth5',
    ]);
    c.close();
  });

  it('SET_PROPERTY / GET_PROPERTY combined toggles the wrapper', async () => {
    const c = await sim.connect('/public/ws/btcusdt@bookTicker');
    assert.deepEqual(await c.request({ method: 'GET_PROPERTY', params: ['combined'], id: 1 }), {
      result: false,
      id: 1,
    });
    assert.deepEqual(await c.request({ method: 'SET_PROPERTY', params: ['combined', true], id: 2 }), {
      result: null,
      id: 2,
    });
    assert.deepEqual(await c.request({ method: 'GET_PROPERTY', params: ['combined'], id: 3 }), {
      result: true,
      id: 3,
    });
    sim.market.tick('BTCUSDT');
    const m = await c.next();
    assert.equal(m.stream, 'btcusdt@bookTicker');
    assert.equal(m.data.e, 'bookTicker');
    await c.request({ method: 'SET_PROPERTY', params: ['combined', false], id: 4 });
    sim.market.tick('BTCUSDT');
    assert.equal((await c.next()).e, 'bookTicker');
    const s = await sim.connect('/public/stream?streams=btcusdt@bookTicker');
    assert.deepEqual(await s.request({ method: 'GET_PROPERTY', params: ['combined'], id: 9 }), {
      result: true,
      id: 9,
    });
    c.close();
    s.close();
  });

  it('answers bad requests with the error objects, and keeps the connection', async () => {
    // At most 10 messages a second per connection: spread the requests over a few.
    let c = await sim.connect('/public/ws');
    let sent = 0;
    const err = async (data: unknown) => {
      if (++sent % 8 === 0) {
        assert.equal(c.ws.readyState, c.ws.OPEN);
        c.close();
        c = await sim.connect('/public/ws');
      }
      c.send(data);
      return c.next((m) => m && 'error' in m);
    };
    let r = await err('{"method":"SUBSCRIBE",');
    assert.equal(r.error.code, 3);
    assert.match(r.error.msg, /^Invalid JSON: expected value at line 1 column \d+$/);
    assert.equal(r.id, null);
    r = await err(Buffer.from([0xff, 0x00, 0x13, 0x37]));
    assert.equal(r.error.code, 3);
    r = await err('[1,2]');
    assert.equal(r.error.code, 2);
    r = await err({ params: [], id: 1 });
    assert.deepEqual(r, { error: { code: 2, msg: 'Invalid request: missing field `method`' }, id: 1 });
    r = await err({ method: 'PING', id: 2 });
    assert.equal(r.error.code, 2);
    assert.match(r.error.msg, /^Invalid request: unknown variant `PING`, expected one of `SUBSCRIBE`/);
    r = await err({ method: 'LIST_SUBSCRIPTIONS', id: { no: 'objects' } });
    assert.deepEqual(r, {
      error: { code: 2, msg: 'Invalid request: request ID must be an unsigned integer or a string' },
      id: null,
    });
    r = await err({ method: 'LIST_SUBSCRIPTIONS', id: -1 });
    assert.equal(r.error.code, 2);
    r = await err({ method: 'SUBSCRIBE', params: ['@@@junk###'], id: 3 });
    assert.deepEqual(r, { error: { code: 2, msg: 'Invalid request: invalid stream' }, id: 3 });
    r = await err({ method: 'SUBSCRIBE', params: [42], id: 4 });
    assert.deepEqual(r, { error: { code: 2, msg: 'Invalid request: invalid stream' }, id: 4 });
    r = await err({ method: 'SUBSCRIBE', id: 5 });
    assert.equal(r.error.code, 2);
    r = await err({ method: 'SET_PROPERTY', params: ['colour', true], id: 6 });
    assert.deepEqual(r, { error: { code: 0, msg: 'Unknown property' }, id: 6 });
    r = await err({ method: 'SET_PROPERTY', params: ['combined', 'yes'], id: 7 });
    assert.deepEqual(r, { error: { code: 1, msg: 'Invalid value type: expected Boolean' }, id: 7 });
    r = await err({ method: 'GET_PROPERTY', params: [1], id: 8 });
    assert.deepEqual(r, {
      error: { code: 2, msg: 'Invalid request: property name must be a string' },
      id: 8,
    });
    r = await err({ method: 'SET_PROPERTY', params: ['combined', true, 1], id: 9 });
    assert.deepEqual(r, { error: { code: 2, msg: 'Invalid request: too many parameters' }, id: 9 });
    assert.equal(c.ws.readyState, c.ws.OPEN);
    c.close();
  });

  it('a frame over the size cap closes the connection with 1009, the server carries on', async () => {
    const c = await sim.connect('/public/ws');
    c.send('x'.repeat(70 * 1024));
    assert.equal((await c.waitClosed()).code, 1009);
    const d = await sim.connect('/public/ws');
    assert.deepEqual(await d.request({ method: 'LIST_SUBSCRIPTIONS', id: 1 }), { result: [], id: 1 });
    d.close();
  });

  it('a refused SUBSCRIBE changes nothing (all or nothing)', async () => {
    const c = await sim.connect('/public/ws');
    const r = await c.request({ method: 'SUBSCRIBE', params: ['btcusdt@bookTicker', 'bad stream'], id: 1 });
    assert.equal(r.error.code, 2);
    assert.deepEqual((await c.request({ method: 'LIST_SUBSCRIPTIONS', id: 2 })).result, []);
    c.close();
  });
});

describe('connection rules', () => {
  it('at most maxStreams (default 1024) streams per connection', async () => {
    const sim = await startSim();
    try {
      const c = await sim.connect('/market/ws');
      // Messages are limited to 10 per second: subscribe in few large requests.
      const names = Array.from({ length: 1024 }, (_, i) => `sym${i}usdt@aggTrade`);
      assert.deepEqual(await c.request({ method: 'SUBSCRIBE', params: names.slice(0, 1000), id: 1 }), {
        result: null,
        id: 1,
      });
      assert.deepEqual(await c.request({ method: 'SUBSCRIBE', params: names.slice(1000), id: 2 }), {
        result: null,
        id: 2,
      });
      const r = await c.request({ method: 'SUBSCRIBE', params: ['btcusdt@aggTrade'], id: 3 });
      assert.equal(r.error.code, 2);
      assert.equal((await c.request({ method: 'LIST_SUBSCRIPTIONS', id: 4 })).result.length, 1024);
      // Re-subscribing a stream already held does not count.
      assert.deepEqual(await c.request({ method: 'SUBSCRIBE', params: [names[0]], id: 5 }), {
        result: null,
        id: 5,
      });
      c.close();
    } finally {
      await sim.stop();
    }
  });

  it('too many streams in the URL refuse the upgrade with 400', async () => {
    const sim = await startSim({ maxStreams: 3 });
    try {
      assert.equal(await sim.refused('/public/ws/a@bookTicker/b@bookTicker/c@bookTicker/d@bookTicker'), 400);
      const ok = await sim.connect('/public/stream?streams=a@bookTicker/b@bookTicker/c@bookTicker');
      ok.close();
    } finally {
      await sim.stop();
    }
  });

  it('more than 10 incoming messages in a second disconnects', async () => {
    const sim = await startSim();
    try {
      const c = await sim.connect('/public/ws');
      for (let i = 1; i <= 11; i++) c.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
      const { code } = await c.waitClosed();
      assert.equal(code, 1008);
      const replies = c.log.filter((m) => 'result' in m);
      assert.equal(replies.length, 10);
      // Ten in a second is fine.
      const d = await sim.connect('/public/ws');
      for (let i = 1; i <= 10; i++) d.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
      await d.next((m) => m.id === 10);
      assert.equal(d.ws.readyState, d.ws.OPEN);
      d.close();
    } finally {
      await sim.stop();
    }
  });

  it('pings, drops a connection that does not answer pings, and answers client pings', async () => {
    const sim = await startSim({ pingIntervalMs: 20, pongTimeoutMs: 400 });
    try {
      const good = await sim.connect('/public/ws');
      const mute = await sim.connect('/public/ws', { autoPong: false });
      const { code } = await mute.waitClosed();
      assert.equal(code, 1006, 'terminated, no close frame');
      assert.ok(mute.pings > 0);
      assert.ok(good.pings > 0);
      assert.equal(good.ws.readyState, good.ws.OPEN);
      const pong = new Promise<Buffer>((resolve) => good.ws.once('pong', resolve));
      good.ws.ping('hello');
      assert.equal(String(await pong), 'hello');
      good.close();
    } finally {
      await sim.stop();
    }
  });

  it('closes a connection at its maximum life', async () => {
    const sim = await startSim({ maxLifetimeMs: 100 });
    try {
      const c = await sim.connect('/market/ws');
      const { code } = await c.waitClosed();
      assert.equal(code, 1000);
    } finally {
      await sim.stop();
    }
  });

  it('terminates a socket whose unsent data exceeds the cap', async () => {
    const sim = await startSim({ maxBufferedBytes: 256 * 1024 });
    try {
      const slow = await sim.connect('/public/ws/btcusdt@bookTicker');
      // The client cannot read while this loop runs: the kernel buffers fill, then ours would.
      for (let i = 0; i < 100_000 && slow.ws.readyState === slow.ws.OPEN; i++) sim.market.tick('BTCUSDT');
      await slow.waitClosed();
      assert.ok(sim.logs.some((l) => /over the cap/.test(l)));
      assert.equal(sim.streams.stats().connections, 0);
    } finally {
      await sim.stop();
    }
  });

  it('dropAll terminates every socket and stats count by route', async () => {
    const sim = await startSim();
    try {
      const k = sim.listenKeys.create('apiA');
      const cs = [
        await sim.connect('/public/ws/btcusdt@bookTicker'),
        await sim.connect('/market/stream?streams=btcusdt@aggTrade'),
        await sim.connect('/market/ws'),
        await sim.connect(`/private/ws?listenKey=${k}`),
        await sim.connect('/ws/btcusdt@depth'),
      ];
      assert.deepEqual(sim.streams.stats(), {
        connections: 5,
        byRoute: { public: 1, market: 2, private: 1, legacy: 1 },
      });
      assert.equal(sim.streams.dropAll(), 5);
      for (const c of cs) assert.equal((await c.waitClosed()).code, 1006);
      assert.equal(sim.streams.stats().connections, 0);
      // The server keeps serving.
      const again = await sim.connect('/public/ws/btcusdt@bookTicker');
      sim.market.tick('BTCUSDT');
      await again.next(ev('bookTicker'));
      again.close();
    } finally {
      await sim.stop();
    }
  });

  it('close() ends every connection and leaves no market listener', async () => {
    const sim = await startSim();
    const c = await sim.connect('/public/ws/btcusdt@bookTicker');
    assert.equal(sim.market.listenerCount(), 1);
    await sim.stop();
    await c.waitClosed();
    assert.equal(sim.market.listenerCount(), 0);
  });
});
