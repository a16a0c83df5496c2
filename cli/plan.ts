import { parseArgs } from 'node:util';
import { formatPlan, plan } from '../functions/plan.ts';
import { type Command, UsageError } from './main.ts';
import { parseReplicas } from './stack.ts';

const usage = `fleet plan [--replicas NAME=N]... [--symbols 200] [--fast-symbols 16]
           [--weight-limit 2400] [--budget-share 0.96] [--json]

Each reader's weight per read, reads per minute, period and slot (book: replica i of n at i/n of
the period), the share of its address's budget, and the freshness each topic can have.
Replicas default to the local stack's.`;

export const command: Command = {
  summary: 'the rate-budget plan: each reader’s rate and slot, and the freshness per topic',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        replicas: { type: 'string', multiple: true },
        symbols: { type: 'string' },
        'fast-symbols': { type: 'string' },
        'weight-limit': { type: 'string' },
        'budget-share': { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    });
    const num = (v: string | undefined, d: number) => {
      const n = v === undefined ? d : Number(v);
      if (!(n > 0)) throw new UsageError('numbers must be positive');
      return n;
    };
    const p = plan({
      replicas: parseReplicas(values.replicas ?? []),
      symbols: num(values.symbols, 200),
      fastSymbols: num(values['fast-symbols'], 16),
      weightLimit: num(values['weight-limit'], 2400),
      budgetShare: num(values['budget-share'], 0.96),
    });
    console.log(values.json ? JSON.stringify(p) : formatPlan(p));
  },
};
