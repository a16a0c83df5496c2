// Signed trading and account endpoints: authentication is done by the server; these map each
// path to the engine, which validates parameters as Binance does.

import type { EngineApi, ListenKeyApi, Params } from '../contracts.ts';
import type { RouteTable } from './routes.ts';

type EngineMethod = {
  [K in keyof EngineApi]: EngineApi[K] extends (apiKey: string, p: Params) => unknown ? K : never;
}[keyof EngineApi];

const SIGNED: Array<[string, string, EngineMethod]> = [
  ['POST', '/fapi/v1/order', 'newOrder'],
  ['POST', '/fapi/v1/order/test', 'testOrder'],
  ['POST', '/fapi/v1/batchOrders', 'batchOrders'],
  ['PUT', '/fapi/v1/order', 'modifyOrder'],
  ['DELETE', '/fapi/v1/order', 'cancelOrder'],
  ['DELETE', '/fapi/v1/batchOrders', 'cancelBatch'],
  ['DELETE', '/fapi/v1/allOpenOrders', 'cancelAllOpen'],
  ['GET', '/fapi/v1/order', 'queryOrder'],
  ['GET', '/fapi/v1/openOrder', 'queryOpenOrder'],
  ['GET', '/fapi/v1/openOrders', 'openOrders'],
  ['GET', '/fapi/v1/allOrders', 'allOrders'],
  ['GET', '/fapi/v1/userTrades', 'userTrades'],
  ['GET', '/fapi/v1/forceOrders', 'forceOrders'],
  ['POST', '/fapi/v1/algoOrder', 'newAlgoOrder'],
  ['DELETE', '/fapi/v1/algoOrder', 'cancelAlgoOrder'],
  ['DELETE', '/fapi/v1/algoOpenOrders', 'cancelAllAlgoOpen'],
  ['GET', '/fapi/v1/algoOrder', 'queryAlgoOrder'],
  ['GET', '/fapi/v1/openAlgoOrders', 'openAlgoOrders'],
  ['GET', '/fapi/v1/allAlgoOrders', 'allAlgoOrders'],
  ['GET', '/fapi/v2/account', 'accountV2'],
  ['GET', '/fapi/v3/account', 'accountV3'],
  ['GET', '/fapi/v2/balance', 'balance'],
  ['GET', '/fapi/v3/balance', 'balance'],
  ['GET', '/fapi/v2/positionRisk', 'positionRiskV2'],
  ['GET', '/fapi/v3/positionRisk', 'positionRiskV3'],
  ['GET', '/fapi/v1/accountConfig', 'accountConfig'],
  ['GET', '/fapi/v1/symbolConfig', 'symbolConfig'],
  ['GET', '/fapi/v1/income', 'income'],
  ['POST', '/fapi/v1/leverage', 'setLeverage'],
  ['POST', '/fapi/v1/marginType', 'setMarginType'],
  ['POST', '/fapi/v1/positionSide/dual', 'setPositionMode'],
  ['GET', '/fapi/v1/positionSide/dual', 'getPositionMode'],
  ['GET', '/fapi/v1/commissionRate', 'commissionRate'],
  ['GET', '/fapi/v1/leverageBracket', 'leverageBracket'],
  ['GET', '/fapi/v1/multiAssetsMargin', 'multiAssetsMargin'],
];

export function addAccountRoutes(routes: RouteTable, engine: EngineApi, listenKeys: ListenKeyApi): void {
  for (const [method, path, name] of SIGNED) {
    routes.add(method, path, 'SIGNED', (ctx) => engine[name](ctx.apiKey!, ctx.params));
  }
  // listenKey endpoints: API key only, no signature.
  routes.add('POST', '/fapi/v1/listenKey', 'USER_STREAM', (ctx) => ({
    listenKey: listenKeys.create(ctx.apiKey!),
  }));
  routes.add('PUT', '/fapi/v1/listenKey', 'USER_STREAM', (ctx) => ({
    listenKey: listenKeys.keepalive(ctx.apiKey!, ctx.params.listenKey),
  }));
  routes.add('DELETE', '/fapi/v1/listenKey', 'USER_STREAM', (ctx) => {
    listenKeys.close(ctx.apiKey!, ctx.params.listenKey);
    return {};
  });
  routes.add('GET', '/fapi/v1/rateLimit/order', 'SIGNED', () => [
    { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 300 },
    { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: 1200 },
  ]);
}
