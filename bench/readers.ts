// fleet bench readers: the local reader fleet (2 klines, 4 klines-fast, 10 book, 1 volume,
// 3 positions, 1 open-orders replicas, each on its own loopback address) against a simulator
// with 200 symbols in its own process and the aggregator in this one, for --seconds (default
// 120). From the simulator's /sim/stats (sampled every 250 ms): each address's share of its
// 2400/min budget (mean weight1m / 2400 after the first minute's ramp, or over the run when it is
// shorter, scaled to a full minute), 429/418 counts. From the aggregator (a subscriber): the
// measured interval between two updates of one key for book, kline.1m (all symbols, and the ones
// the fast filter selected) beside the planner's figure. Targets: every polling address 90-100 %,
// zero 429/418, measured freshness within 15 % of planned.

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { startAggregator } from '../aggregator/index.ts';
import { createLogger } from '../core/log.ts';
import { AggregatorClient } from '../core/protocol/client.ts';
import type { Volume } from '../core/protocol/topics.ts';
import { volumeFilter } from '../functions/klines-fast/index.ts';
import { type FunctionName, plan } from '../functions/plan.ts';
import { startReaders } from '../functions/scheduler.ts';
import { startSimProcess, stopProcess } from './processes.ts';

const ACCOUNT = { apiKey: `bench${'K'.repeat(59)}`, apiSecret: `bench${'S'.repeat(59)}` };
const REPLICAS: Partial<Record<FunctionName, number>> = {
  klines: 2,
  'klines-fast': 4,
  book: 10,
  volume: 1,
  'positions-account': 1,
  'positions-risk': 1,
  'positions-stream': 1,
  'open-orders': 1,
};

interface IpStats {
  weight1m: number;
  http429: number;
  http418: number;
}

export async function run(args: string[]): Promise<unknown> {
  const { values } = parseArgs({ args, options: { seconds: { type: 'string' } }, strict: true });
  const seconds = Number(values.seconds ?? 120);
  const { child, origin } = await startSimProcess([
    '--symbols',
    '200',
    '--api-key',
    ACCOUNT.apiKey,
    '--api-secret',
    ACCOUNT.apiSecret,
  ]);
  const tokens = { collector: randomBytes(16).toString('hex'), trader: randomBytes(16).toString('hex') };
  const agg = await startAggregator({
    port: 0,
    tokens: [
      { role: 'collector', token: tokens.collector },
      { role: 'trader', token: tokens.trader },
    ],
    logger: createLogger('aggregator', 'silent'),
  });
  const readers = await startReaders({
    restUrl: origin,
    wsUrl: origin.replace('http', 'ws'),
    aggregatorUrl: agg.url,
    token: tokens.collector,
    ...ACCOUNT,
    replicas: REPLICAS,
    firstAddress: 2,
    logger: () => createLogger('fn', 'silent'),
  });
  const byAddress = new Map(readers.instances.map((i) => [i.address!, i]));
  const w = new AggregatorClient({ url: agg.url, token: tokens.trader });
  w.on('error', () => undefined);
  await w.connect();
  await w.subscribe(['book', 'kline.1m', 'volume']);
  const filter = volumeFilter({ top: 8, surge: 2, max: 16 });
  // Per key: last receipt and the sum/count of intervals (measurement starts after 10 s warm-up).
  const warm = Date.now() + 10_000;
  const last = new Map<string, number>();
  const acc = new Map<string, { n: number; total: number }>();
  let selected = new Set<string>();
  const add = (name: string, dt: number) => {
    const a = acc.get(name) ?? { n: 0, total: 0 };
    a.n++;
    a.total += dt;
    acc.set(name, a);
  };
  const selectedSeen = new Map<string, number>();
  w.on('update', (topic, recs) => {
    if (topic === 'volume') {
      selected = new Set(filter(w.records<Volume>('volume')));
      return;
    }
    for (const r of recs) {
      const k = `${topic}|${r.key}`;
      const prev = last.get(k);
      last.set(k, r.receivedAt);
      if (prev === undefined || r.receivedAt < warm) continue;
      if (topic === 'book') add('book', r.receivedAt - prev);
      else if (selected.has(r.key)) {
        add('kline.1m (filtered)', r.receivedAt - prev);
        selectedSeen.set(r.key, (selectedSeen.get(r.key) ?? 0) + 1);
      } else add('kline.1m', r.receivedAt - prev);
    }
  });
  // Budget sampling.
  const samples = new Map<string, number[]>();
  const peak = new Map<string, IpStats>();
  const t0 = Date.now();
  const steady = Math.min(60_000, (seconds * 1000) / 2);
  const end = t0 + seconds * 1000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250));
    const body = (await (await request(`${origin}/sim/stats`)).body.json()) as {
      ips: Record<string, IpStats>;
    };
    const elapsed = Date.now() - t0;
    for (const [ip, s] of Object.entries(body.ips)) {
      peak.set(ip, s);
      if (elapsed < steady) continue;
      // Before a full minute has passed, weight1m covers `elapsed` ms only: scale to a minute.
      const scaled = elapsed >= 60_000 ? s.weight1m : (s.weight1m * 60_000) / elapsed;
      const arr = samples.get(ip) ?? [];
      arr.push(scaled / 2400);
      samples.set(ip, arr);
    }
  }
  await readers.stop();
  await w.close();
  await agg.close();
  await stopProcess(child);
  const addresses = [...byAddress.entries()].map(([address, inst]) => {
    const s = samples.get(address) ?? [];
    const share = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
    return {
      address,
      reader: inst.config.source,
      polling: inst.name !== 'positions-stream',
      budgetShare: Math.round(share * 1000) / 1000,
      http429: peak.get(address)?.http429 ?? 0,
      http418: peak.get(address)?.http418 ?? 0,
      errors: inst.stats.errors,
    };
  });
  const fastSymbols = Math.max(1, selectedSeen.size ? selected.size : 16);
  const p = plan({ replicas: REPLICAS, symbols: 200, fastSymbols });
  const freshness = ['book', 'kline.1m', 'kline.1m (filtered)'].map((topic) => {
    const a = acc.get(topic);
    const measuredMs = a && a.n > 0 ? Math.round((a.total / a.n) * 10) / 10 : null;
    const plannedMs = p.freshness.find((f) => f.topic === topic)?.plannedMs ?? null;
    return {
      topic,
      measuredMs,
      plannedMs,
      ratio: measuredMs && plannedMs ? Math.round((measuredMs / plannedMs) * 1000) / 1000 : null,
    };
  });
  const polling = addresses.filter((a) => a.polling);
  return {
    bench: 'readers',
    seconds,
    symbols: 200,
    replicas: REPLICAS,
    fastSymbols,
    addresses,
    freshness,
    targets: {
      budgetShareInRange: polling.every((a) => a.budgetShare >= 0.9 && a.budgetShare <= 1),
      no429or418: addresses.every((a) => a.http429 === 0 && a.http418 === 0),
      freshnessWithin15pct: freshness.every((f) => f.ratio !== null && Math.abs(f.ratio - 1) <= 0.15),
    },
  };
}
