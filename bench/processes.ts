// Child processes for benchmarks: the component under test gets its own process (its own core),
// so the load generator in the bench process does not share its event loop.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

const root = new URL('..', import.meta.url).pathname;

/** Starts `fleet <args>` and resolves with the first capture of `urlPattern` in its output. */
export async function startFleetProcess(
  args: string[],
  urlPattern: RegExp,
  what: string,
): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, ['bin/fleet.mjs', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = urlPattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}: ${out}`)));
  });
  return { child, origin };
}

/** Starts `fleet sim --port 0 …extra` and resolves with its REST origin once it printed it. */
export function startSimProcess(extra: string[] = []): Promise<{ child: ChildProcess; origin: string }> {
  return startFleetProcess(['sim', '--port', '0', ...extra], /REST\s+(http:\/\/[\d.]+:\d+)/, 'simulator');
}

/** Starts `fleet aggregator --port 0` with the given role:token pairs; resolves with its ws URL. */
export function startAggregatorProcess(tokens: string[]): Promise<{ child: ChildProcess; origin: string }> {
  return startFleetProcess(
    ['aggregator', '--port', '0', ...tokens.flatMap((t) => ['--token', t])],
    /listening on (ws:\/\/[\d.]+:\d+)/,
    'aggregator',
  );
}

/** SIGTERM, then wait for the exit. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}
