import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Decimal } from '../core/decimal.ts';
import { parseEd25519PublicKey } from '../sim/http/auth.ts';
import { DEFAULT_ACCOUNT, type SimAccount, type SimOptions, startSim } from '../sim/index.ts';
import { asUsage, type Command, UsageError, untilSignal } from './main.ts';

const usage = `fleet sim [options]

  --host H                 listen address (default 127.0.0.1)
  --port P                 REST and WebSocket port (default 8600; 0 = any free port)
  --symbols N              size of the universe, BTCUSDT first (default 200)
  --seed N                 seed of the price process (default 1)
  --api-key K --api-secret S
                           an account the simulator accepts; repeat the pair for several
                           accounts (default: one built-in test key pair)
  --api-key K --ed25519-public-key FILE
                           an account with an Ed25519 API key: FILE is its public key (PEM);
                           requests are signed with the private key (base64 signature).
                           Each --api-key pairs with the next --api-secret or
                           --ed25519-public-key, in order
  --balance X              starting USDT balance of each account (default 10000)
  --replay SYMBOL=FILE     replay a Binance public-data kline CSV for SYMBOL (repeatable)
  --virtual-clock          time moves only through POST /sim/clock {"advanceMs":…}
  --legacy-conditional     accept STOP/TAKE_PROFIT types on /fapi/v1/order (pre 2025-12-09)
  --control-open           serve /sim/ control endpoints to non-loopback clients too
  --weight-limit N         IP weight per minute (default 2400, as Binance)`;

export function parseSimArgs(args: string[]): SimOptions {
  const { values, tokens } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      symbols: { type: 'string' },
      seed: { type: 'string' },
      'api-key': { type: 'string', multiple: true },
      'api-secret': { type: 'string', multiple: true },
      'ed25519-public-key': { type: 'string', multiple: true },
      balance: { type: 'string' },
      replay: { type: 'string', multiple: true },
      'virtual-clock': { type: 'boolean' },
      'legacy-conditional': { type: 'boolean' },
      'control-open': { type: 'boolean' },
      'weight-limit': { type: 'string' },
    },
    strict: true,
    tokens: true,
  });
  const int = (name: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  const keys = values['api-key'] ?? [];
  // Credentials in command-line order: the i-th pairs with the i-th --api-key.
  const creds: Array<{ secret: string } | { pemFile: string }> = [];
  for (const t of tokens ?? []) {
    if (t.kind !== 'option' || t.value === undefined) continue;
    if (t.name === 'api-secret') creds.push({ secret: t.value });
    else if (t.name === 'ed25519-public-key') creds.push({ pemFile: t.value });
  }
  if (keys.length !== creds.length) {
    throw new UsageError('give each --api-key with an --api-secret or an --ed25519-public-key');
  }
  for (const k of keys) {
    if (!/^[\x21-\x7e]{8,128}$/.test(k))
      throw new UsageError('an API key is 8 to 128 printable ASCII characters');
  }
  if (
    values.balance !== undefined &&
    !(Decimal.isValid(values.balance) && Decimal.parse(values.balance).isPositive())
  ) {
    throw new UsageError('--balance must be a positive decimal number');
  }
  const replay = new Map<string, string>();
  for (const r of values.replay ?? []) {
    const i = r.indexOf('=');
    if (i <= 0) throw new UsageError('--replay takes SYMBOL=FILE');
    replay.set(r.slice(0, i).toUpperCase(), r.slice(i + 1));
  }
  return {
    host: values.host,
    port: int('port', values.port, 0, 65535),
    symbols: int('symbols', values.symbols, 1, 1000),
    seed: int('seed', values.seed, 0, 2 ** 31),
    accounts: keys.map((apiKey, i): SimAccount => {
      const c = creds[i];
      return 'secret' in c
        ? { apiKey, apiSecret: c.secret }
        : { apiKey, ed25519PublicKey: readPem(c.pemFile) };
    }),
    balance: values.balance,
    replay: replay.size > 0 ? replay : undefined,
    virtualClock: values['virtual-clock'],
    legacyConditional: values['legacy-conditional'],
    controlOpen: values['control-open'],
    weightLimit: int('weight-limit', values['weight-limit'], 1, 1_000_000_000),
  };
}

/** Reads and checks an Ed25519 public key PEM file; UsageError when unreadable or not one. */
function readPem(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--ed25519-public-key ${file}: ${(err as Error).message}`);
  }
  try {
    parseEd25519PublicKey(pem);
  } catch (err) {
    throw new UsageError(`--ed25519-public-key ${file}: ${(err as Error).message}`);
  }
  return pem;
}

/** Shows an API secret only when it is the public built-in test secret. */
export function maskSecret(secret: string): string {
  return secret === DEFAULT_ACCOUNT.apiSecret ? secret : `${secret.slice(0, 4)}… (hidden)`;
}

export const command: Command = {
  summary: 'run the Binance USDⓈ-M futures simulator (REST + WebSocket)',
  usage,
  async run(args) {
    const opts = asUsage(() => parseSimArgs(args));
    const sim = await startSim(opts);
    const lines = [
      `fleet sim: ${sim.market.specs().length} symbols, ${sim.clock.isVirtual ? 'virtual' : 'real-time'} clock`,
      `  REST       ${sim.restUrl}            (Binance: https://fapi.binance.com)`,
      `  WebSocket  ${sim.wsUrl}/public|/market|/private  (Binance: wss://fstream.binance.com)`,
      `  control    ${sim.restUrl}/sim`,
      '  accounts:',
      ...sim.accounts.map(
        (a) =>
          `    api key ${a.apiKey}  ${a.ed25519PublicKey !== undefined ? 'Ed25519 public key' : `secret ${maskSecret(a.apiSecret)}`}  balance ${a.balance} USDT`,
      ),
    ];
    console.log(lines.join('\n'));
    await untilSignal();
    await sim.close();
  },
};
