import assert from 'node:assert/strict';
import { test } from 'node:test';
import { D, Decimal } from './decimal.ts';

test('parses plain and scientific decimal text exactly', () => {
  assert.equal(D('0.10').toString(), '0.1');
  assert.equal(D('2.8E-4').toString(), '0.00028');
  assert.equal(D('2.80056E-4').toString(), '0.000280056');
  assert.equal(D('1e3').toString(), '1000');
  assert.equal(D('-0.5').toString(), '-0.5');
  assert.equal(D('.5').toString(), '0.5');
  assert.equal(D('65000.0').toString(), '65000');
  for (const bad of ['', 'abc', '1.2.3', '--1', 'NaN', 'Infinity', '1e', '.']) {
    assert.throws(() => D(bad), /not a decimal|exponent/, bad);
  }
});

test('arithmetic has no float error', () => {
  assert.equal(D('0.1').add('0.2').toString(), '0.3');
  assert.equal(D('1.1').mul('3').toString(), '3.3');
  assert.equal(D('10').div('4').toString(), '2.5');
  assert.equal(D('1').div('3', 8).toString(), '0.33333333');
  assert.equal(D('2').div('3', 2, 'floor').toString(), '0.66');
  assert.equal(D('-7').div('2', 0, 'floor').toString(), '-4');
  assert.equal(D('-7').div('2', 0, 'ceil').toString(), '-3');
  assert.throws(() => D('1').div('0'), /division by zero/);
});

test('steps that are not powers of ten', () => {
  assert.ok(D('65000.5').isMultipleOf('0.5'));
  assert.ok(!D('65000.3').isMultipleOf('0.5'));
  assert.ok(D('0.75').isMultipleOf('0.25'));
  assert.ok(D('15').isMultipleOf('5'));
  assert.equal(D('17').toStep('5', 'floor').toString(), '15');
  assert.equal(D('17').toStep('5', 'ceil').toString(), '20');
  assert.equal(D('17.5').toStep('5', 'round').toString(), '20');
  assert.equal(D('0.00123456').toStep('0.0005', 'floor').toString(), '0.001');
  // PRICE_FILTER measures from minPrice: (price - minPrice) % tickSize == 0.
  assert.ok(D('556.9').isMultipleOf('0.1', '556.8'));
});

test('formatting pads and rounds', () => {
  assert.equal(D('1.5').toFixed(3), '1.500');
  assert.equal(D('1.2345').toFixed(2), '1.23');
  assert.equal(D('1.235').toFixed(2), '1.24');
  assert.equal(D('-1.235').toFixed(2), '-1.24');
  assert.equal(D('-0.001').toFixed(2), '0.00');
  assert.equal(D('0').toFixed(0), '0');
  assert.equal(Decimal.fromNumber(0.1 + 0.2).toString(), '0.30000000000000004');
  assert.equal(D('0.1').decimalPlaces(), 1);
  assert.equal(D('123').cmp('123.0'), 0);
  assert.ok(D('1').gt('0.999'));
});
