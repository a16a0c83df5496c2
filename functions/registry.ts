// Every function by name (for the local scheduler, `fleet function` and the infra manifest).
import type { FunctionDef } from './lib/handler.ts';
import type { FunctionName } from './plan.ts';

export const FUNCTIONS: Record<FunctionName, () => Promise<FunctionDef<never>>> = {
  klines: async () => (await import('./klines/index.ts')).definition as FunctionDef<never>,
  'klines-fast': async () => (await import('./klines-fast/index.ts')).definition as FunctionDef<never>,
  book: async () => (await import('./book/index.ts')).definition as FunctionDef<never>,
  volume: async () => (await import('./volume/index.ts')).definition as FunctionDef<never>,
  'positions-account': async () =>
    (await import('./positions-account/index.ts')).definition as FunctionDef<never>,
  'positions-risk': async () => (await import('./positions-risk/index.ts')).definition as FunctionDef<never>,
  'positions-stream': async () =>
    (await import('./positions-stream/index.ts')).definition as FunctionDef<never>,
  'open-orders': async () => (await import('./open-orders/index.ts')).definition as FunctionDef<never>,
};
