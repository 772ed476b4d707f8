/**
 * Grid placement for bluesky grid scans (same rule as beamwatch.analysis.grid
 * and bluesky's LiveGrid): seq_num (1-based) -> (i, j) = unravel(seq_num-1, shape),
 * and when snaking[1] and i is odd, j = nx-1-j. The server sends the flat cell
 * index (i*nx + j) of each row in `cells` messages; `placeSeq` is the same rule
 * for clients that only have seq_num.
 */
import { GrowableArray } from './columns';

export interface GridSpec {
  shape: [number, number];
  extents: [[number, number], [number, number]] | null;
  snaking: [boolean, boolean];
  motors: string[];
}

export function placeSeq(seq: number, shape: [number, number], snaking: [boolean, boolean]): [number, number] | null {
  const [ny, nx] = shape;
  const k = seq - 1;
  if (k < 0 || k >= ny * nx) return null;
  const i = Math.floor(k / nx);
  let j = k % nx;
  if (snaking[1] && i % 2 === 1) j = nx - 1 - j;
  return [i, j];
}

/** Cell index of each row (aligned with the primary stream's rows); a gap is left as it is. */
export class CellIndex extends GrowableArray<Int32Array> {
  constructor() {
    super(Int32Array);
  }
}

export interface GridMap {
  /** ny*nx values, row-major, NaN where not measured */
  values: Float64Array;
  /** 1 where measured, 0 where not (alpha for the heatmap) */
  measured: Float32Array;
  filled: number;
}

/** Incrementally maintained map of one field; `update` only touches new rows. */
export class MapBuilder {
  readonly map: GridMap;
  /** bumped whenever `update` changed the map */
  version = 0;
  private done = 0;
  constructor(readonly spec: GridSpec, readonly field: string) {
    const n = spec.shape[0] * spec.shape[1];
    this.map = { values: new Float64Array(n).fill(NaN), measured: new Float32Array(n), filled: 0 };
  }
  /** Place rows [done, min(cells, values)) and return true if anything changed. */
  update(cells: Int32Array, values: Float64Array | undefined): boolean {
    if (!values) return false;
    const end = Math.min(cells.length, values.length);
    if (end <= this.done) return false;
    const m = this.map;
    for (let r = this.done; r < end; r++) {
      const c = cells[r];
      if (c < 0 || c >= m.values.length) continue;
      if (m.measured[c] === 0) m.filled++;
      m.values[c] = values[r];
      m.measured[c] = 1;
    }
    this.done = end;
    this.version++;
    return true;
  }
}

/** Axis coordinates of cell edges (length n+1) from extents, for h5web's abscissa/ordinate. */
export function cellEdges(extent: [number, number] | undefined, n: number): Float64Array {
  const out = new Float64Array(n + 1);
  if (!extent || n < 1) {
    for (let k = 0; k <= n; k++) out[k] = k - 0.5;
    return out;
  }
  const [a, b] = extent;
  const step = n > 1 ? (b - a) / (n - 1) : 1;
  for (let k = 0; k <= n; k++) out[k] = a + (k - 0.5) * step;
  return out;
}
