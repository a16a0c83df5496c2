import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gauss, hash32, lookup, normalTable, Rng, seedStream, sfc32 } from './random.ts';

test('sfc32 streams are deterministic per (seed, stream) and distinct across them', () => {
  const a = new Int32Array(4);
  const b = new Int32Array(4);
  const c = new Int32Array(4);
  seedStream(a, 0, 42, 1);
  seedStream(b, 0, 42, 1);
  seedStream(c, 0, 42, 2);
  const xs = Array.from({ length: 100 }, () => sfc32(a, 0));
  const ys = Array.from({ length: 100 }, () => sfc32(b, 0));
  const zs = Array.from({ length: 100 }, () => sfc32(c, 0));
  assert.deepEqual(xs, ys);
  assert.notDeepEqual(xs, zs);
  for (const x of xs) assert.ok(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
});

test('Rng: same seed, same sequence; uniform and normal moments', () => {
  const r1 = new Rng(7);
  const r2 = new Rng(7);
  assert.deepEqual(
    Array.from({ length: 20 }, () => r1.next()),
    Array.from({ length: 20 }, () => r2.next()),
  );
  const r = new Rng(99);
  let s = 0;
  let s2 = 0;
  const N = 50_000;
  for (let i = 0; i < N; i++) {
    const z = r.normal();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / N) < 0.03);
  assert.ok(Math.abs(s2 / N - 1) < 0.03);
  for (let i = 0; i < 1000; i++) {
    const k = r.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
  }
});

test('table normal: mean 0, variance ~1, monotonic in u', () => {
  const r = new Rng(3);
  let s = 0;
  let s2 = 0;
  const N = 100_000;
  for (let i = 0; i < N; i++) {
    const z = gauss(r.uint32());
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / N) < 0.02);
  assert.ok(Math.abs(s2 / N - 1) < 0.03);
  assert.ok(gauss(0) < -3 && gauss(0xffffffff) > 3);
  let prev = -Infinity;
  for (let u = 0; u < 2 ** 32; u += 2 ** 22) {
    const z = gauss(u);
    assert.ok(z >= prev);
    prev = z;
  }
  const logn = normalTable((z) => Math.exp(0.8 * z - 0.32));
  let m = 0;
  for (let i = 0; i < N; i++) m += lookup(logn, r.uint32());
  assert.ok(Math.abs(m / N - 1) < 0.03);
});

test('hash32 mixes every argument, including the high bits of large ids', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) seen.add(hash32(1, i, 2, 3));
  assert.equal(seen.size, 1000);
  assert.notEqual(hash32(1, 2 ** 40 + 5), hash32(1, 5));
  assert.equal(hash32(9, 8, 7, 6), hash32(9, 8, 7, 6));
  assert.notEqual(hash32(9, 8, 7, 6), hash32(9, 8, 7, 5));
});
