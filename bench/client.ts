// fleet bench client: the Binance REST client against the simulator (its own process).
//
// 1. Budget: one reader at full speed from 127.0.0.2 for --seconds, cycling realistic reads
//    (klines limit 45: weight 1, bookTicker: 2, premiumIndex: 1) over the universe, through
//    BinanceRest with Binance's 2400/minute. The simulator's statistics, sampled every 250 ms,
//    say how much of the server's rolling-minute budget was in use (budgetShare = mean of
//    weight1m / 2400 over the run) and whether anything was refused (http429, http418).
// 2. Overhead: against a second simulator with an unlimited weight budget, N signed
//    GET /fapi/v2/balance through the client, interleaved with N bare undici requests of the same
//    pre-signed URL on the same kind of keep-alive pool: overheadRatio = client mean latency /
//    bare mean latency - 1 (signing, throttling, clock, parsing, error mapping). The same for
//    klines limit 45 (gzipped answer: the client also decompresses and parses it).
//
// Targets: budgetShare ≥ 0.90, zero 429 and 418, overheadRatio < 0.20.

import { parseArgs } from 'node:util';
import pino from 'pino';
import { Pool, request } from 'undici';
import { BinanceRest } from '../core/binance/rest.ts';
import { encodeParams, hmacSha256Hex } from '../core/binance/sign.ts';
import { Throttler } from '../core/binance/throttle.ts';
import { simulator } from '../core/binance/types.ts';
import { endpointWeight } from '../core/binance/weights.ts';
import { round3 } from './load.ts';
import { startSimProcess as startSim, stopProcess } from './processes.ts';

const ACCOUNT = { apiKey: `bench${'K'.repeat(59)}`, apiSecret: `bench${'S'.repeat(59)}` };
const READER_IP = '127.0.0.2';

function startSimProcess(extra: string[]) {
  return startSim([
    '--symbols',
    '200',
    '--api-key',
    ACCOUNT.apiKey,
    '--api-secret',
    ACCOUNT.apiSecret,
    ...extra,
  ]);
}

interface IpStats {
  weight1m: number;
  requests: number;
  http429: number;
  http418: number;
}

async function ipStats(origin: string, ip: string): Promise<IpStats | undefined> {
  const res = await request(`${origin}/sim/stats`);
  const body = (await res.body.json()) as { ips: Record<string, IpStats> };
  return body.ips[ip];
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const logger = pino({ level: 'warn' }, pino.destination(2));

async function budgetPhase(origin: string, seconds: number): Promise<Record<string, unknown>> {
  const client = new BinanceRest({
    endpoints: simulator(origin),
    apiKey: ACCOUNT.apiKey,
    apiSecret: ACCOUNT.apiSecret,
    localAddress: READER_IP,
    logger,
    throttler: new Throttler(),
  });
  const info = await client.request<{ symbols: Array<{ symbol: string }> }>('GET', '/fapi/v1/exchangeInfo');
  const symbols = info.symbols.map((s) => s.symbol);
  const reads: Array<(sym: string) => [string, Record<string, string | number>]> = [
    (symbol) => ['/fapi/v1/klines', { symbol, interval: '1m', limit: 45 }],
    (symbol) => ['/fapi/v1/ticker/bookTicker', { symbol }],
    (symbol) => ['/fapi/v1/premiumIndex', { symbol }],
  ];

  const samples: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = await ipStats(origin, READER_IP);
      samples.push(s?.weight1m ?? 0);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();

  const start = performance.now();
  const end = start + seconds * 1000;
  let ok = 0;
  let weightSent = 0;
  const errors: Record<string, number> = {};
  const reader = (async () => {
    for (let i = 0; performance.now() < end; i++) {
      const [path, params] = reads[i % reads.length](symbols[Math.floor(i / reads.length) % symbols.length]);
      try {
        await client.request('GET', path, params);
        ok++;
        weightSent += endpointWeight('GET', path, params as Record<string, string>).ip;
      } catch (err) {
        if (performance.now() >= end) return;
        const name = (err as Error).name;
        errors[name] = (errors[name] ?? 0) + 1;
      }
    }
  })();
  // The reader may be waiting for budget at the deadline: stop it there.
  await Promise.race([reader, new Promise((r) => setTimeout(r, Math.max(0, end - performance.now())))]);
  const usage = client.usage();
  await client.close();
  await reader;
  sampling = false;
  await sampler;
  const elapsedS = (performance.now() - start) / 1000;
  const stats = (await ipStats(origin, READER_IP))!;
  const limit = 2400;
  return {
    seconds: round3(elapsedS),
    budgetShare: round3(mean(samples) / limit),
    budgetSharePeak: round3(Math.max(...samples) / limit),
    budgetShareEnd: round3(stats.weight1m / limit),
    weightSent,
    okReads: ok,
    requests: stats.requests,
    http429: stats.http429,
    http418: stats.http418,
    clientErrors: errors,
    waits: usage.waits,
    localWeightUsed: usage.weightUsed,
    localWeightLimit: usage.weightLimit,
  };
}

async function overheadPhase(origin: string, n: number): Promise<Record<string, unknown>> {
  const client = new BinanceRest({
    endpoints: simulator(origin),
    apiKey: ACCOUNT.apiKey,
    apiSecret: ACCOUNT.apiSecret,
    logger,
    weightLimit: 1_000_000_000,
    throttler: new Throttler(),
  });
  const bare = new Pool(origin, { connections: 16, pipelining: 1, keepAliveTimeout: 30_000 });
  await client.syncClock();
  const signedPath = (): string => {
    const q = encodeParams({ timestamp: client.now(), recvWindow: 60_000 });
    return `/fapi/v2/balance?${q}&signature=${hmacSha256Hex(ACCOUNT.apiSecret, q)}`;
  };
  const balanceHeaders = { 'accept-encoding': 'gzip', 'x-mbx-apikey': ACCOUNT.apiKey };
  const klinesPath = `/fapi/v1/klines?${encodeParams({ symbol: 'BTCUSDT', interval: '1m', limit: 45 })}`;
  const publicHeaders = { 'accept-encoding': 'gzip' };

  const measure = async (
    viaClient: () => Promise<unknown>,
    viaBare: () => Promise<unknown>,
  ): Promise<{ client: number[]; bare: number[] }> => {
    const out = { client: [] as number[], bare: [] as number[] };
    for (let i = 0; i < 300; i++) {
      await viaClient();
      await viaBare();
    }
    for (let i = 0; i < n; i++) {
      // Alternate which goes first so that drift and GC spread over both.
      const first = i % 2 === 0;
      for (const which of first ? ['c', 'b'] : ['b', 'c']) {
        const t0 = performance.now();
        await (which === 'c' ? viaClient() : viaBare());
        (which === 'c' ? out.client : out.bare).push(performance.now() - t0);
      }
    }
    return out;
  };

  // One pre-signed URL (recvWindow 60 s), rebuilt every 20 s so it stays valid in long runs.
  let balanceUrl = signedPath();
  let signedAt = Date.now();
  const bareBalance = async () => {
    if (Date.now() - signedAt > 20_000) {
      balanceUrl = signedPath();
      signedAt = Date.now();
    }
    const res = await bare.request({ method: 'GET', path: balanceUrl, headers: balanceHeaders });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`bare balance: ${res.statusCode} ${text}`);
  };
  const balance = await measure(() => client.request('GET', '/fapi/v2/balance'), bareBalance);
  const bareKlines = async () => {
    const res = await bare.request({ method: 'GET', path: klinesPath, headers: publicHeaders });
    await res.body.arrayBuffer();
    if (res.statusCode !== 200) throw new Error(`bare klines: ${res.statusCode}`);
  };
  const klines = await measure(
    () => client.request('GET', '/fapi/v1/klines', { symbol: 'BTCUSDT', interval: '1m', limit: 45 }),
    bareKlines,
  );
  await client.close();
  await bare.close();
  const ratio = (x: { client: number[]; bare: number[] }) => round3(mean(x.client) / mean(x.bare) - 1);
  return {
    n,
    overheadRatio: ratio(balance),
    balanceClientMeanMs: round3(mean(balance.client)),
    balanceBareMeanMs: round3(mean(balance.bare)),
    balanceMedianRatio: round3(median(balance.client) / median(balance.bare) - 1),
    klinesOverheadRatio: ratio(klines),
    klinesClientMeanMs: round3(mean(klines.client)),
    klinesBareMeanMs: round3(mean(klines.bare)),
  };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: { seconds: { type: 'string' }, n: { type: 'string' } },
  });
  const seconds = Number(values.seconds ?? 60);
  const n = Number(values.n ?? 3000);
  if (!(seconds > 0) || !(n > 0)) throw new Error('--seconds and --n must be positive');

  const sim = await startSimProcess([]);
  let budget: Record<string, unknown>;
  try {
    budget = await budgetPhase(sim.origin, seconds);
  } finally {
    await stopProcess(sim.child);
  }
  const free = await startSimProcess(['--weight-limit', '1000000000']);
  let overhead: Record<string, unknown>;
  try {
    overhead = await overheadPhase(free.origin, n);
  } finally {
    await stopProcess(free.child);
  }
  const pass =
    (budget.budgetShare as number) >= 0.9 &&
    budget.http429 === 0 &&
    budget.http418 === 0 &&
    (overhead.overheadRatio as number) < 0.2;
  return {
    bench: 'client',
    ...budget,
    ...overhead,
    target: { budgetShare: 0.9, http429: 0, http418: 0, overheadRatio: 0.2 },
    pass,
  };
}
