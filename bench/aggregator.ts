// fleet bench aggregator: publish-to-delivery latency through the aggregator on the realistic load
// of the full fleet, against a bare `ws` relay that forwards frames without parsing them (the
// floor), in the same run, at 1× and at 3× the load.
//
// The load (1×): a universe of 200 symbols; 10 book readers, each publishing the whole universe
// (200 records in one frame) 8 times a second, time-sliced (reader i at offset i/10 of 125 ms);
// 4 kline readers publishing single-record frames, 600 a second in all; 5 subscribers to
// everything. About 16,600 records/s in 680 frames/s. 3× runs three times the readers.
//
// The aggregator (`fleet aggregator`, exactly as deployed: it runs itself with its V8 heap flags)
// and the relay (under the same flags) each run in their own child process, so each has a core;
// publishers and subscribers run in this process and share the same code for both. Both children
// live through a load level and take turns in short rounds (relay, aggregator, aggregator, relay,
// …), so a burst of noise on this shared machine falls on both alike. Debugging:
// BENCH_AGG_NODE_ARGS="--cpu-prof …" adds node flags to the aggregator, BENCH_CHILD_OUTPUT=1 shows
// the children's output.
//
// Every published frame carries a unique `ts` (a counter above an hour-old base) in its records;
// the send time of each ts is kept here. Latency = from the publisher's ws.send() to the
// subscriber's JSON.parse() of the frame that delivers it: one sample per (published frame,
// subscriber) — p50Ms/p99Ms — and one per (record, subscriber) — recordP50Ms/recordP99Ms, where a
// 200-record book frame counts 200 times. A phase's p99 is the median of its rounds' p99s (the
// pooled one is reported too). Lost = records neither delivered to every subscriber nor dropped
// by the merge rule (an older ts arriving after a newer one from another reader: reported as
// `stale`, by design never forwarded).

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { DEFAULT_V8_FLAGS } from '../cli/aggregator.ts';
import { percentile, round3 } from './load.ts';

const root = new URL('..', import.meta.url).pathname;
const COLLECTOR = 'bench-collector-token-0123456789';
const TRADER = 'bench-trader-token-0123456789';
const SUB_TOPICS = [
  'book',
  'kline.1m',
  'position',
  'balance',
  'orders.open',
  'symbols',
  'volume',
  'risk.ban',
];

interface Target {
  kind: 'aggregator' | 'relay';
  child: ChildProcess;
  /** The process doing the work (`fleet aggregator` runs itself again with its V8 flags). */
  pid: number | undefined;
  pubUrl: string;
  subUrl: string;
  pubHeaders: Record<string, string>;
  subHeaders: Record<string, string>;
}

async function spawnAndRead(
  args: string[],
  pattern: RegExp,
  what: string,
): Promise<[ChildProcess, RegExpExecArray]> {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const x = pattern.exec(out);
      if (x) {
        clearTimeout(timer);
        resolve(x);
      }
    });
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}: ${out}`)));
  });
  // The child's further output is dropped, or shown with BENCH_CHILD_OUTPUT=1 (e.g. with --trace-gc).
  child.stdout!.removeAllListeners('data');
  if (process.env.BENCH_CHILD_OUTPUT) child.stdout!.pipe(process.stderr);
  else child.stdout!.resume();
  return [child, m];
}

async function startAggregatorProcess(): Promise<Target> {
  const [child, m] = await spawnAndRead(
    [
      ...(process.env.BENCH_AGG_NODE_ARGS ? process.env.BENCH_AGG_NODE_ARGS.split(' ') : []),
      'bin/fleet.mjs',
      'aggregator',
      '--port',
      '0',
      '--token',
      `collector:${COLLECTOR}`,
      '--token',
      `trader:${TRADER}`,
    ],
    /listening on (ws:\/\/[\d.]+:\d+).*pid (\d+)/,
    'aggregator',
  );
  return {
    kind: 'aggregator',
    child,
    pid: Number(m[2]),
    pubUrl: m[1],
    subUrl: m[1],
    pubHeaders: { authorization: `Bearer ${COLLECTOR}` },
    subHeaders: { authorization: `Bearer ${TRADER}` },
  };
}

/** The floor: a bare ws server forwarding every frame from /pub connections to every /sub one. */
async function startRelayProcess(): Promise<Target> {
  const code = `
    const { WebSocketServer } = require('ws');
    const subs = new Set();
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, clientTracking: false });
    wss.on('connection', (ws, req) => {
      ws.on('error', () => {});
      if (req.url === '/sub') { subs.add(ws); ws.on('close', () => subs.delete(ws)); return; }
      ws.on('message', (data) => { for (const s of subs) s.send(data, { binary: false }); });
    });
    wss.on('listening', () => console.log('PORT ' + wss.address().port));
    process.on('SIGTERM', () => process.exit(0));`;
  // The same V8 flags as `fleet aggregator` uses, so the floor runs under the same heap settings.
  const [child, m] = await spawnAndRead([...DEFAULT_V8_FLAGS, '-e', code], /PORT (\d+)/, 'relay');
  const port = m[1];
  return {
    kind: 'relay',
    child,
    pid: child.pid,
    pubUrl: `ws://127.0.0.1:${port}/pub`,
    subUrl: `ws://127.0.0.1:${port}/sub`,
    pubHeaders: {},
    subHeaders: {},
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** CPU seconds (user + system) of a process, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(parts[11]) + Number(parts[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function connect(url: string, headers: Record<string, string>): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  ws.on('error', () => {});
  await once(ws, 'open');
  return ws;
}

interface Round {
  /** Records the aggregator dropped by the merge rule (an older ts arrived after a newer one). */
  stale: number;
  latencies: Float64Array;
  recLatencies: Float64Array;
  records: number;
  frames: number;
  lost: number;
  duplicates: number;
  elapsedS: number;
  durationS: number;
  serverCpuS: number;
  benchCpuS: number;
  benchLoopP99Ms: number;
  p99Ms: number;
  recordP99Ms: number;
}

interface PhaseResult {
  rounds: number;
  /** p99 of each round; the phase's p99Ms is their median (robust to a noise burst in one round). */
  roundP99Ms: number[];
  /** p99 over all rounds' samples pooled. */
  pooledP99Ms: number;
  records: number;
  frames: number;
  recordsPerS: number;
  framesPerS: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** The same over every delivered record (a 200-record frame counts 200 times). */
  recordP50Ms: number;
  recordP99Ms: number;
  lost: number;
  stale: number;
  duplicates: number;
  serverCpuPct: number;
  benchCpuPct: number;
  benchLoopP99Ms: number;
}

let tsFloor = 0;

interface Counters {
  slowConsumers: number;
  rejects: number;
  stale: number;
}

/** Slow-consumer disconnects, refused frames and stale records, from the aggregator's /metrics. */
async function aggregatorCounters(url: string): Promise<Counters> {
  const text = await fetch(`${url.replace(/^ws/, 'http')}/metrics`).then((r) => r.text());
  const value = (re: RegExp) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  return {
    slowConsumers: value(/^fleet_aggregator_slow_consumers_total (\S+)$/gm),
    rejects: value(/^fleet_aggregator_rejects_total\{[^}]*\} (\S+)$/gm),
    stale: value(/^fleet_aggregator_records_stale_total\{[^}]*\} (\S+)$/gm),
  };
}

function symbolsOf(n: number): string[] {
  const base = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT'];
  const out = base.slice(0, n);
  for (let i = out.length; i < n; i++) out.push(`S${String(i).padStart(3, '0')}USDT`);
  return out;
}

async function runPhase(
  target: Target,
  opts: { scale: number; seconds: number; warmupS: number; symbols: number; subscribers: number },
): Promise<Round> {
  const symbols = symbolsOf(opts.symbols);
  const bookReaders = 10 * opts.scale;
  const klineReaders = 4 * opts.scale;
  const bookPeriodMs = 125;
  const klinePeriodMs = 1000 / 150; // 150 frames/s per kline reader, 600/s for four
  // ts only grows, across rounds too (the aggregator keeps its state between them).
  const baseTs = Math.max(Date.now() - 3_600_000, tsFloor);
  const totalS = opts.warmupS + opts.seconds;
  const capacity = Math.ceil(
    ((bookReaders * 1000) / bookPeriodMs + (klineReaders * 1000) / klinePeriodMs) * (totalS + 5),
  );
  const sendAt = new Float64Array(capacity);
  const remaining = new Int32Array(capacity);
  let tsCounter = 0;
  let outstanding = 0;
  // Latency samples: one per (published frame, subscriber) — the brief's "publisher's send to the
  // subscriber's parsed frame" — and one per (record, subscriber).
  const recordsPerS =
    (bookReaders * 1000 * symbols.length) / bookPeriodMs + (klineReaders * 1000) / klinePeriodMs;
  const latencies = new Float64Array(capacity * opts.subscribers);
  let nLat = 0;
  const recLatencies = new Float64Array(Math.ceil(recordsPerS * (totalS + 5)) * opts.subscribers);
  let nRec = 0;
  let duplicates = 0;
  let measureFrom = Number.POSITIVE_INFINITY;

  const stale0 = target.kind === 'aggregator' ? (await aggregatorCounters(target.pubUrl)).stale : 0;
  // Subscribers first, so nothing published is missed.
  const subs: WebSocket[] = [];
  for (let i = 0; i < opts.subscribers; i++) {
    const ws = await connect(target.subUrl, target.subHeaders);
    const onFrame = (data: Buffer) => {
      const f = JSON.parse(data.toString());
      const t = performance.now();
      const recs = f.records;
      if (!Array.isArray(recs) || (f.op !== 'upd' && f.op !== 'pub')) return;
      let lastIdx = -1;
      for (let j = 0; j < recs.length; j++) {
        const idx = recs[j].ts - baseTs;
        if (!(idx > 0 && idx <= tsCounter)) continue;
        if (remaining[idx] <= 0) {
          duplicates++;
          continue;
        }
        remaining[idx]--;
        outstanding--;
        if (sendAt[idx] < measureFrom) continue;
        const ms = t - sendAt[idx];
        if (nRec < recLatencies.length) recLatencies[nRec++] = ms;
        if (idx !== lastIdx && nLat < latencies.length) latencies[nLat++] = ms;
        lastIdx = idx;
      }
    };
    ws.on('message', onFrame);
    if (target.kind === 'aggregator') {
      ws.send(JSON.stringify({ op: 'sub', topics: SUB_TOPICS }));
      let snapshots = 0;
      await new Promise<void>((resolve) => {
        const h = (d: Buffer) => {
          if (String(d).startsWith('{"op":"snapshot"') && ++snapshots === SUB_TOPICS.length) {
            ws.off('message', h);
            resolve();
          }
        };
        ws.on('message', h);
      });
    }
    subs.push(ws);
  }

  const bookPubs: WebSocket[] = [];
  const klinePubs: WebSocket[] = [];
  for (let i = 0; i < bookReaders; i++) bookPubs.push(await connect(target.pubUrl, target.pubHeaders));
  for (let i = 0; i < klineReaders; i++) klinePubs.push(await connect(target.pubUrl, target.pubHeaders));

  // Frame text per symbol with the ts spliced in.
  const bookParts = symbols.map((s, i) => {
    const p = (100 + i * 3.7).toFixed(2);
    return [
      `{"key":"${s}","ts":`,
      `,"data":{"symbol":"${s}","bidPrice":"${p}","bidQty":"12.345","askPrice":"${(Number(p) + 0.01).toFixed(2)}","askQty":"6.789","time":`,
      '}}',
    ];
  });
  const bookFrame = (src: string, ts: number): string => {
    let s = `{"op":"pub","topic":"book","src":"${src}","records":[`;
    for (let i = 0; i < bookParts.length; i++) {
      const p = bookParts[i];
      s += (i === 0 ? '' : ',') + p[0] + ts + p[1] + ts + p[2];
    }
    return `${s}]}`;
  };
  const bar = (t: number) =>
    `[${t},"100.00","101.50","99.20","100.70","1234.567",${t + 59_999},"124000.12",321,"600.1","60300.5","0"]`;
  const klineFrame = (src: string, symbol: string, ts: number): string => {
    const open = Math.floor(ts / 60_000) * 60_000;
    return `{"op":"pub","topic":"kline.1m","src":"${src}","records":[{"key":"${symbol}","ts":${ts},"data":{"bars":[${bar(open - 60_000)},${bar(open)}]}}]}`;
  };

  let frames = 0;
  let records = 0;
  const publish = (ws: WebSocket, text: string, ts: number, n: number) => {
    const idx = ts - baseTs;
    remaining[idx] = n * opts.subscribers;
    outstanding += n * opts.subscribers;
    sendAt[idx] = performance.now();
    ws.send(text);
    frames++;
    records += n;
  };

  // One scheduler for every reader: each has a period and an offset in it (time slices).
  interface Slot {
    due: number;
    period: number;
    fire: () => void;
  }
  const start = performance.now() + 50;
  const slots: Slot[] = [];
  bookPubs.forEach((ws, i) => {
    const src = `book-${i}`;
    slots.push({
      due: start + (i * bookPeriodMs) / bookReaders,
      period: bookPeriodMs,
      fire: () => {
        const ts = baseTs + ++tsCounter;
        publish(ws, bookFrame(src, ts), ts, symbols.length);
      },
    });
  });
  let klineSymbol = 0;
  klinePubs.forEach((ws, i) => {
    const src = `kline-${i}`;
    slots.push({
      due: start + (i * klinePeriodMs) / klineReaders,
      period: klinePeriodMs,
      fire: () => {
        const ts = baseTs + ++tsCounter;
        publish(ws, klineFrame(src, symbols[klineSymbol++ % symbols.length], ts), ts, 1);
      },
    });
  });

  const lag = monitorEventLoopDelay({ resolution: 10 });
  const end = start + totalS * 1000;
  measureFrom = start + opts.warmupS * 1000;
  let cpuMark: { server: number; bench: NodeJS.CpuUsage; at: number } | undefined;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (cpuMark === undefined && now >= measureFrom) {
        cpuMark = { server: cpuSeconds(target.pid), bench: process.cpuUsage(), at: now };
        lag.enable();
      }
      if (now >= end) return resolve();
      let next = Number.POSITIVE_INFINITY;
      for (const s of slots) {
        while (s.due <= now) {
          s.fire();
          s.due += s.period;
        }
        if (s.due < next) next = s.due;
      }
      setTimeout(tick, Math.max(0, next - performance.now()));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  const elapsedS = (performance.now() - (cpuMark?.at ?? start)) / 1000;
  const serverCpu = cpuSeconds(target.pid) - (cpuMark?.server ?? 0);
  const benchCpu = process.cpuUsage(cpuMark?.bench);
  lag.disable();

  // Drain: every record published must reach every subscriber, except those the aggregator
  // dropped by the merge rule (frames from different readers may arrive out of ts order; the
  // older record then never goes out, by design). What is missing after the deadline is lost.
  const staleNow = async () =>
    target.kind === 'aggregator' ? (await aggregatorCounters(target.pubUrl)).stale : 0;
  const deadline = performance.now() + 10_000;
  let stale = (await staleNow()) - stale0;
  while (outstanding > stale * opts.subscribers && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    stale = (await staleNow()) - stale0;
  }
  for (const ws of [...subs, ...bookPubs, ...klinePubs]) ws.terminate();

  tsFloor = baseTs + tsCounter + 1;
  const lat = latencies.slice(0, nLat);
  return {
    latencies: lat,
    recLatencies: recLatencies.slice(0, nRec),
    records,
    frames,
    lost: outstanding - stale * opts.subscribers,
    stale,
    duplicates,
    elapsedS,
    durationS: totalS,
    serverCpuS: serverCpu,
    benchCpuS: (benchCpu.user + benchCpu.system) / 1e6,
    benchLoopP99Ms: Math.max(0, lag.percentile(99) / 1e6 - 10),
    p99Ms: percentile(Float64Array.from(lat).sort(), 99),
    recordP99Ms: percentile(recLatencies.slice(0, nRec).sort(), 99),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function pooled(rounds: Round[], f: (r: Round) => Float64Array): Float64Array {
  const all = new Float64Array(rounds.reduce((a, r) => a + f(r).length, 0));
  let o = 0;
  for (const r of rounds) {
    all.set(f(r), o);
    o += f(r).length;
  }
  return all.sort();
}

function summarize(rounds: Round[]): PhaseResult {
  const all = pooled(rounds, (r) => r.latencies);
  const recs = pooled(rounds, (r) => r.recLatencies);
  const sum = (f: (r: Round) => number) => rounds.reduce((a, r) => a + f(r), 0);
  const elapsed = sum((r) => r.elapsedS);
  return {
    rounds: rounds.length,
    roundP99Ms: rounds.map((r) => round3(r.p99Ms)),
    pooledP99Ms: round3(percentile(all, 99)),
    records: sum((r) => r.records),
    frames: sum((r) => r.frames),
    recordsPerS: Math.round(sum((r) => r.records) / sum((r) => r.durationS)),
    framesPerS: Math.round(sum((r) => r.frames) / sum((r) => r.durationS)),
    p50Ms: round3(percentile(all, 50)),
    p99Ms: round3(median(rounds.map((r) => r.p99Ms))),
    p999Ms: round3(percentile(all, 99.9)),
    maxMs: round3(all[all.length - 1] ?? Number.NaN),
    recordP50Ms: round3(percentile(recs, 50)),
    recordP99Ms: round3(median(rounds.map((r) => r.recordP99Ms))),
    lost: sum((r) => r.lost),
    stale: sum((r) => r.stale),
    duplicates: sum((r) => r.duplicates),
    serverCpuPct: Math.round((sum((r) => r.serverCpuS) / elapsed) * 100),
    benchCpuPct: Math.round((sum((r) => r.benchCpuS) / elapsed) * 100),
    benchLoopP99Ms: round3(Math.max(...rounds.map((r) => r.benchLoopP99Ms))),
  };
}

/**
 * One load level: the relay and the aggregator run side by side (each idle while the other is
 * measured) and take turns in short rounds, so a burst of noise on this shared machine falls on
 * both alike; each one's latencies are pooled over its rounds.
 */
export async function measureScale(
  scale: number,
  opts: { seconds: number; rounds: number; warmupS: number; symbols: number; subscribers: number },
): Promise<{ relay: PhaseResult; aggregator: PhaseResult; counters: Counters }> {
  const relay = await startRelayProcess();
  const agg = await startAggregatorProcess();
  try {
    const r: Round[] = [];
    const a: Round[] = [];
    const per = {
      scale,
      seconds: opts.seconds / opts.rounds,
      symbols: opts.symbols,
      subscribers: opts.subscribers,
    };
    for (let i = 0; i < opts.rounds; i++) {
      // The first round of each also warms its JIT up.
      const warmupS = i === 0 ? opts.warmupS : 0.5;
      const order: Target[] = i % 2 === 0 ? [relay, agg] : [agg, relay];
      for (const t of order) (t === relay ? r : a).push(await runPhase(t, { ...per, warmupS }));
    }
    return {
      relay: summarize(r),
      aggregator: summarize(a),
      counters: await aggregatorCounters(agg.pubUrl),
    };
  } finally {
    await Promise.all([stop(relay.child), stop(agg.child)]);
  }
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      symbols: { type: 'string' },
      subscribers: { type: 'string' },
    },
  });
  const seconds = Number(values.seconds ?? 10);
  const base = {
    seconds,
    warmupS: Number(values.warmup ?? 2),
    rounds: Math.max(1, Math.round(Number(values.rounds ?? 5))),
    symbols: Number(values.symbols ?? 200),
    subscribers: Number(values.subscribers ?? 5),
  };
  if (!(seconds > 0) || !(base.symbols > 0) || !(base.subscribers > 0))
    throw new Error('--seconds, --symbols and --subscribers must be positive');

  const one = await measureScale(1, base);
  const three = await measureScale(3, base);

  const [relay1, agg1, relay3, agg3] = [one.relay, one.aggregator, three.relay, three.aggregator];

  const ratio1 = round3(agg1.p99Ms / relay1.p99Ms);
  const ratio3 = round3(agg3.p99Ms / relay3.p99Ms);
  return {
    bench: 'aggregator',
    seconds,
    symbols: base.symbols,
    subscribers: base.subscribers,
    load1x: { recordsPerS: agg1.recordsPerS, framesPerS: agg1.framesPerS },
    load3x: { recordsPerS: agg3.recordsPerS, framesPerS: agg3.framesPerS },
    p50Ms: agg1.p50Ms,
    p99Ms: agg1.p99Ms,
    relayP50Ms: relay1.p50Ms,
    relayP99Ms: relay1.p99Ms,
    p99VsRelay: ratio1,
    recordP99Ms: agg1.recordP99Ms,
    relayRecordP99Ms: relay1.recordP99Ms,
    recordP99VsRelay: round3(agg1.recordP99Ms / relay1.recordP99Ms),
    p50Ms3x: agg3.p50Ms,
    p99Ms3x: agg3.p99Ms,
    relayP50Ms3x: relay3.p50Ms,
    relayP99Ms3x: relay3.p99Ms,
    p99VsRelay3x: ratio3,
    recordP99Ms3x: agg3.recordP99Ms,
    relayRecordP99Ms3x: relay3.recordP99Ms,
    recordP99VsRelay3x: round3(agg3.recordP99Ms / relay3.recordP99Ms),
    lost: agg1.lost + agg3.lost,
    relayLost: relay1.lost + relay3.lost,
    stale: agg1.stale + agg3.stale,
    slowConsumerDisconnects: one.counters.slowConsumers + three.counters.slowConsumers,
    rejects: one.counters.rejects + three.counters.rejects,
    phases: { relay1x: relay1, aggregator1x: agg1, relay3x: relay3, aggregator3x: agg3 },
    target: { p99VsRelay: 1.5, p99VsRelay3x: 2, lost: 0 },
    pass: ratio1 <= 1.5 && ratio3 <= 2 && agg1.lost + agg3.lost === 0,
  };
}
