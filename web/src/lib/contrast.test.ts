import { describe, expect, it } from 'vitest';
import { MAX_SAMPLE, finiteRange, histogram, percentileClip } from './contrast';

describe('percentileClip', () => {
  it('interpolated percentiles of the finite values', () => {
    const v = Float32Array.from({ length: 101 }, (_, k) => k); // 0..100
    expect(percentileClip(v, 0, 100)).toEqual([0, 100]);
    expect(percentileClip(v, 10, 90)).toEqual([10, 90]);
    const [lo, hi] = percentileClip(v, 0.5, 99.5)!;
    expect(lo).toBeCloseTo(0.5);
    expect(hi).toBeCloseTo(99.5);
    expect(percentileClip([NaN, 1, Infinity, 3], 0, 100)).toEqual([1, 3]);
  });

  it('clips a hot pixel: a few bright spots do not wash out the image', () => {
    const v = new Float32Array(100_000).map((_, k) => k % 7);
    v[5] = 1e9;
    const [lo, hi] = percentileClip(v)!;
    expect(lo).toBe(0);
    expect(hi).toBe(6);
  });

  it('positive values only for a log scale; flat and empty frames', () => {
    expect(percentileClip([0, 0, -1, 10, 100], 0, 100, true)).toEqual([10, 100]);
    expect(percentileClip([0, 0, 0])).toEqual([-0.5, 0.5]);
    expect(percentileClip([4, 4])).toEqual([2, 6]);
    expect(percentileClip([5], 0, 100, true)).toEqual([2.5, 10]);
    expect(percentileClip([0, -2], 0.5, 99.5, true)).toBeNull();
    expect(percentileClip([])).toBeNull();
  });

  it('samples large frames (bounded cost) and still gets close', () => {
    const n = MAX_SAMPLE * 8 + 3;
    const v = new Float32Array(n).map((_, k) => k / n);
    const [lo, hi] = percentileClip(v, 1, 99)!;
    expect(lo).toBeCloseTo(0.01, 2);
    expect(hi).toBeCloseTo(0.99, 2);
  });
});

describe('finiteRange and histogram', () => {
  it('min/max ignoring NaN', () => {
    expect(finiteRange([NaN, 3, -1, 2])).toEqual([-1, 3]);
    expect(finiteRange([0, 2, 8], true)).toEqual([2, 8]);
    expect(finiteRange([NaN])).toBeNull();
  });
  it('counts per bin, outliers in the end bins, log bins', () => {
    const h = histogram([0, 0.1, 0.5, 0.99, 1, 5, -3, NaN], [0, 1], 2);
    expect(Array.from(h.bins)).toEqual([0, 0.5, 1]);
    expect(Array.from(h.values)).toEqual([3, 4]);
    const g = histogram([1, 10, 100, 0], [1, 100], 2, true);
    expect(Array.from(g.bins)).toEqual([1, 10, 100]);
    expect(Array.from(g.values)).toEqual([1, 2]);
  });
});
