// The listenKey store shared by the REST endpoints (POST/PUT/DELETE /fapi/v1/listenKey) and the
// private WebSocket streams.
//
// Binance's rules (reference §11.1): one key per account; a key is valid 60 minutes of exchange
// time after its creation or its last keepalive; POST while a key is active returns the same key
// and extends it; PUT extends it, or fails with -1125 when the account has no live key; DELETE
// closes the key and its streams. At expiry, sockets listening to the key receive
// `listenKeyExpired` and then nothing more.
//
// Expiry is noticed by `expireDue()`, which the runtime calls periodically and a virtual-clock
// test calls after advancing the clock. Every other method sweeps first as well, so a key past
// its time is never reported live, and its `listenKeyExpired` always goes out before anything
// that observed the expiry (a -1125, a new key, a dropped user event).

import { randomInt } from 'node:crypto';
import { apiError, type ListenKeyApi, type SimClock } from '../contracts.ts';

/** 60 minutes, Binance's listenKey validity. */
export const LISTEN_KEY_TTL_MS = 60 * 60 * 1000;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

interface KeyState {
  apiKey: string;
  listenKey: string;
  expiresAt: number;
}

export type ListenKeyListener = (apiKey: string, listenKey: string) => void;

export interface ListenKeyStore extends ListenKeyApi {
  /** Expires every key past its time; returns those keys (empty when none). */
  expireDue(): string[];
  /** Called once per key when it expires (after it stopped being live). */
  onExpired(cb: ListenKeyListener): () => void;
  /** Called once per key when DELETE closes it (after it stopped being live). */
  onClosed(cb: ListenKeyListener): () => void;
  /** The account's live key, or undefined. Sweeps expired keys first. */
  keyOf(apiKey: string): string | undefined;
  /**
   * Forgets every key (simulator reset). The expiry/close listeners are not called; the reset
   * listeners are, once, with every key that was live.
   */
  reset(): void;
  /** Called by reset() with the keys it forgot (after they stopped being live). */
  onReset(cb: (keys: Array<{ apiKey: string; listenKey: string }>) => void): () => void;
}

export function createListenKeys(clock: SimClock, opts: { ttlMs?: number } = {}): ListenKeyStore {
  const ttl = opts.ttlMs ?? LISTEN_KEY_TTL_MS;
  const byApiKey = new Map<string, KeyState>();
  const byListenKey = new Map<string, KeyState>();
  const expiredListeners = new Set<ListenKeyListener>();
  const closedListeners = new Set<ListenKeyListener>();
  const resetListeners = new Set<(keys: Array<{ apiKey: string; listenKey: string }>) => void>();
  /** Earliest expiry among live keys: makes the sweep free when nothing is due. */
  let nextDue = Number.POSITIVE_INFINITY;

  function newKey(): string {
    for (;;) {
      let s = '';
      for (let i = 0; i < 64; i++) s += ALPHABET[randomInt(ALPHABET.length)];
      if (!byListenKey.has(s)) return s;
    }
  }

  function notify(listeners: Set<ListenKeyListener>, apiKey: string, listenKey: string): void {
    for (const cb of [...listeners]) {
      try {
        cb(apiKey, listenKey);
      } catch {
        // A listener's failure must not stop the others or the store.
      }
    }
  }

  function recomputeDue(): void {
    nextDue = Number.POSITIVE_INFINITY;
    for (const st of byApiKey.values()) if (st.expiresAt < nextDue) nextDue = st.expiresAt;
  }

  function remove(st: KeyState): void {
    byApiKey.delete(st.apiKey);
    byListenKey.delete(st.listenKey);
  }

  function expireDue(): string[] {
    const now = clock.now();
    if (now < nextDue) return [];
    const due: KeyState[] = [];
    for (const st of byApiKey.values()) if (now >= st.expiresAt) due.push(st);
    for (const st of due) remove(st);
    recomputeDue();
    for (const st of due) notify(expiredListeners, st.apiKey, st.listenKey);
    return due.map((st) => st.listenKey);
  }

  function extend(st: KeyState): void {
    st.expiresAt = clock.now() + ttl;
    recomputeDue();
  }

  return {
    create(apiKey: string): string {
      expireDue();
      const active = byApiKey.get(apiKey);
      if (active) {
        extend(active);
        return active.listenKey;
      }
      const st: KeyState = { apiKey, listenKey: newKey(), expiresAt: clock.now() + ttl };
      byApiKey.set(apiKey, st);
      byListenKey.set(st.listenKey, st);
      if (st.expiresAt < nextDue) nextDue = st.expiresAt;
      return st.listenKey;
    },

    // Binance keys PUT by the API key; a stray listenKey parameter is tolerated and not compared
    // (the response names the active key, so a client holding an old one can tell).
    keepalive(apiKey: string, _listenKey?: string): string {
      expireDue();
      const active = byApiKey.get(apiKey);
      if (!active) throw apiError(-1125);
      extend(active);
      return active.listenKey;
    },

    // DELETE with no live key is not an error: the outcome the client asked for already holds.
    close(apiKey: string, _listenKey?: string): void {
      expireDue();
      const active = byApiKey.get(apiKey);
      if (!active) return;
      remove(active);
      recomputeDue();
      notify(closedListeners, active.apiKey, active.listenKey);
    },

    owner(listenKey: string): string | undefined {
      expireDue();
      return byListenKey.get(listenKey)?.apiKey;
    },

    keyOf(apiKey: string): string | undefined {
      expireDue();
      return byApiKey.get(apiKey)?.listenKey;
    },

    expireDue,

    onExpired(cb: ListenKeyListener): () => void {
      expiredListeners.add(cb);
      return () => expiredListeners.delete(cb);
    },

    onClosed(cb: ListenKeyListener): () => void {
      closedListeners.add(cb);
      return () => closedListeners.delete(cb);
    },

    reset(): void {
      const gone = [...byApiKey.values()].map((st) => ({ apiKey: st.apiKey, listenKey: st.listenKey }));
      byApiKey.clear();
      byListenKey.clear();
      nextDue = Number.POSITIVE_INFINITY;
      for (const cb of [...resetListeners]) {
        try {
          cb(gone);
        } catch {
          // A listener's failure must not stop the others or the store.
        }
      }
    },
    onReset(cb: (keys: Array<{ apiKey: string; listenKey: string }>) => void): () => void {
      resetListeners.add(cb);
      return () => resetListeners.delete(cb);
    },
  };
}
