// fleet bench sim: how many requests per second the simulator serves on one core, for a
// single-symbol book ticker (weight 2) and for klines (limit 45), with p99 latency, under
// concurrent clients. The simulator runs in its own process (one event loop = one core); the
// load comes from this process over keep-alive connections. The same load against a bare
// node:http server answering a fixed bookTicker body in the same run is the baseline, so the
// ratio means something on a noisy shared machine.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { round3, runLoad } from './load.ts';
import { startSimProcess, stopProcess } from './processes.ts';

/** A child process serving a fixed bookTicker body with bare node:http: the floor. */
async function startBaselineProcess(body: string): Promise<{ child: ChildProcess; origin: string }> {
  const code = `
    const http = require('node:http');
    const body = ${JSON.stringify(body)};
    const s = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'x-mbx-used-weight-1m': '2' });
      res.end(body);
    });
    s.keepAliveTimeout = 65000;
    s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = /PORT (\d+)/.exec(data.toString())?.[1];
  if (!port) throw new Error('baseline did not start');
  return { child, origin: `http://127.0.0.1:${port}` };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: { seconds: { type: 'string' }, concurrency: { type: 'string' } },
  });
  const durationMs = Number(values.seconds ?? 5) * 1000;
  const concurrency = Number(values.concurrency ?? 32);

  const sim = await startSimProcess(['--symbols', '200', '--weight-limit', '1000000000']);
  try {
    const sample = await fetch(`${sim.origin}/fapi/v1/ticker/bookTicker?symbol=BTCUSDT`).then((r) =>
      r.text(),
    );
    const book = await runLoad({
      origin: sim.origin,
      path: '/fapi/v1/ticker/bookTicker?symbol=BTCUSDT',
      concurrency,
      durationMs,
    });
    const klines = await runLoad({
      origin: sim.origin,
      path: '/fapi/v1/klines?symbol=ETHUSDT&interval=1m&limit=45',
      concurrency,
      durationMs,
      headers: { 'accept-encoding': 'gzip' },
    });
    await stopProcess(sim.child);
    const base = await startBaselineProcess(sample);
    let baseline: Awaited<ReturnType<typeof runLoad>>;
    try {
      baseline = await runLoad({ origin: base.origin, path: '/', concurrency, durationMs });
    } finally {
      await stopProcess(base.child);
    }
    return {
      bench: 'sim',
      durationS: durationMs / 1000,
      concurrency,
      bookTickerRps: book.rps,
      p99Ms: book.p99Ms,
      p50Ms: book.p50Ms,
      klinesRps: klines.rps,
      klinesP99Ms: klines.p99Ms,
      baselineRps: baseline.rps,
      baselineP99Ms: baseline.p99Ms,
      bookTickerVsBaseline: round3(book.rps / baseline.rps),
      klinesVsBaseline: round3(klines.rps / baseline.rps),
      errors: book.errors + klines.errors,
      statuses: { bookTicker: book.statusCounts, klines: klines.statusCounts },
      target: { bookTickerRps: 5000 },
      pass: book.rps >= 5000 && book.errors === 0,
    };
  } finally {
    await stopProcess(sim.child);
  }
}
