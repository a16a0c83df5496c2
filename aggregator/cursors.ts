// Named round-robin cursors: any number of readers split a list (the symbol universe) by taking
// the next index in turn, without talking to each other. The aggregator runs on one event loop,
// so a take is atomic by construction. The size comes with each request, so the universe may
// grow or shrink at any time: an index is always in 0..size-1 of the size asked for, and a lap
// over an unchanged size hands out every index exactly once.

export interface CursorTake {
  value: number;
  /** How many times the cursor has wrapped to 0 (a reader can tell when a full pass is done). */
  lap: number;
}

interface CursorState {
  next: number;
  lap: number;
}

export class Cursors {
  private readonly m = new Map<string, CursorState>();

  constructor(private readonly maxCursors: number) {}

  get size(): number {
    return this.m.size;
  }

  /** The next index of `name` in 0..size-1, or null when no new cursor may be created. */
  take(name: string, size: number): CursorTake | null {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError('cursor size must be a positive integer');
    let c = this.m.get(name);
    if (c === undefined) {
      if (this.m.size >= this.maxCursors) return null;
      c = { next: 0, lap: 0 };
      this.m.set(name, c);
    }
    // A shrunken universe (or the end of a lap) restarts at 0; a grown one continues.
    if (c.next >= size) {
      c.next = 0;
      c.lap++;
    }
    const value = c.next;
    c.next = value + 1;
    return { value, lap: c.lap };
  }

  /** name → {next, lap}, for inspection. */
  entries(): Array<[string, CursorTake]> {
    return [...this.m].map(([n, c]) => [n, { value: c.next, lap: c.lap }]);
  }
}
