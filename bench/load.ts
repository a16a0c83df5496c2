// A closed-loop HTTP load generator on undici: `concurrency` requests in flight for `durationMs`,
// latencies recorded per request. Shared by the benchmarks.

import { Pool } from 'undici';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  statusCounts: Record<string, number>;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export async function runLoad(opts: {
  origin: string;
  path: string;
  concurrency: number;
  durationMs: number;
  warmupMs?: number;
  headers?: Record<string, string>;
}): Promise<LoadResult> {
  const pool = new Pool(opts.origin, { connections: opts.concurrency, pipelining: 1 });
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let errors = 0;
  let measuring = false;
  const one = async () => {
    const t0 = performance.now();
    try {
      const res = await pool.request({ method: 'GET', path: opts.path, headers: opts.headers });
      await res.body.text();
      if (measuring) {
        latencies.push(performance.now() - t0);
        statusCounts[res.statusCode] = (statusCounts[res.statusCode] ?? 0) + 1;
      }
    } catch {
      if (measuring) errors++;
    }
  };
  const loop = async (until: () => boolean) => {
    while (!until()) await one();
  };
  const warmEnd = performance.now() + (opts.warmupMs ?? 500);
  await Promise.all(Array.from({ length: opts.concurrency }, () => loop(() => performance.now() >= warmEnd)));
  measuring = true;
  const start = performance.now();
  const end = start + opts.durationMs;
  await Promise.all(Array.from({ length: opts.concurrency }, () => loop(() => performance.now() >= end)));
  const elapsed = performance.now() - start;
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: latencies.length,
    errors,
    rps: Math.round((latencies.length / elapsed) * 1000),
    p50Ms: round3(percentile(sorted, 50)),
    p99Ms: round3(percentile(sorted, 99)),
    statusCounts,
  };
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
