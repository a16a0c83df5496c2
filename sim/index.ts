// The Binance USDⓈ-M futures simulator: market, engine, user streams, REST and WebSocket on one
// port. `startSim()` is what `fleet sim`, `fleet stack`, the tests and the benchmarks run.

import { type KeyObject, randomBytes } from 'node:crypto';
import { ExchangeClock } from './clock.ts';
import type { AccountConfig } from './contracts.ts';
import { createEngine } from './engine/engine.ts';
import { parseEd25519PublicKey } from './http/auth.ts';
import { addControlRoutes } from './http/control.ts';
import { createHttp } from './http/server.ts';
import { createMarket } from './market/market.ts';
import { createListenKeys } from './ws/listen-keys.ts';
import { attachStreams } from './ws/streams.ts';

/** The account the simulator accepts when none is configured (local use only). */
export const DEFAULT_ACCOUNT: AccountConfig = {
  apiKey: 'fLeEtSiMuLaToRdEfAuLtApIkEy0000000000000000000000000000000000001',
  apiSecret: 'fLeEtSiMuLaToRdEfAuLtApIsEcReT00000000000000000000000000000000001',
  balance: '10000',
};

/**
 * An account given to startSim: an HMAC secret, or an Ed25519 public key (PEM, SPKI) whose private
 * half signs the account's requests (base64 signature, URL-encoded), as Binance's Ed25519 API keys.
 */
export type SimAccount =
  | { apiKey: string; apiSecret: string; ed25519PublicKey?: undefined; balance?: string }
  | { apiKey: string; ed25519PublicKey: string; apiSecret?: undefined; balance?: string };

export interface SimOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  symbols?: number;
  seed?: number;
  /** Throws TypeError for an account with both or neither of apiSecret and ed25519PublicKey, or a bad PEM. */
  accounts?: SimAccount[];
  /** Starting USDT balance of accounts that do not state one. */
  balance?: string;
  /** Time moves only through POST /sim/clock (deterministic scenarios). */
  virtualClock?: boolean;
  /** Start of virtual time (ms). */
  startTime?: number;
  /** symbol → Binance public-data kline CSV to replay. */
  replay?: Map<string, string>;
  /** Serve /sim/ control endpoints to non-loopback clients too. */
  controlOpen?: boolean;
  /** Accept STOP/TAKE_PROFIT/TRAILING types on /fapi/v1/order (Binance before 2025-12-09). */
  legacyConditional?: boolean;
  weightLimit?: number;
  /** How often the real-time market advances (ms). */
  tickMs?: number;
}

export interface RunningSim {
  restUrl: string;
  wsUrl: string;
  host: string;
  port: number;
  accounts: AccountConfig[];
  clock: ExchangeClock;
  market: ReturnType<typeof createMarket>;
  engine: ReturnType<typeof createEngine>;
  http: ReturnType<typeof createHttp>;
  /** Advances the market and listenKey expiry to the clock's now. */
  sync(): void;
  close(): Promise<void>;
}

export async function startSim(opts: SimOptions = {}): Promise<RunningSim> {
  const host = opts.host ?? '127.0.0.1';
  const balance = opts.balance ?? '10000';
  const edKeys = new Map<string, KeyObject>();
  const accounts: AccountConfig[] =
    opts.accounts && opts.accounts.length > 0
      ? opts.accounts.map((a): AccountConfig => {
          if ((a.apiSecret === undefined) === (a.ed25519PublicKey === undefined)) {
            throw new TypeError(`account ${a.apiKey}: give exactly one of apiSecret and ed25519PublicKey`);
          }
          if (a.ed25519PublicKey === undefined) {
            edKeys.delete(a.apiKey);
            return { apiKey: a.apiKey, apiSecret: a.apiSecret as string, balance: a.balance ?? balance };
          }
          edKeys.set(a.apiKey, parseEd25519PublicKey(a.ed25519PublicKey));
          return {
            apiKey: a.apiKey,
            // Never used to verify: the account signs with Ed25519 only.
            apiSecret: randomBytes(32).toString('hex'),
            balance: a.balance ?? balance,
            ed25519PublicKey: a.ed25519PublicKey,
          };
        })
      : [{ ...DEFAULT_ACCOUNT, balance }];
  const clock = new ExchangeClock({ virtual: opts.virtualClock, start: opts.startTime });
  // The market (and the engine on it) runs on unskewed time; only what the server reports and
  // checks against is skewed.
  const market = createMarket({
    clock: clock.market,
    symbols: opts.symbols ?? 200,
    seed: opts.seed ?? 1,
    replay: opts.replay,
  });
  const engine = createEngine({ market, accounts, legacyConditional: opts.legacyConditional });
  const listenKeys = createListenKeys(clock.market);
  const http = createHttp({ market, engine, listenKeys, weightLimit: opts.weightLimit, serverClock: clock });
  for (const [apiKey, key] of edKeys) http.ed25519Keys.set(apiKey, key);

  const sync = (): void => {
    market.advanceTo(clock.market.now());
    listenKeys.expireDue();
  };

  let ws: ReturnType<typeof attachStreams> | undefined;
  addControlRoutes(http.app, {
    http,
    market,
    clock,
    engine,
    listenKeys,
    ws: { dropAll: () => ws?.dropAll() ?? 0, stats: () => ws?.stats() ?? {} },
    sync,
    open: opts.controlOpen,
  });
  await http.app.listen({ host, port: opts.port ?? 8600 });
  ws = attachStreams(http.app.server, { market, engine, listenKeys, clock });
  const address = http.app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 8600);

  const timer = clock.isVirtual ? undefined : setInterval(sync, opts.tickMs ?? 100);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    restUrl: `http://${urlHost}:${port}`,
    wsUrl: `ws://${urlHost}:${port}`,
    host,
    port,
    accounts,
    clock,
    market,
    engine,
    http,
    sync,
    async close() {
      if (timer) clearInterval(timer);
      await ws?.close();
      await http.app.close();
    },
  };
}
