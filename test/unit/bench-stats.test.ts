/** bench/stats.ts: the one median (and its kin) the benches report with. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mean, median, percentile, stats, upperMedian } from '../../bench/stats.ts';

test('median: the middle sample of an odd count, the mean of the two middle ones of an even count', () => {
  assert.equal(median([5]), 5);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([10, 1]), 5.5);
});

test('upperMedian: the higher middle sample of an even count, the median of an odd one', () => {
  assert.equal(upperMedian([4, 1, 3, 2]), 3);
  assert.equal(upperMedian([3, 1, 2]), 2);
  const ten = [9, 2, 7, 4, 5, 6, 3, 8, 1, 10];
  assert.equal(upperMedian(ten), 6);
  assert.equal(median(ten), 5.5);
});

test('percentile: nearest rank', () => {
  const xs = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
  assert.equal(percentile(xs, 0.9), 9);
  assert.equal(percentile(xs, 1), 10);
  assert.equal(percentile(xs, 0.01), 1);
  assert.equal(percentile([3, 1, 2], 0.9), 3);
});

test('stats: median, p90, min, max and mean of unsorted samples, which stay as they were', () => {
  const xs = [30, 10, 20, 40];
  assert.deepEqual(stats(xs), { median: 25, p90: 40, min: 10, max: 40, mean: 25 });
  assert.deepEqual(xs, [30, 10, 20, 40], 'the caller keeps its order');
  assert.equal(mean([1, 2, 6]), 3);
});
