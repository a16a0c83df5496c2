// Injected faults for tests and scenarios (POST /sim/faults). Each HTTP fault applies to the
// next `count` matching requests (or until cleared when count is absent).

import { z } from 'zod';

export const FaultSchema = z.discriminatedUnion('kind', [
  // The request is not processed; the answer is this HTTP error (5xx: 500, 502, 503 "Service Unavailable.").
  z.object({
    kind: z.literal('error'),
    status: z.number().int().min(500).max(599).default(503),
    path: z.string().optional(),
    method: z.string().optional(),
    count: z.number().int().positive().optional(),
  }),
  // The request IS processed (an order is placed) but the answer is Binance's 503 "Unknown error".
  z.object({
    kind: z.literal('unknown'),
    path: z.string().optional(),
    method: z.string().optional(),
    count: z.number().int().positive().optional(),
  }),
  // Answers are delayed by ms.
  z.object({
    kind: z.literal('latency'),
    ms: z.number().int().min(0).max(600_000),
    path: z.string().optional(),
    method: z.string().optional(),
    count: z.number().int().positive().optional(),
  }),
  // Every WebSocket connection is dropped now.
  z.object({ kind: z.literal('drop-ws') }),
  // Market data of a symbol (or all) stops updating for ms.
  z.object({ kind: z.literal('stale'), symbol: z.string().optional(), ms: z.number().int().positive() }),
  // The exchange clock runs ms ahead (negative: behind) of real time.
  z.object({ kind: z.literal('skew'), ms: z.number().int().min(-3_600_000).max(3_600_000) }),
]);

export type Fault = z.infer<typeof FaultSchema>;
type HttpFault = Extract<Fault, { kind: 'error' | 'unknown' | 'latency' }>;

export class FaultBook {
  private http: HttpFault[] = [];

  add(f: HttpFault): void {
    this.http.push({ ...f });
  }

  /** The first fault of each kind matching this request; consumes one use of each. */
  take(method: string, path: string): { error?: number; unknown?: boolean; latencyMs?: number } {
    if (this.http.length === 0) return {};
    const out: { error?: number; unknown?: boolean; latencyMs?: number } = {};
    for (const f of this.http) {
      if (f.path !== undefined && !path.startsWith(f.path)) continue;
      if (f.method !== undefined && f.method.toUpperCase() !== method) continue;
      if (f.kind === 'error' && out.error === undefined) out.error = f.status;
      else if (f.kind === 'unknown' && out.unknown === undefined) out.unknown = true;
      else if (f.kind === 'latency' && out.latencyMs === undefined) out.latencyMs = f.ms;
      else continue;
      if (f.count !== undefined) f.count--;
    }
    this.http = this.http.filter((f) => f.count === undefined || f.count > 0);
    return out;
  }

  list(): HttpFault[] {
    return this.http.map((f) => ({ ...f }));
  }

  clear(): void {
    this.http = [];
  }
}
