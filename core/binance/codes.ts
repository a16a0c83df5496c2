// Binance USDⓈ-M futures error codes: one table, shared by the simulator (which answers with them)
// and the client (which maps them to typed errors). Messages are Binance's documented texts; "%s"
// marks a value Binance fills in.

export interface CodeInfo {
  name: string;
  msg: string;
}

export const BINANCE_CODES: Record<number, CodeInfo> = {
  [-1000]: { name: 'UNKNOWN', msg: 'An unknown error occured while processing the request.' },
  [-1001]: { name: 'DISCONNECTED', msg: 'Internal error; unable to process your request. Please try again.' },
  [-1002]: { name: 'UNAUTHORIZED', msg: 'You are not authorized to execute this request.' },
  [-1003]: {
    name: 'TOO_MANY_REQUESTS',
    msg: 'Too many requests; current limit is %s requests per minute. Please use the websocket for live updates to avoid polling the API.',
  },
  [-1006]: {
    name: 'UNEXPECTED_RESP',
    msg: 'An unexpected response was received from the message bus. Execution status unknown.',
  },
  [-1007]: {
    name: 'TIMEOUT',
    msg: 'Timeout waiting for response from backend server. Send status unknown; execution status unknown.',
  },
  [-1008]: {
    name: 'REQUEST_THROTTLED',
    msg: 'Request throttled by system-level protection. Reduce-only/close-position orders are exempt. Please try again.',
  },
  [-1013]: { name: 'INVALID_MESSAGE', msg: 'INVALID_MESSAGE.' },
  [-1014]: { name: 'UNKNOWN_ORDER_COMPOSITION', msg: 'Unsupported order combination.' },
  [-1015]: { name: 'TOO_MANY_ORDERS', msg: 'Too many new orders; current limit is %s orders per %s.' },
  [-1016]: { name: 'SERVICE_SHUTTING_DOWN', msg: 'This service is no longer available.' },
  [-1020]: { name: 'UNSUPPORTED_OPERATION', msg: 'This operation is not supported.' },
  [-1021]: { name: 'INVALID_TIMESTAMP', msg: 'Timestamp for this request is outside of the recvWindow.' },
  [-1022]: { name: 'INVALID_SIGNATURE', msg: 'Signature for this request is not valid.' },
  [-1023]: { name: 'START_TIME_GREATER_THAN_END_TIME', msg: 'Start time is greater than end time.' },
  [-1099]: { name: 'NOT_FOUND', msg: 'Not found, unauthenticated, or unauthorized.' },
  [-1100]: { name: 'ILLEGAL_CHARS', msg: "Illegal characters found in parameter '%s'; legal range is '%s'." },
  [-1101]: { name: 'TOO_MANY_PARAMETERS', msg: 'Duplicate values for a parameter detected.' },
  [-1102]: {
    name: 'MANDATORY_PARAM_EMPTY_OR_MALFORMED',
    msg: "Mandatory parameter '%s' was not sent, was empty/null, or malformed.",
  },
  [-1103]: { name: 'UNKNOWN_PARAM', msg: 'An unknown parameter was sent.' },
  [-1105]: { name: 'PARAM_EMPTY', msg: "Parameter '%s' was empty." },
  [-1106]: { name: 'PARAM_NOT_REQUIRED', msg: "Parameter '%s' sent when not required." },
  [-1111]: { name: 'BAD_PRECISION', msg: 'Precision is over the maximum defined for this asset.' },
  [-1112]: { name: 'NO_DEPTH', msg: 'No orders on book for symbol.' },
  [-1114]: { name: 'TIF_NOT_REQUIRED', msg: 'TimeInForce parameter sent when not required.' },
  [-1115]: { name: 'INVALID_TIF', msg: 'Invalid timeInForce.' },
  [-1116]: { name: 'INVALID_ORDER_TYPE', msg: 'Invalid orderType.' },
  [-1117]: { name: 'INVALID_SIDE', msg: 'Invalid side.' },
  [-1118]: { name: 'EMPTY_NEW_CL_ORD_ID', msg: 'New client order ID was empty.' },
  [-1119]: { name: 'EMPTY_ORG_CL_ORD_ID', msg: 'Original client order ID was empty.' },
  [-1120]: { name: 'BAD_INTERVAL', msg: 'Invalid interval.' },
  [-1121]: { name: 'BAD_SYMBOL', msg: 'Invalid symbol.' },
  [-1122]: { name: 'INVALID_SYMBOL_STATUS', msg: 'Invalid symbol status.' },
  [-1125]: {
    name: 'INVALID_LISTEN_KEY',
    msg: 'This listenKey does not exist. Please use `POST /fapi/v1/listenKey` to recreate `listenKey`',
  },
  [-1127]: { name: 'MORE_THAN_XX_HOURS', msg: 'More than %s hours between startTime and endTime.' },
  [-1128]: { name: 'OPTIONAL_PARAMS_BAD_COMBO', msg: 'Combination of optional parameters invalid.' },
  [-1130]: { name: 'INVALID_PARAMETER', msg: "Data sent for parameter '%s' is not valid." },
  [-1136]: { name: 'INVALID_NEW_ORDER_RESP_TYPE', msg: 'Invalid newOrderRespType.' },
  [-2010]: { name: 'NEW_ORDER_REJECTED', msg: 'NEW_ORDER_REJECTED' },
  [-2011]: { name: 'CANCEL_REJECTED', msg: 'Unknown order sent.' },
  [-2013]: { name: 'NO_SUCH_ORDER', msg: 'Order does not exist.' },
  [-2014]: { name: 'BAD_API_KEY_FMT', msg: 'API-key format invalid.' },
  [-2015]: { name: 'REJECTED_MBX_KEY', msg: 'Invalid API-key, IP, or permissions for action.' },
  [-2018]: { name: 'BALANCE_NOT_SUFFICIENT', msg: 'Balance is insufficient.' },
  [-2019]: { name: 'MARGIN_NOT_SUFFICIEN', msg: 'Margin is insufficient.' },
  [-2020]: { name: 'UNABLE_TO_FILL', msg: 'Unable to fill.' },
  [-2021]: { name: 'ORDER_WOULD_IMMEDIATELY_TRIGGER', msg: 'Order would immediately trigger.' },
  [-2022]: { name: 'REDUCE_ONLY_REJECT', msg: 'ReduceOnly Order is rejected.' },
  [-2024]: { name: 'POSITION_NOT_SUFFICIENT', msg: 'Position is not sufficient.' },
  [-2025]: { name: 'MAX_OPEN_ORDER_EXCEEDED', msg: 'Reach max open order limit.' },
  [-2027]: {
    name: 'MAX_LEVERAGE_RATIO',
    msg: 'Exceeded the maximum allowable position at current leverage.',
  },
  [-2028]: {
    name: 'MIN_LEVERAGE_RATIO',
    msg: 'Leverage is smaller than permitted: insufficient margin balance.',
  },
  [-4000]: { name: 'INVALID_ORDER_STATUS', msg: 'Invalid order status.' },
  [-4001]: { name: 'PRICE_LESS_THAN_ZERO', msg: 'Price less than 0.' },
  [-4002]: { name: 'PRICE_GREATER_THAN_MAX_PRICE', msg: 'Price greater than max price.' },
  [-4003]: { name: 'QTY_LESS_THAN_ZERO', msg: 'Quantity less than or equal to zero.' },
  [-4004]: { name: 'QTY_LESS_THAN_MIN_QTY', msg: 'Quantity less than min quantity.' },
  [-4005]: { name: 'QTY_GREATER_THAN_MAX_QTY', msg: 'Quantity greater than max quantity.' },
  [-4006]: { name: 'STOP_PRICE_LESS_THAN_ZERO', msg: 'Stop price less than zero.' },
  [-4007]: { name: 'STOP_PRICE_GREATER_THAN_MAX_PRICE', msg: 'Stop price greater than max price.' },
  [-4013]: { name: 'PRICE_LESS_THAN_MIN_PRICE', msg: 'Price less than min price.' },
  [-4014]: { name: 'PRICE_NOT_INCREASED_BY_TICK_SIZE', msg: 'Price not increased by tick size.' },
  [-4015]: { name: 'INVALID_CL_ORD_ID_LEN', msg: 'Client order id is not valid.' },
  [-4016]: {
    name: 'PRICE_HIGHTER_THAN_MULTIPLIER_UP',
    msg: 'Price is higher than mark price multiplier cap.',
  },
  [-4021]: { name: 'INVALID_DEPTH_LIMIT', msg: "'%s' is not valid depth limit." },
  [-4023]: { name: 'QTY_NOT_INCREASED_BY_STEP_SIZE', msg: 'Qty not increased by step size.' },
  [-4024]: {
    name: 'PRICE_LOWER_THAN_MULTIPLIER_DOWN',
    msg: 'Price is lower than mark price multiplier floor.',
  },
  [-4028]: { name: 'INVALID_LEVERAGE', msg: 'Leverage %s is not valid' },
  [-4046]: { name: 'NO_NEED_TO_CHANGE_MARGIN_TYPE', msg: 'No need to change margin type.' },
  [-4047]: {
    name: 'THERE_EXISTS_OPEN_ORDERS',
    msg: 'Margin type cannot be changed if there exists open orders.',
  },
  [-4048]: { name: 'THERE_EXISTS_QUANTITY', msg: 'Margin type cannot be changed if there exists position.' },
  [-4059]: { name: 'NO_NEED_TO_CHANGE_POSITION_SIDE', msg: 'No need to change position side.' },
  [-4060]: { name: 'INVALID_POSITION_SIDE', msg: 'Invalid position side.' },
  [-4061]: { name: 'POSITION_SIDE_NOT_MATCH', msg: "Order's position side does not match user's setting." },
  [-4062]: { name: 'REDUCE_ONLY_CONFLICT', msg: 'Invalid or improper reduceOnly value.' },
  [-4067]: {
    name: 'POSITION_SIDE_CHANGE_EXISTS_OPEN_ORDERS',
    msg: 'Position side cannot be changed if there exists open orders.',
  },
  [-4068]: {
    name: 'POSITION_SIDE_CHANGE_EXISTS_QUANTITY',
    msg: 'Position side cannot be changed if there exists position.',
  },
  [-4082]: { name: 'INVALID_BATCH_PLACE_ORDER_SIZE', msg: 'Invalid number of batch place orders.' },
  [-4116]: { name: 'DUPLICATED_CLIENT_ORDER_ID', msg: 'clientOrderId is duplicated.' },
  [-4118]: {
    name: 'REDUCE_ONLY_MARGIN_CHECK_FAILED',
    msg: 'ReduceOnly Order Failed. Please check your existing position and open orders',
  },
  [-4120]: {
    name: 'STOP_ORDER_SWITCH_ALGO',
    msg: 'Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.',
  },
  [-4131]: {
    name: 'MARKET_ORDER_REJECT',
    msg: "The counterparty's best price does not meet the PERCENT_PRICE filter limit.",
  },
  [-4135]: { name: 'INVALID_ACTIVATION_PRICE', msg: 'Invalid activation price.' },
  [-4137]: {
    name: 'QUANTITY_EXISTS_WITH_CLOSE_POSITION',
    msg: 'Quantity must be zero with closePosition equals true',
  },
  [-4138]: {
    name: 'REDUCE_ONLY_MUST_BE_TRUE',
    msg: 'Reduce only must be true with closePosition equals true',
  },
  [-4142]: {
    name: 'STRATEGY_INVALID_TRIGGER_PRICE',
    msg: 'REJECT: take profit or stop order will be triggered immediately.',
  },
  [-4164]: {
    name: 'MIN_NOTIONAL',
    msg: "Order's notional must be no smaller than %s (unless you choose reduce only).",
  },
  [-5000]: { name: 'PATH_RETIRED', msg: 'This endpoint is retired.' },
  [-5021]: {
    name: 'FOK_ORDER_REJECT',
    msg: 'Due to the order could not be filled immediately, the FOK order has been rejected. The order will not be recorded in the order history',
  },
  [-5022]: {
    name: 'GTX_ORDER_REJECT',
    msg: 'Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history',
  },
};

/** Fills the "%s" placeholders of a code's message in order. */
export function codeMessage(code: number, ...args: Array<string | number>): string {
  const info = BINANCE_CODES[code];
  if (!info) return 'Unknown error.';
  let i = 0;
  return info.msg.replace(/%s/g, () => String(args[i++] ?? ''));
}
