// Structured logging (pino). Secrets never reach a log: known secret-bearing keys are redacted
// wherever they appear in a logged object.

import pino, { type Logger } from 'pino';

export const REDACT_KEYS = [
  'apiSecret',
  'secret',
  'token',
  'tokens',
  'signature',
  'authorization',
  'password',
  'webhook',
  'accessKeySecret',
];

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  const paths = REDACT_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  return pino({ name, level, redact: { paths, censor: '[redacted]' }, base: { component: name } });
}

export type { Logger };
