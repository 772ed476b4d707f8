/**
 * Auto-contrast for detector frames: a percentile clip computed on the
 * received (binned) frame, and the histogram the domain widget shows.
 */

export type Range = [number, number];

/** At most this many values are sorted; larger frames are sampled with a stride. */
export const MAX_SAMPLE = 1 << 17;

/**
 * [lo, hi] percentiles (0..100) of the finite values (positive ones only
 * when `positiveOnly`, for a log scale). `null` when there is no such value.
 * A flat result is widened so the colour scale stays valid.
 */
export function percentileClip(values: ArrayLike<number>, lo = 0.5, hi = 99.5, positiveOnly = false): Range | null {
  const n = values.length;
  const stride = Math.max(1, Math.ceil(n / MAX_SAMPLE));
  const sample = new Float64Array(Math.ceil(n / stride));
  let m = 0;
  for (let k = 0; k < n; k += stride) {
    const v = values[k];
    if (Number.isFinite(v) && (!positiveOnly || v > 0)) sample[m++] = v;
  }
  if (m === 0) return null;
  const s = sample.subarray(0, m).sort();
  const at = (p: number) => {
    const pos = (Math.min(100, Math.max(0, p)) / 100) * (m - 1);
    const i = Math.floor(pos);
    const f = pos - i;
    return i + 1 < m ? s[i] * (1 - f) + s[i + 1] * f : s[i];
  };
  return widen([at(lo), at(hi)], positiveOnly);
}

/** Exact min and max of the finite values (positive ones when `positiveOnly`). */
export function finiteRange(values: ArrayLike<number>, positiveOnly = false): Range | null {
  let a = Infinity;
  let b = -Infinity;
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (!Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
    if (v < a) a = v;
    if (v > b) b = v;
  }
  return a <= b ? widen([a, b], positiveOnly) : null;
}

function widen([a, b]: Range, positive: boolean): Range {
  if (a < b) return [a, b];
  if (positive) return [a / 2, a * 2];
  const d = Math.abs(a) || 1;
  return [a - 0.5 * d, a + 0.5 * d];
}

/**
 * Counts of the values in `nbins` equal bins over `range` (values outside
 * go to the end bins), in log space when `log`.
 */
export function histogram(values: ArrayLike<number>, range: Range, nbins = 64, log = false): { values: Float64Array; bins: Float64Array } {
  const counts = new Float64Array(nbins);
  const bins = new Float64Array(nbins + 1);
  const tf = log ? Math.log10 : (v: number) => v;
  const a = tf(range[0]);
  const b = tf(range[1]);
  const span = b - a || 1;
  for (let k = 0; k <= nbins; k++) bins[k] = log ? 10 ** (a + (span * k) / nbins) : a + (span * k) / nbins;
  const stride = Math.max(1, Math.ceil(values.length / MAX_SAMPLE));
  for (let k = 0; k < values.length; k += stride) {
    const v = values[k];
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    const i = Math.floor(((tf(v) - a) / span) * nbins);
    counts[Math.min(nbins - 1, Math.max(0, i))]++;
  }
  return { values: counts, bins };
}
