// The demo strategy (the predecessor's, with its trigger the right way round): open long when a
// symbol has no position and its last 1-minute change is above +openPct %; close when it has a
// long position and the 1-minute change is below closePct %. The change is close-to-close between
// the forming bar (corrected by book ticks) and the last closed bar.
//
// Parameters (FLEET_STRATEGY_PARAMS JSON, or --param k=v): openPct (default 1), closePct
// (default -0.5), quoteSize USDT per open (default 100), style "taker" | "maker" (default taker),
// makerTimeoutMs (default 5000; then the rest goes as taker).

import { type Intent, numParam, type Strategy, type StrategyParams } from '../strategy.ts';

export function createStrategy(params: StrategyParams = {}): Strategy {
  const openPct = numParam(params, 'openPct', 1);
  const closePct = numParam(params, 'closePct', -0.5);
  const quoteSize = String(numParam(params, 'quoteSize', 100));
  const makerTimeoutMs = numParam(params, 'makerTimeoutMs', 5000);
  const style: Intent['style'] =
    params.style === 'maker'
      ? { kind: 'maker', timeoutMs: makerTimeoutMs, thenTaker: true }
      : { kind: 'taker' };
  return {
    name: 'demo',
    evaluate(symbol, view, emit) {
      const bars = view.book.get(symbol);
      if (bars === undefined) return 0;
      const change = bars.changePct(1);
      if (view.activeOrders(symbol) > 0) return 1;
      const pos = view.position(symbol).amt;
      if (pos === 0) {
        if (change > openPct) {
          emit({
            symbol,
            action: 'open',
            side: 'BUY',
            size: { quote: quoteSize },
            style,
            key: `open:${bars.newest}`,
            refPrice: bars.closeAt(0),
            reason: `1m change ${change.toFixed(3)} % > ${openPct} %`,
          });
        }
        return 1;
      }
      if (pos > 0 && change < closePct) {
        emit({
          symbol,
          action: 'close',
          side: 'SELL',
          size: { base: String(pos) },
          style: { kind: 'taker' },
          key: `close:${bars.newest}:${pos}`,
          refPrice: bars.closeAt(0),
          reason: `1m change ${change.toFixed(3)} % < ${closePct} %`,
        });
      }
      return 1;
    },
  };
}
