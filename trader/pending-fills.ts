// Fills a trader has learnt (from order answers, the user stream or the gateway) that no position
// record has reflected yet. A trader adds them to the last position it got, so a decision never
// sees a position without the fill that just happened — nor one fill twice: a position record
// with exchange time ts includes every fill up to ts, so those are dropped, and a fill learnt
// later with a time up to ts is never added.

interface Fill {
  qty: number;
  time: number;
}

/** Fills kept per symbol at most (older ones are surely in a position record by then). */
const MAX_PER_SYMBOL = 64;

export class PendingFills {
  private readonly fills = new Map<string, Fill[]>();
  /** Exchange time of the last position record per symbol. */
  private readonly positionTs = new Map<string, number>();

  /** A fill of signed quantity `qty` (BUY positive) at exchange time `time`. */
  add(symbol: string, qty: number, time: number): void {
    if (qty === 0 || time <= (this.positionTs.get(symbol) ?? Number.NEGATIVE_INFINITY)) return;
    let list = this.fills.get(symbol);
    if (!list) {
      list = [];
      this.fills.set(symbol, list);
    }
    list.push({ qty, time });
    if (list.length > MAX_PER_SYMBOL) list.splice(0, list.length - MAX_PER_SYMBOL);
  }

  /** A position record with exchange time `ts` arrived: fills up to ts are in it. */
  positionSeen(symbol: string, ts: number): void {
    if (ts > (this.positionTs.get(symbol) ?? Number.NEGATIVE_INFINITY)) this.positionTs.set(symbol, ts);
    const list = this.fills.get(symbol);
    if (list?.some((f) => f.time <= ts))
      this.fills.set(
        symbol,
        list.filter((f) => f.time > ts),
      );
  }

  /** Signed quantity filled on the symbol that no position record has reflected yet. */
  total(symbol: string): number {
    let q = 0;
    for (const f of this.fills.get(symbol) ?? []) q += f.qty;
    return q;
  }

  /** Symbols with such fills. */
  symbols(): string[] {
    const out: string[] = [];
    for (const [s, list] of this.fills) if (list.length > 0) out.push(s);
    return out;
  }
}
