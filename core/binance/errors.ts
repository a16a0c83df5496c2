// Typed Binance errors. Every Binance error code maps through ONE table (CODE_CATEGORY) to a
// category, and every category to one class; HTTP status and the endpoint decide the rest:
// 429 → RateLimitError, 418 → IpBannedError; a 5xx / -1000 / -1006 / -1007 / a timeout on any
// write (not a GET) → UnknownOutcomeError (it may have happened: an order may exist; settle it by
// client order id, never retry blindly); the same on a GET → ServerError (retry-safe). The 503
// variants are told apart by message text (reference §5.1): "Service Unavailable.", -1001
// "Internal error…" and -1008 "throttled" are certain failures (ServerError, retry-safe, on
// writes too); only "Unknown error, please check your request…" is an unknown outcome.
//
// `retrySafe` means: the request certainly had no effect, and sending it again (later) may
// succeed. Rejections that will fail again (auth, filters, margin, bad parameters) are not
// retry-safe, and neither is an unknown outcome.

import { BINANCE_CODES } from './codes.ts';

export type ErrorCategory =
  | 'rate-limit'
  | 'clock'
  | 'auth'
  | 'filter'
  | 'margin'
  | 'order-not-found'
  | 'order-rejected'
  | 'invalid-request'
  | 'unknown-outcome'
  | 'server'
  | 'listen-key';

/**
 * Binance error code → category. Covers every code of codes.ts (a test checks it) and the other
 * documented codes a client can meet; codes not listed fall back by range (categoryOf).
 */
export const CODE_CATEGORY: Readonly<Record<number, ErrorCategory>> = {
  // 10xx general
  [-1000]: 'unknown-outcome', // UNKNOWN "An unknown error occured while processing the request."

  [-1001]: 'server', // DISCONNECTED "Internal error; unable to process your request"
  [-1002]: 'auth', // UNAUTHORIZED
  [-1003]: 'rate-limit', // TOO_MANY_REQUESTS (429, or 418 when banned)
  [-1004]: 'auth', // DUPLICATE_IP
  [-1005]: 'auth', // NO_SUCH_IP
  [-1006]: 'unknown-outcome', // UNEXPECTED_RESP: execution status unknown
  [-1007]: 'unknown-outcome', // TIMEOUT: execution status unknown
  [-1008]: 'server', // REQUEST_THROTTLED (system overload)
  [-1010]: 'server', // ERROR_MSG_RECEIVED
  [-1011]: 'auth', // NON_WHITE_LIST
  [-1013]: 'filter', // INVALID_MESSAGE (spot's "Filter failure: …")
  [-1014]: 'order-rejected', // UNKNOWN_ORDER_COMPOSITION
  [-1015]: 'rate-limit', // TOO_MANY_ORDERS
  [-1016]: 'server', // SERVICE_SHUTTING_DOWN
  [-1020]: 'invalid-request', // UNSUPPORTED_OPERATION
  [-1021]: 'clock', // INVALID_TIMESTAMP
  [-1022]: 'auth', // INVALID_SIGNATURE
  [-1023]: 'invalid-request', // START_TIME_GREATER_THAN_END_TIME
  [-1099]: 'auth', // NOT_FOUND, unauthenticated, or unauthorized
  // 11xx request issues
  [-1100]: 'invalid-request',
  [-1101]: 'invalid-request',
  [-1102]: 'invalid-request',
  [-1103]: 'invalid-request',
  [-1104]: 'invalid-request',
  [-1105]: 'invalid-request',
  [-1106]: 'invalid-request',
  [-1108]: 'invalid-request',
  [-1109]: 'invalid-request',
  [-1110]: 'invalid-request',
  [-1111]: 'filter', // BAD_PRECISION
  [-1112]: 'order-rejected', // NO_DEPTH
  [-1113]: 'invalid-request', // WITHDRAW_NOT_NEGATIVE
  [-1114]: 'invalid-request',
  [-1115]: 'invalid-request',
  [-1116]: 'invalid-request',
  [-1117]: 'invalid-request',
  [-1118]: 'invalid-request',
  [-1119]: 'invalid-request',
  [-1120]: 'invalid-request',
  [-1121]: 'invalid-request',
  [-1122]: 'invalid-request',
  [-1125]: 'listen-key', // INVALID_LISTEN_KEY
  [-1126]: 'invalid-request',
  [-1127]: 'invalid-request',
  [-1128]: 'invalid-request',
  [-1130]: 'invalid-request',
  [-1136]: 'invalid-request',
  // 20xx processing
  [-2010]: 'order-rejected', // NEW_ORDER_REJECTED
  [-2011]: 'order-not-found', // CANCEL_REJECTED "Unknown order sent."
  [-2012]: 'order-rejected', // CANCEL_ALL_FAIL
  [-2013]: 'order-not-found', // NO_SUCH_ORDER
  [-2014]: 'auth', // BAD_API_KEY_FMT
  [-2015]: 'auth', // REJECTED_MBX_KEY
  [-2016]: 'invalid-request', // NO_TRADING_WINDOW
  [-2017]: 'auth', // API_KEYS_LOCKED
  [-2018]: 'margin', // BALANCE_NOT_SUFFICIENT
  [-2019]: 'margin', // MARGIN_NOT_SUFFICIEN
  [-2020]: 'order-rejected', // UNABLE_TO_FILL
  [-2021]: 'order-rejected', // ORDER_WOULD_IMMEDIATELY_TRIGGER
  [-2022]: 'order-rejected', // REDUCE_ONLY_REJECT
  [-2023]: 'margin', // USER_IN_LIQUIDATION
  [-2024]: 'order-rejected', // POSITION_NOT_SUFFICIENT
  [-2025]: 'order-rejected', // MAX_OPEN_ORDER_EXCEEDED
  [-2026]: 'order-rejected', // REDUCE_ONLY_ORDER_TYPE_NOT_SUPPORTED
  [-2027]: 'margin', // MAX_LEVERAGE_RATIO
  [-2028]: 'margin', // MIN_LEVERAGE_RATIO
  // 40xx filters and other rejections
  [-4000]: 'order-rejected', // INVALID_ORDER_STATUS
  [-4001]: 'filter',
  [-4002]: 'filter',
  [-4003]: 'filter',
  [-4004]: 'filter',
  [-4005]: 'filter',
  [-4006]: 'filter',
  [-4007]: 'filter',
  [-4013]: 'filter',
  [-4014]: 'filter',
  [-4015]: 'invalid-request', // INVALID_CL_ORD_ID_LEN
  [-4016]: 'filter',
  [-4021]: 'invalid-request', // INVALID_DEPTH_LIMIT
  [-4023]: 'filter',
  [-4024]: 'filter',
  [-4028]: 'invalid-request', // INVALID_LEVERAGE
  [-4031]: 'invalid-request', // INVALID_WORKING_TYPE
  [-4045]: 'order-rejected', // MAX_STOP_ORDER_EXCEEDED
  [-4046]: 'order-rejected', // NO_NEED_TO_CHANGE_MARGIN_TYPE
  [-4047]: 'order-rejected', // THERE_EXISTS_OPEN_ORDERS
  [-4048]: 'order-rejected', // THERE_EXISTS_QUANTITY
  [-4049]: 'margin',
  [-4050]: 'margin',
  [-4051]: 'margin', // isolated balance insufficient
  [-4052]: 'margin',
  [-4053]: 'margin',
  [-4054]: 'margin',
  [-4055]: 'margin',
  [-4056]: 'auth', // INVALID_API_KEY_TYPE
  [-4057]: 'auth', // INVALID_RSA_PUBLIC_KEY
  [-4059]: 'order-rejected', // NO_NEED_TO_CHANGE_POSITION_SIDE
  [-4060]: 'invalid-request', // INVALID_POSITION_SIDE
  [-4061]: 'order-rejected', // POSITION_SIDE_NOT_MATCH
  [-4062]: 'order-rejected', // REDUCE_ONLY_CONFLICT
  [-4067]: 'order-rejected',
  [-4068]: 'order-rejected',
  [-4082]: 'invalid-request', // INVALID_BATCH_PLACE_ORDER_SIZE
  [-4083]: 'order-rejected', // PLACE_BATCH_ORDERS_FAIL
  [-4109]: 'auth', // INACTIVE_ACCOUNT
  [-4116]: 'order-rejected', // DUPLICATED_CLIENT_ORDER_ID
  [-4117]: 'order-rejected', // STOP_ORDER_TRIGGERING
  [-4118]: 'order-rejected', // REDUCE_ONLY_MARGIN_CHECK_FAILED
  [-4120]: 'order-rejected', // STOP_ORDER_SWITCH_ALGO
  [-4130]: 'order-rejected',
  [-4131]: 'filter', // MARKET_ORDER_REJECT (PERCENT_PRICE)
  [-4135]: 'filter', // INVALID_ACTIVATION_PRICE
  [-4137]: 'invalid-request', // QUANTITY_EXISTS_WITH_CLOSE_POSITION
  [-4138]: 'invalid-request', // REDUCE_ONLY_MUST_BE_TRUE
  [-4140]: 'order-rejected', // INVALID_OPENING_POSITION_STATUS
  [-4141]: 'order-rejected', // SYMBOL_ALREADY_CLOSED
  [-4142]: 'order-rejected', // STRATEGY_INVALID_TRIGGER_PRICE
  [-4161]: 'order-rejected',
  [-4164]: 'filter', // MIN_NOTIONAL
  [-4165]: 'invalid-request', // INVALID_TIME_INTERVAL
  [-4167]: 'order-rejected', // -4167..-4172: multi-assets mode conflicts (a setting change refused)
  [-4168]: 'order-rejected',
  [-4169]: 'order-rejected',
  [-4170]: 'order-rejected',
  [-4171]: 'order-rejected',
  [-4172]: 'order-rejected',
  [-4183]: 'filter',
  [-4184]: 'filter',
  [-4192]: 'order-rejected', // COOLING_OFF_PERIOD
  [-4202]: 'order-rejected', // -4202..-4209: leverage KYC / limits
  [-4203]: 'order-rejected',
  [-4204]: 'order-rejected',
  [-4205]: 'order-rejected',
  [-4206]: 'order-rejected',
  [-4207]: 'order-rejected',
  [-4208]: 'order-rejected',
  [-4209]: 'invalid-request', // leverage above the symbol's max
  [-4210]: 'filter',
  [-4211]: 'filter',
  [-4400]: 'order-rejected', // -4400..-4403: quantitative rules / compliance (only reduceOnly allowed, region)
  [-4401]: 'order-rejected',
  [-4402]: 'order-rejected',
  [-4403]: 'order-rejected',
  // 50xx order execution
  [-5000]: 'invalid-request', // path retired / invalid
  [-5021]: 'order-rejected', // FOK_ORDER_REJECT
  [-5022]: 'order-rejected', // GTX_ORDER_REJECT
  [-5024]: 'order-rejected',
  [-5025]: 'invalid-request', // LIMIT_ORDER_ONLY
  [-5026]: 'order-rejected',
  [-5027]: 'order-rejected', // SAME_ORDER
  [-5028]: 'clock', // ME_RECVWINDOW_REJECT: timestamp outside the ME recvWindow, rejected before execution
  [-5029]: 'filter', // MODIFICATION_MIN_NOTIONAL
  [-5037]: 'invalid-request',
  [-5038]: 'invalid-request',
  [-5039]: 'invalid-request',
  [-5040]: 'invalid-request',
  [-5041]: 'order-rejected', // BBO_ORDER_REJECT
  [-5043]: 'order-rejected',
};

/** The category of a code: the table, else by range. */
export function categoryOf(code: number): ErrorCategory {
  const c = CODE_CATEGORY[code];
  if (c !== undefined) return c;
  if (code <= -1100 && code > -1200) return 'invalid-request';
  if (code <= -1000 && code > -1100) return 'server';
  if (code <= -2000 && code > -3000) return 'order-rejected';
  if (code <= -4000 && code > -5000) return 'order-rejected';
  if (code <= -5000 && code > -6000) return 'order-rejected';
  return 'invalid-request';
}

/**
 * Endpoints that place, modify or cancel orders: POST/PUT/DELETE order, batchOrders, algoOrder.
 * (Every write, not only these, is an unknown outcome when its answer is lost: see isWrite.)
 */
export function isOrderPlacing(method: string, path: string): boolean {
  if (method === 'GET') return false;
  return path === '/fapi/v1/order' || path === '/fapi/v1/batchOrders' || path === '/fapi/v1/algoOrder';
}

/** Any request but a GET changes something: a lost answer leaves its effect unknown. */
export function isWrite(method: string | undefined): boolean {
  return method !== undefined && method.toUpperCase() !== 'GET';
}

/** 503 "Unknown error, please check your request or try again later.": reached the engine, status unknown. */
const UNKNOWN_503_RE = /^Unknown error, please check your request/i;
/** Certain failures whatever the endpoint (reference §5.1 B, C, D). */
const CERTAIN_FAILURE_RE = /^Service Unavailable|^Internal error; unable to process your request|throttled/i;
const CERTAIN_FAILURE_CODES = new Set([-1001, -1008, -1016]);

export interface ErrorInit {
  code?: number;
  status?: number;
  method?: string;
  path?: string;
  cause?: unknown;
}

export class BinanceError extends Error {
  readonly code: number | undefined;
  readonly status: number | undefined;
  readonly retrySafe: boolean;
  readonly method?: string;
  readonly path?: string;
  /** Binance's name of the code (codes.ts), e.g. "INVALID_TIMESTAMP". */
  readonly codeName?: string;

  constructor(message: string, init: ErrorInit = {}, retrySafe = false) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.retrySafe = retrySafe;
    if (init.method !== undefined) this.method = init.method;
    if (init.path !== undefined) this.path = init.path;
    if (init.code !== undefined && BINANCE_CODES[init.code]) this.codeName = BINANCE_CODES[init.code].name;
  }
}

/** 429 (-1003 weight, -1015 order count): rejected before processing; wait retryAfterMs. */
export class RateLimitError extends BinanceError {
  /** How long to wait before this budget has room (Retry-After, or the local estimate). */
  readonly retryAfterMs: number | undefined;
  /**
   * Which budget: the IP's request weight, the account's order count, or one of the IP's
   * request-count pools (fundingRate/fundingInfo, /futures/data/*).
   */
  readonly scope: RateLimitScope;
  constructor(message: string, init: ErrorInit & { retryAfterMs?: number; scope?: RateLimitScope } = {}) {
    super(message, init, true);
    this.retryAfterMs = init.retryAfterMs;
    this.scope = init.scope ?? 'ip';
  }
}

export type RateLimitScope = 'ip' | 'orders' | 'pool';

/**
 * The request waited its maximum (maxWaitMs) for rate-limit budget and was NOT sent: retry-safe.
 * Raised instead of sending an order (or a read) long after the caller asked for it.
 */
export class ThrottleTimeoutError extends RateLimitError {
  /** How long it waited in the queue (0: refused at once, the wait was certain to be longer). */
  readonly waitedMs: number;
  constructor(
    message: string,
    init: ErrorInit & { retryAfterMs?: number; scope?: RateLimitScope; waitedMs?: number } = {},
  ) {
    super(message, init);
    this.waitedMs = init.waitedMs ?? 0;
  }
}

/** 418: the egress address is banned until `until` (local epoch ms). */
export class IpBannedError extends BinanceError {
  readonly until: number;
  readonly address?: string;
  constructor(message: string, init: ErrorInit & { until: number; address?: string }) {
    super(message, init, true);
    this.until = init.until;
    if (init.address !== undefined) this.address = init.address;
  }
}

/** -1021 / -5028: timestamp outside (ME) recvWindow. The client re-syncs and retries once before raising it. */
export class ClockError extends BinanceError {
  constructor(message: string, init: ErrorInit = {}) {
    super(message, init, true);
  }
}

/** -2014, -2015, -1022, -1002 and the IP white-list codes. */
export class AuthError extends BinanceError {}

/** Price/quantity/notional filters (-1111, -4xxx filter codes, -4164, -1013). */
export class FilterError extends BinanceError {}

/** -2019, -2018, -2027, -2028 and isolated-margin failures. */
export class MarginError extends BinanceError {}

/** -2011, -2013: the order is not known (or not any more) to the exchange. */
export class OrderNotFoundError extends BinanceError {}

/** The exchange refused the order (or a setting change) on its own logic: -2010, -2021, -2022, -4061, -5021, -5022, -4120, … */
export class OrderRejectedError extends BinanceError {}

/** Malformed or unacceptable parameters (-11xx and kin). */
export class InvalidRequestError extends BinanceError {}

/**
 * The request reached the exchange (or may have) and its effect is unknown: 5xx, 503 "Unknown
 * error", -1000, -1006, -1007, a timeout or a dropped connection after sending, an answer of the
 * wrong shape, on a write (any method but GET). An order may exist: settle it by a query by
 * client order id or the user stream.
 */
export class UnknownOutcomeError extends BinanceError {
  /** newClientOrderId / origClientOrderId / clientAlgoId of the request, when it had one. */
  readonly clientOrderId?: string;
  /** The answer, when one arrived (e.g. a 200 body that failed the schema). */
  readonly raw?: unknown;
  constructor(message: string, init: ErrorInit & { clientOrderId?: string; raw?: unknown } = {}) {
    super(message, init, false);
    if (init.clientOrderId !== undefined) this.clientOrderId = init.clientOrderId;
    if (init.raw !== undefined) this.raw = init.raw;
  }
}

/** 5xx (or a timeout / dropped connection) on a GET, or a certain server-side failure: safe to retry. */
export class ServerError extends BinanceError {
  constructor(message: string, init: ErrorInit = {}) {
    super(message, init, true);
  }
}

/** Could not connect (nothing was sent): safe to retry. */
export class NetworkError extends BinanceError {
  constructor(message: string, init: ErrorInit = {}) {
    super(message, init, true);
  }
}

/** -1125: the listenKey does not exist (expired or deleted): create a new one. */
export class ListenKeyError extends BinanceError {}

export interface ErrorContext {
  method?: string;
  path?: string;
  /** Response headers (lower-case names), for Retry-After. */
  headers?: Record<string, string | string[] | undefined>;
  /** Request parameters, to name the client order id of an unknown outcome. */
  params?: Record<string, unknown>;
  /** Exchange time → local time, for "banned until <ms>" (default: identity). */
  toLocalTime?: (exchangeMs: number) => number;
  /** Local now (default Date.now()). */
  now?: number;
}

function header(h: ErrorContext['headers'], name: string): string | undefined {
  const v = h?.[name];
  return Array.isArray(v) ? v[0] : v;
}

function retryAfterMsOf(ctx: ErrorContext): number | undefined {
  const v = header(ctx.headers, 'retry-after');
  if (v === undefined) return undefined;
  const s = Number(v);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

/** The client order id a request names (newClientOrderId, origClientOrderId, clientAlgoId, or the batch's). */
export function clientOrderIdOf(params: Record<string, unknown> | undefined): string | undefined {
  if (!params) return undefined;
  for (const k of ['newClientOrderId', 'origClientOrderId', 'clientAlgoId']) {
    const v = params[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  // batchOrders: the ids of the items, comma-separated.
  const batch = params.batchOrders;
  if (typeof batch === 'string') {
    try {
      const items = JSON.parse(batch) as Array<{ newClientOrderId?: unknown }>;
      const ids = items.map((i) => i?.newClientOrderId).filter((x): x is string => typeof x === 'string');
      if (ids.length > 0) return ids.join(',');
    } catch {}
  }
  return undefined;
}

const CLASSES: Record<
  Exclude<ErrorCategory, 'rate-limit' | 'clock' | 'unknown-outcome' | 'server'>,
  new (
    message: string,
    init: ErrorInit,
  ) => BinanceError
> = {
  auth: AuthError,
  filter: FilterError,
  margin: MarginError,
  'order-not-found': OrderNotFoundError,
  'order-rejected': OrderRejectedError,
  'invalid-request': InvalidRequestError,
  'listen-key': ListenKeyError,
};

/**
 * The typed error for an HTTP answer that was not a success. `body` is the parsed JSON body
 * ({"code","msg"}), its text, or undefined.
 */
export function toBinanceError(status: number, body: unknown, ctx: ErrorContext = {}): BinanceError {
  let code: number | undefined;
  let msg: string | undefined;
  if (body && typeof body === 'object') {
    const b = body as { code?: unknown; msg?: unknown };
    if (typeof b.code === 'number') code = b.code;
    if (typeof b.msg === 'string') msg = b.msg;
  } else if (typeof body === 'string' && body !== '') {
    msg = body.length > 300 ? `${body.slice(0, 300)}…` : body;
  }
  const method = ctx.method?.toUpperCase();
  const init: ErrorInit = { code, status, method, path: ctx.path };
  const where = method && ctx.path ? ` (${method} ${ctx.path})` : '';
  const text = `${msg ?? `HTTP ${status}`}${where}`;
  const write = isWrite(method);
  const now = ctx.now ?? Date.now();

  if (status === 418) {
    const m = msg ? /banned until (\d{10,16})/.exec(msg) : null;
    const ra = retryAfterMsOf(ctx);
    let until: number;
    if (m) until = (ctx.toLocalTime ?? ((x: number) => x))(Number(m[1]));
    else until = now + (ra ?? 120_000);
    return new IpBannedError(text, { ...init, until });
  }
  if (status === 429 || code === -1003 || code === -1015) {
    return new RateLimitError(text, {
      ...init,
      retryAfterMs: retryAfterMsOf(ctx),
      scope: code === -1015 ? 'orders' : 'ip',
    });
  }
  const category = code === undefined ? undefined : categoryOf(code);
  const serverSide = status >= 500 || category === 'unknown-outcome';
  if (serverSide) {
    // §5.1: by message text first ("Unknown error…" is unknown whatever its code), then by code.
    const unknownText = msg !== undefined && UNKNOWN_503_RE.test(msg);
    const certain =
      !unknownText &&
      ((msg !== undefined && CERTAIN_FAILURE_RE.test(msg)) ||
        (code !== undefined && CERTAIN_FAILURE_CODES.has(code)));
    if (write && !certain) {
      return new UnknownOutcomeError(text, { ...init, clientOrderId: clientOrderIdOf(ctx.params) });
    }
    return new ServerError(text, init);
  }
  if (category === 'clock') return new ClockError(text, init);
  if (category === 'server') return new ServerError(text, init);
  if (category === undefined) {
    // No Binance code: a proxy, the WAF (403), a backend timeout (408).
    if (status === 408) {
      return write
        ? new UnknownOutcomeError(text, { ...init, clientOrderId: clientOrderIdOf(ctx.params) })
        : new ServerError(text, init);
    }
    if (status === 401 || status === 403) return new AuthError(text, init);
    return new InvalidRequestError(text, init);
  }
  if (category === 'rate-limit') return new RateLimitError(text, init);
  return new CLASSES[category](text, init);
}

/**
 * The error for a transport failure. `sent`: whether the request may have left (false only when
 * the connection was never established).
 */
export function transportError(err: unknown, ctx: ErrorContext & { sent: boolean }): BinanceError {
  const e = err as { code?: string; message?: string };
  const method = ctx.method?.toUpperCase();
  const init: ErrorInit = { method, path: ctx.path, cause: err };
  const where = method && ctx.path ? ` (${method} ${ctx.path})` : '';
  const text = `${e?.code ?? 'network error'}: ${e?.message ?? String(err)}${where}`;
  if (!ctx.sent) return new NetworkError(text, init);
  if (isWrite(method)) {
    return new UnknownOutcomeError(text, { ...init, clientOrderId: clientOrderIdOf(ctx.params) });
  }
  return new ServerError(text, init);
}

/** Transport error codes that mean the connection was never established: nothing was sent. */
export const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'EADDRINUSE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);

export function isRetrySafe(err: unknown): boolean {
  return err instanceof BinanceError && err.retrySafe;
}
