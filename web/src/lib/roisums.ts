/**
 * ROIs and their live sums (`roisums` messages of the live channel, see
 * docs/live-protocol.md): per detector field, the current ROI set and one
 * value per frame (seq_num) for each ROI and the total, aligned here with
 * the stream's rows so they can be plotted and placed on a scan grid.
 * Also the ROI geometry the editor uses (detector pixels: x = column,
 * y = row, x+width and y+height exclusive).
 */
import { Column } from './columns';

export interface Roi {
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DetectorInfo {
  stream: string;
  /** [ny, nx] */
  shape: number[];
  dtype?: string;
}

export interface RoiSumsMessage {
  t: 'roisums';
  field: string;
  stream: string;
  reset: boolean;
  rois: Roi[];
  names: string[];
  seq: Int32Array;
  values: Record<string, Float64Array>;
  errors: number;
  error: string | null;
  error_seq: number | null;
}

export const isTotal = (name: string) => name.startsWith('total:');

/** Sums of one detector field in one run, for the current ROI set. */
export class FieldSums {
  stream = 'primary';
  rois: Roi[] = [];
  names: string[] = [];
  readonly seq = new Column();
  values = new Map<string, Column>();
  errors = 0;
  error: string | null = null;
  errorSeq: number | null = null;
  /** bumped on every change; `resets` on every reset */
  version = 0;
  resets = 0;

  get length(): number {
    return this.seq.length;
  }
}

export class RoiSums {
  readonly fields = new Map<string, FieldSums>();
  version = 0;

  apply(m: RoiSumsMessage): void {
    let fs = this.fields.get(m.field);
    if (!fs || m.reset) {
      const prev = fs;
      fs = new FieldSums();
      fs.resets = (prev?.resets ?? 0) + 1;
      fs.version = prev?.version ?? 0;
      this.fields.set(m.field, fs);
    }
    fs.stream = m.stream ?? 'primary';
    fs.rois = m.rois ?? [];
    fs.names = m.names ?? [];
    const seq = m.seq;
    const start = fs.seq.length;
    fs.seq.set(start, seq);
    for (const name of fs.names) {
      let col = fs.values.get(name);
      if (!col) {
        col = new Column(); // set(start, ...) below fills the rows before start with NaN
        fs.values.set(name, col);
      }
      const v = m.values?.[name];
      const arr = v ?? new Float64Array(seq.length).fill(NaN);
      col.set(start, arr.length === seq.length ? arr : Float64Array.from({ length: seq.length }, (_, k) => arr[k] ?? NaN));
    }
    fs.errors = m.errors ?? 0;
    fs.error = m.error ?? null;
    fs.errorSeq = m.error_seq ?? null;
    fs.version++;
    this.version++;
  }
}

/** Row index of a seq_num in a stream whose seq_num column is `rowSeq` (normally seq - 1). */
export function rowLookup(rowSeq: ArrayLike<number> | undefined): (seq: number) => number {
  let index: Map<number, number> | null = null;
  const n = rowSeq?.length ?? 0;
  return (seq) => {
    if (!rowSeq) return -1;
    const guess = seq - 1;
    if (guess >= 0 && guess < n && rowSeq[guess] === seq) return guess;
    if (!index) {
      index = new Map();
      for (let r = 0; r < n; r++) index.set(rowSeq[r], r);
    }
    return index.get(seq) ?? -1;
  };
}

/** Per name, a column aligned with the stream's rows (NaN where no sum is known yet). */
export function alignedColumns(fs: FieldSums, rowSeq: ArrayLike<number> | undefined): Map<string, Float64Array> {
  const nrows = rowSeq?.length ?? 0;
  const out = new Map<string, Float64Array>();
  const seqs = fs.seq.values();
  const rowOf = rowLookup(rowSeq);
  const rows = new Int32Array(seqs.length);
  for (let k = 0; k < seqs.length; k++) rows[k] = rowOf(seqs[k]);
  for (const name of fs.names) {
    const vals = fs.values.get(name)?.values();
    const col = new Float64Array(nrows).fill(NaN);
    if (vals) for (let k = 0; k < rows.length; k++) if (rows[k] >= 0) col[rows[k]] = vals[k];
    out.set(name, col);
  }
  return out;
}

export interface PlacedMap {
  /** ny*nx row-major, NaN where not measured */
  values: Float32Array;
  /** 1 where a finite value was placed */
  measured: Float32Array;
  /** number of finite cells */
  measuredCount: number;
}

/** Place row values on the grid with the cell index of each row (-1: off the grid). */
export function placeOnGrid(cells: ArrayLike<number>, values: ArrayLike<number>, ncells: number): PlacedMap {
  const out = new Float32Array(ncells).fill(NaN);
  const measured = new Float32Array(ncells);
  let count = 0;
  const n = Math.min(cells.length, values.length);
  for (let r = 0; r < n; r++) {
    const c = cells[r];
    const v = values[r];
    if (c < 0 || c >= ncells || !Number.isFinite(v)) continue;
    if (!measured[c]) count++;
    out[c] = v;
    measured[c] = 1;
  }
  return { values: out, measured, measuredCount: count };
}

// ------------------------------------------------------------ ROI geometry

const ROI_COLOURS = ['#e6194b', '#17a589', '#f58231', '#4363d8', '#911eb4', '#b8860b', '#f032e6', '#2e8b57'];
export const TOTAL_COLOUR = '#34495e';
export const roiColour = (index: number) => ROI_COLOURS[((index % ROI_COLOURS.length) + ROI_COLOURS.length) % ROI_COLOURS.length];

/** roi1, roi2, ... : the first free one. */
export function nextRoiName(rois: Roi[]): string {
  const taken = new Set(rois.map((r) => r.name));
  for (let k = 1; ; k++) if (!taken.has(`roi${k}`)) return `roi${k}`;
}

/**
 * The integer-pixel rectangle between two points in data (detector pixel)
 * coordinates, clipped to a [ny, nx] frame; null when nothing is left.
 */
export function rectFromPoints(a: { x: number; y: number }, b: { x: number; y: number }, shape: number[] | null): Omit<Roi, 'name'> | null {
  let x0 = Math.round(Math.min(a.x, b.x));
  let x1 = Math.round(Math.max(a.x, b.x));
  let y0 = Math.round(Math.min(a.y, b.y));
  let y1 = Math.round(Math.max(a.y, b.y));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  if (shape) {
    const [ny, nx] = shape;
    x0 = Math.max(0, x0);
    y0 = Math.max(0, y0);
    x1 = Math.min(nx, x1);
    y1 = Math.min(ny, y1);
  }
  if (x1 <= x0 || y1 <= y0) return null;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** `roi` shifted by (dx, dy) pixels (rounded), kept inside the frame. */
export function moveRoi(roi: Roi, dx: number, dy: number, shape: number[] | null): Roi {
  let x = roi.x + Math.round(dx);
  let y = roi.y + Math.round(dy);
  if (shape) {
    const [ny, nx] = shape;
    x = Math.min(Math.max(0, x), Math.max(0, nx - roi.width));
    y = Math.min(Math.max(0, y), Math.max(0, ny - roi.height));
  }
  return { ...roi, x, y };
}

/** Which corner: (right ? max x : min x, bottom ? max y : min y) in detector pixels (row 0 at the top). */
export interface Corner {
  right: boolean;
  bottom: boolean;
}

/** `roi` with one corner dragged by (dx, dy) pixels; at least 1×1, inside the frame; corners may cross. */
export function resizeRoi(roi: Roi, corner: Corner, dx: number, dy: number, shape: number[] | null): Roi {
  const fixedX = corner.right ? roi.x : roi.x + roi.width;
  const fixedY = corner.bottom ? roi.y : roi.y + roi.height;
  const movedX = (corner.right ? roi.x + roi.width : roi.x) + dx;
  const movedY = (corner.bottom ? roi.y + roi.height : roi.y) + dy;
  const r = rectFromPoints({ x: fixedX, y: fixedY }, { x: movedX, y: movedY }, shape);
  return r ? { ...roi, ...r } : roi;
}

/** Integers, at least 1×1, inside the frame (for numeric edits). */
export function clipRoi(roi: Roi, shape: number[] | null): Roi {
  const r = rectFromPoints({ x: roi.x, y: roi.y }, { x: roi.x + Math.max(1, roi.width), y: roi.y + Math.max(1, roi.height) }, shape);
  return r ? { ...roi, ...r } : roi;
}

export function sameRois(a: Roi[], b: Roi[]): boolean {
  return a.length === b.length && a.every((r, k) => {
    const s = b[k];
    return r.name === s.name && r.x === s.x && r.y === s.y && r.width === s.width && r.height === s.height;
  });
}
