// The trader's gateway client against a scripted gateway: a late poll answer never moves a filled
// order back, and a fill no newer than the last position record is not counted again.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { GatewayClient } from '../../trader/gateway-client.ts';
import { waitFor } from './support.ts';

const order = (id: string, state: string, executedQty: string, exchangeTime: number) => ({
  clientOrderId: id,
  intentKey: id,
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'MARKET',
  quantity: '1',
  reduceOnly: false,
  state,
  executedQty,
  createdAt: 0,
  updatedAt: 0,
  exchangeTime,
});

let url: string;
const server = createServer();
const streams: ServerResponse[] = [];
const heldGets: Array<{ id: string; res: ServerResponse }> = [];
const answers = new Map<string, unknown>();

before(async () => {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/v1/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': connected\n\n');
      streams.push(res);
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/intents') {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const key = (JSON.parse(body) as { key: string }).key;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ clientOrderId: key, netted: false, order: answers.get(key) }));
      });
      return;
    }
    if (req.method === 'GET' && req.url?.startsWith('/v1/orders/')) {
      heldGets.push({ id: decodeURIComponent(req.url.slice('/v1/orders/'.length)), res });
      return;
    }
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const s of streams) s.end();
  for (const g of heldGets) g.res.end();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const intent = (key: string) => ({
  key,
  symbol: 'BTCUSDT',
  action: 'open' as const,
  side: 'BUY' as const,
  size: { base: '1' },
  style: { kind: 'taker' as const },
});

test('a late poll answer (open) after the pushed fill is ignored: no move back, no negative fill', async () => {
  const client = new GatewayClient({ url, token: 'x', trader: 't', pollMs: 5 });
  try {
    await waitFor(() => client.eventsConnected, 'the event stream');
    answers.set('late', order('late', 'open', '0', 1000));
    client.send(intent('late'), { last: 100 });
    await waitFor(() => client.counts().open === 1, 'the answer: open');
    // A status query goes out; the gateway holds its answer.
    const held = await waitFor(() => heldGets.find((g) => g.id === 'late'), 'a status query');
    // Meanwhile the fill is pushed.
    for (const s of streams)
      s.write(`event: order\ndata: ${JSON.stringify({ order: order('late', 'filled', '1', 2000) })}\n\n`);
    await waitFor(() => client.counts().filled === 1, 'the pushed fill');
    assert.equal(client.pendingFills('BTCUSDT'), 1);
    // Now the overtaken answer arrives.
    held.res.writeHead(200, { 'content-type': 'application/json' });
    held.res.end(JSON.stringify({ order: order('late', 'open', '0', 1000) }));
    await waitFor(() => client.stats.staleViews === 1, 'the stale view was seen');
    assert.equal(client.counts().filled, 1);
    assert.equal(client.counts().open, undefined);
    assert.equal(client.pendingFills('BTCUSDT'), 1);
    assert.equal(client.active('BTCUSDT'), 0);
  } finally {
    client.close();
  }
});

test('a fill learnt after the position record that holds it is not counted', async () => {
  const client = new GatewayClient({ url, token: 'x', trader: 't', pollMs: 60_000, events: false });
  try {
    client.positionSeen('BTCUSDT', 5000);
    answers.set('old', order('old', 'filled', '1', 4000));
    client.send(intent('old'), { last: 100 });
    await waitFor(() => client.counts().filled === 1, 'the answer');
    assert.equal(client.pendingFills('BTCUSDT'), 0);
    answers.set('new', order('new', 'filled', '1', 6000));
    client.send(intent('new'), { last: 100 });
    await waitFor(() => client.counts().filled === 2, 'the second answer');
    assert.equal(client.pendingFills('BTCUSDT'), 1);
  } finally {
    client.close();
  }
});
