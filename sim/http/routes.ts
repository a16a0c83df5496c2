// The route table: "METHOD /path" → security type and handler. One map lookup per request.

import type { Params } from '../contracts.ts';
import type { Security } from './auth.ts';

export interface RouteContext {
  params: Params;
  /** The authenticated account (undefined for security NONE). */
  apiKey: string | undefined;
  /** The connecting address, as Binance keys weight by IP. */
  ip: string;
}

export interface Route {
  method: string;
  path: string;
  security: Security;
  handler: (ctx: RouteContext) => unknown;
}

export class RouteTable {
  private readonly routes = new Map<string, Route>();

  add(method: string, path: string, security: Security, handler: (ctx: RouteContext) => unknown): void {
    const key = `${method} ${path}`;
    if (this.routes.has(key)) throw new Error(`route defined twice: ${key}`);
    this.routes.set(key, { method, path, security, handler });
  }

  get(method: string, path: string): Route | undefined {
    return this.routes.get(`${method} ${path}`);
  }

  hasPath(path: string): boolean {
    for (const r of this.routes.values()) if (r.path === path) return true;
    return false;
  }

  list(): Route[] {
    return [...this.routes.values()];
  }
}
