// Funding settlement and the income ledger (GET /fapi/v1/income).

import { D } from '../../core/decimal.ts';
import { apiError, type Params } from '../contracts.ts';
import { accountUpdate } from './account.ts';
import { fix8 } from './format.ts';
import { intParam, invalid, limitParam, opt } from './params.ts';
import type { Ctx } from './state.ts';
import { INCOME_TYPES, type IncomeRow, WEEK_MS } from './types.ts';

/**
 * Funding at `time`: every open position pays or receives amount × mark × rate (a positive
 * rate: longs pay, shorts receive). One FUNDING_FEE income row and one ACCOUNT_UPDATE per
 * position (cross: balance only; isolated: balance and that position).
 */
export function settleFunding(
  ctx: Ctx,
  time: number,
  rates: Map<string, { rate: string; mark: string }>,
): void {
  const now = ctx.now();
  for (const acct of ctx.accounts.values()) {
    for (const pos of [...acct.active]) {
      const r = rates.get(pos.symbol);
      if (!r) continue;
      const amount = pos.amt.mul(D(r.mark)).mul(D(r.rate)).neg().round(8);
      if (amount.isZero()) continue;
      acct.wallet = acct.wallet.add(amount);
      acct.updateTime = now;
      const isolated = acct.cfg(pos.symbol).isolated;
      if (isolated) pos.isolatedWallet = pos.isolatedWallet.add(amount);
      acct.income.push({
        symbol: pos.symbol,
        incomeType: 'FUNDING_FEE',
        income: amount,
        asset: 'USDT',
        info: 'FUNDING_FEE',
        time,
        tranId: ctx.nextTranId('FUNDING_FEE'),
        tradeId: '',
      });
      ctx.events.push(
        acct.apiKey,
        accountUpdate(ctx, acct, 'FUNDING_FEE', isolated ? [pos] : [], amount, now),
      );
    }
  }
}

function incomeJson(r: IncomeRow): Record<string, unknown> {
  return {
    symbol: r.symbol,
    incomeType: r.incomeType,
    income: fix8(r.income),
    asset: r.asset,
    info: r.info,
    time: r.time,
    tranId: r.tranId,
    tradeId: r.tradeId,
  };
}

/**
 * GET /fapi/v1/income: symbol, incomeType, startTime, endTime (inclusive), page, limit (default
 * 100, max 1000). No times: the last 7 days. Ascending by time.
 */
export function income(ctx: Ctx, apiKey: string, p: Params): unknown {
  const acct = ctx.account(apiKey);
  const symbol = opt(p, 'symbol');
  if (symbol !== undefined) ctx.needRules(symbol);
  const type = opt(p, 'incomeType');
  if (type !== undefined && !(INCOME_TYPES as readonly string[]).includes(type)) throw invalid('incomeType');
  const s = intParam(p, 'startTime');
  const e = intParam(p, 'endTime');
  if (s !== undefined && e !== undefined && s > e) throw apiError(-1023);
  const now = ctx.now();
  let start: number;
  let end: number;
  if (s === undefined && e === undefined) {
    start = now - WEEK_MS;
    end = now;
  } else if (s === undefined) {
    end = e as number;
    start = end - WEEK_MS;
  } else {
    start = s;
    end = e ?? Number.MAX_SAFE_INTEGER;
  }
  const page = intParam(p, 'page') ?? 1;
  if (page < 1) throw invalid('page');
  const limit = limitParam(p, 100, 1000);
  const rows = acct.income.filter(
    (r) =>
      r.time >= start &&
      r.time <= end &&
      (symbol === undefined || r.symbol === symbol) &&
      (type === undefined || r.incomeType === type),
  );
  // rows are appended in time order except funding stamped at its (earlier) funding time
  rows.sort((a, b) => a.time - b.time);
  return rows.slice((page - 1) * limit, page * limit).map(incomeJson);
}
