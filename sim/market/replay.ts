// Binance public-data kline CSVs (data.binance.vision, futures/um/.../klines/<SYMBOL>/1m/...):
// open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,
// taker_buy_quote_volume,ignore — with or without the header line; times in ms, or µs in the
// newer files. Only 1m files are accepted: the market replays them minute by minute.

import { readFileSync } from 'node:fs';

export interface CsvBar {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  count: number;
  takerBuyVolume: string;
}

const MINUTE = 60_000;

/** Parses the CSV text into 1m bars sorted by open time (ms). Throws on anything else. */
export function parseKlineCsv(text: string, name = 'CSV'): CsvBar[] {
  const out: CsvBar[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '') continue;
    const f = line.split(',');
    if (!/^\d+$/.test(f[0])) {
      if (out.length === 0 && n === 0) continue; // the header line
      throw new Error(`${name}:${n + 1}: not a kline row`);
    }
    if (f.length < 7) throw new Error(`${name}:${n + 1}: expected at least 7 columns, got ${f.length}`);
    let open = Number(f[0]);
    let close = Number(f[6]);
    // Microsecond timestamps (2025+ files) are 1000x larger than any millisecond one.
    if (open >= 1e14) {
      open = Math.floor(open / 1000);
      close = Math.floor(close / 1000);
    }
    if (open % MINUTE !== 0 || close - open + 1 !== MINUTE) {
      throw new Error(`${name}:${n + 1}: replay needs 1m klines (open ${f[0]}, close ${f[6]})`);
    }
    for (const k of [1, 2, 3, 4, 5]) {
      if (!/^\d+(\.\d+)?$/.test(f[k]))
        throw new Error(`${name}:${n + 1}: bad number ${JSON.stringify(f[k])}`);
    }
    out.push({
      openTime: open,
      open: f[1],
      high: f[2],
      low: f[3],
      close: f[4],
      volume: f[5],
      count: f[8] !== undefined && /^\d+$/.test(f[8]) ? Number(f[8]) : 0,
      takerBuyVolume: f[9] !== undefined && /^\d+(\.\d+)?$/.test(f[9]) ? f[9] : '',
    });
  }
  out.sort((a, b) => a.openTime - b.openTime);
  for (let i = 1; i < out.length; i++) {
    if (out[i].openTime === out[i - 1].openTime)
      throw new Error(`${name}: duplicate open time ${out[i].openTime}`);
  }
  if (out.length === 0) throw new Error(`${name}: no kline rows`);
  return out;
}

export function readKlineCsv(path: string): CsvBar[] {
  return parseKlineCsv(readFileSync(path, 'utf8'), path);
}
