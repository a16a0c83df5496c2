import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import {
  type AggregatorOptions,
  type AggregatorToken,
  startAggregator,
  tokenConflict,
} from '../aggregator/index.ts';
import { ROLES, type Role } from '../core/protocol/topics.ts';
import { asUsage, type Command, UsageError, untilSignal } from './main.ts';

/**
 * V8 flags for the aggregator process. Every book frame allocates a few hundred kB that die at
 * once; with the default young generation that is a 1-2 ms scavenge several times a second,
 * which shows in delivery p99. A 64 MB semi-space makes them a few seconds apart.
 */
export const DEFAULT_V8_FLAGS = ['--max-semi-space-size=64', '--min-semi-space-size=64'];

const usage = `fleet aggregator [options]

  --host H                 listen address (default 127.0.0.1; production: the VM's private address)
  --port P                 WebSocket and /metrics port (default 8700; 0 = any free port)
  --token ROLE:SECRET      a token and its role: collector (publish), trader (subscribe, cursors),
                           admin (everything, incl. risk.ban and the kill switch); repeatable
  --max-frame-bytes N      largest frame a client may send (default 1048576)
  --max-buffered-bytes N   send buffer per connection before a slow consumer is dropped
                           (default 16777216)

Environment (used when the flag is absent; tokens from both are combined):
  FLEET_AGGREGATOR_TOKENS  comma-separated ROLE:SECRET list, e.g. "collector:x,trader:y"
  FLEET_AGGREGATOR_HOST, FLEET_AGGREGATOR_PORT

Tokens are never printed or logged. Prefer the environment in production: command-line
arguments are visible to every user of the machine. SIGTERM or SIGINT drains and stops.

The aggregator runs with a large V8 young generation (FLEET_AGGREGATOR_V8_FLAGS, default
"${DEFAULT_V8_FLAGS.join(' ')}"; empty: none): when node
was not started with them, the command starts itself again with them and forwards signals.
Protocol: docs/protocol.md`;

/** The V8 flags this process lacks (none when re-executed already, or when disabled). */
export function missingV8Flags(env: NodeJS.ProcessEnv = process.env, execArgv = process.execArgv): string[] {
  if (env.FLEET_AGGREGATOR_REEXEC === '1') return [];
  const wanted = (env.FLEET_AGGREGATOR_V8_FLAGS ?? DEFAULT_V8_FLAGS.join(' ')).split(/\s+/).filter(Boolean);
  return wanted.filter((f) => !execArgv.includes(f));
}

/** Runs this same command in a child node with the V8 flags; forwards signals; mirrors the exit. */
async function reexec(flags: string[]): Promise<void> {
  const child = spawn(process.execPath, [...process.execArgv, ...flags, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, FLEET_AGGREGATOR_REEXEC: '1' },
  });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise<number>((resolve) => {
    child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
    child.on('error', () => resolve(1));
  });
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  process.exitCode = code;
}

/** Parses "role:secret" items; the secret may itself contain ':'. */
export function parseTokens(items: string[]): AggregatorToken[] {
  const out: AggregatorToken[] = [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === '') continue;
    const i = item.indexOf(':');
    const role = (i < 0 ? '' : item.slice(0, i)) as Role;
    const token = i < 0 ? '' : item.slice(i + 1);
    if (!ROLES.includes(role))
      // Without a ':' the whole item may be a secret: never echo it.
      throw new UsageError(
        `a token is ROLE:SECRET with ROLE one of ${ROLES.join(', ')}${i < 0 ? '' : ` (got "${role.slice(0, 20)}")`}`,
      );
    if (!/^[\x21-\x7e]+$/.test(token) || token.includes(','))
      throw new UsageError(`the ${role} token must be printable ASCII without spaces or commas`);
    out.push({ role, token });
  }
  return out;
}

export function parseAggregatorArgs(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): AggregatorOptions & { weakTokens: Role[] } {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      token: { type: 'string', multiple: true },
      'max-frame-bytes': { type: 'string' },
      'max-buffered-bytes': { type: 'string' },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  const tokens = [
    ...parseTokens(values.token ?? []),
    ...parseTokens((env.FLEET_AGGREGATOR_TOKENS ?? '').split(',')),
  ];
  if (tokens.length === 0)
    throw new UsageError(
      'give at least one --token ROLE:SECRET (or FLEET_AGGREGATOR_TOKENS="collector:…,trader:…")',
    );
  // Flags and the environment together: one secret for two roles would silently be the first.
  const conflict = tokenConflict(tokens);
  if (conflict !== null) throw new UsageError(conflict);
  return {
    host: values.host ?? (env.FLEET_AGGREGATOR_HOST || undefined),
    port: int('port', values.port ?? (env.FLEET_AGGREGATOR_PORT || undefined), 0, 65535) ?? 8700,
    tokens,
    maxFrameBytes: int('max-frame-bytes', values['max-frame-bytes'], 1024, 64 * 1024 * 1024),
    maxBufferedBytes: int('max-buffered-bytes', values['max-buffered-bytes'], 64 * 1024, 1024 * 1024 * 1024),
    weakTokens: [...new Set(tokens.filter((t) => t.token.length < 16).map((t) => t.role))],
  };
}

export const command: Command = {
  summary: 'run the aggregator: merges every source, serves traders (protocol v1, WebSocket)',
  usage,
  async run(args) {
    const opts = asUsage(() => parseAggregatorArgs(args));
    const flags = missingV8Flags();
    if (flags.length > 0) return reexec(flags);
    const { weakTokens, ...options } = opts;
    const agg = await startAggregator(options);
    const roles = ROLES.map((r) => `${r} ×${options.tokens.filter((t) => t.role === r).length}`).join(', ');
    const lines = [
      `fleet aggregator: listening on ${agg.url}  (protocol v1, docs/protocol.md; pid ${process.pid})`,
      `  tokens   ${roles}`,
      `  metrics  ${agg.metricsUrl}`,
    ];
    if (weakTokens.length > 0)
      lines.push(`  warning: short tokens (< 16 characters) for ${weakTokens.join(', ')}`);
    console.log(lines.join('\n'));
    const sig = await untilSignal();
    // The same signal may come twice (a terminal's Ctrl-C or systemd reach the whole process
    // group, and a re-executing parent forwards it): the drain is not cut short by the second.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', ignore);
    console.log(`fleet aggregator: ${sig}, draining`);
    await agg.close();
    process.off('SIGINT', ignore);
    process.off('SIGTERM', ignore);
  },
};
