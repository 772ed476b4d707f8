/**
 * Default plot choices, following bluesky's BestEffortCallback:
 * x from the start document's hints.dimensions (one dimension: its field;
 * several: the point number), else time; y from the descriptors' hints,
 * else every numeric scalar field that is not a motor/x.
 */
import type { DescriptorInfo, Doc } from './protocol';

function dimensionFields(start: Doc | null): string[] {
  const dims = start?.hints?.dimensions;
  if (!Array.isArray(dims)) return [];
  const out: string[] = [];
  for (const d of dims) {
    if (Array.isArray(d) && d.length === 2 && d[1] === 'primary' && Array.isArray(d[0]) && d[0].length) out.push(String(d[0][0]));
  }
  return out;
}

export function defaultX(start: Doc | null, fields: string[]): string {
  const dims = dimensionFields(start);
  if (dims.length === 1 && fields.includes(dims[0])) return dims[0];
  if (dims.length > 1) return 'seq_num';
  return 'time';
}

function hintedFields(descriptors: DescriptorInfo[], stream = 'primary'): string[] {
  const out: string[] = [];
  for (const d of descriptors) {
    if (d.name !== stream) continue;
    for (const obj of Object.values(d.hints ?? {})) for (const f of obj?.fields ?? []) if (!out.includes(f)) out.push(f);
  }
  return out;
}

export function defaultY(start: Doc | null, descriptors: DescriptorInfo[], fields: string[]): string[] {
  const numeric = new Set(fields);
  // the scanned motors are the axes, not signals (BestEffortCallback does not plot them either)
  const skip = new Set([...dimensionFields(start), ...((start?.motors as string[]) ?? [])]);
  const hinted = hintedFields(descriptors).filter((f) => numeric.has(f) && !skip.has(f));
  if (hinted.length) return hinted;
  return fields.filter((f) => !skip.has(f));
}

/** y / monitor, NaN where the monitor is 0 or missing. */
export function normalise(y: Float64Array, monitor: Float64Array | undefined): Float64Array {
  if (!monitor) return y;
  const n = Math.min(y.length, monitor.length);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = monitor[k] ? y[k] / monitor[k] : NaN;
  return out;
}

/** Progress and ETA (seconds) from events so far, num_points and elapsed time. */
export function progress(events: number, numPoints: number | null | undefined, elapsed: number): { fraction: number | null; eta: number | null } {
  if (!numPoints || numPoints <= 0) return { fraction: null, eta: null };
  const fraction = Math.min(1, events / numPoints);
  const eta = events > 0 && fraction < 1 ? (elapsed / events) * (numPoints - events) : null;
  return { fraction, eta };
}
