// The simulator's WebSocket side: market and user-data streams, and the listenKey store.
export { createListenKeys, LISTEN_KEY_TTL_MS, type ListenKeyStore } from './listen-keys.ts';
export { attachStreams, type StreamDeps, type StreamOptions, type StreamsHandle } from './streams.ts';
