/** Append-only float64 columns per stream, filled from `rows` messages. */

export class Column {
  private buf: Float64Array;
  length = 0;
  constructor(capacity = 256) {
    this.buf = new Float64Array(capacity);
  }
  /** Write `values` at row `start` (rows are contiguous; a gap is filled with NaN). */
  set(start: number, values: ArrayLike<number>): void {
    const end = start + values.length;
    if (end > this.buf.length) {
      let cap = this.buf.length;
      while (cap < end) cap *= 2;
      const next = new Float64Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    if (start > this.length) this.buf.fill(NaN, this.length, start);
    this.buf.set(values, start);
    this.length = Math.max(this.length, end);
  }
  /** A view of the filled part (valid until the next `set`). */
  values(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}

export class StreamColumns {
  readonly columns = new Map<string, Column>();
  fields: string[] = [];
  rows = 0;

  column(field: string): Column {
    let c = this.columns.get(field);
    if (!c) {
      c = new Column();
      this.columns.set(field, c);
    }
    return c;
  }

  append(start: number, n: number, cols: Record<string, ArrayLike<number>>): void {
    for (const [field, values] of Object.entries(cols)) this.column(field).set(start, values);
    this.rows = Math.max(this.rows, start + n);
  }

  get(field: string): Float64Array | undefined {
    return this.columns.get(field)?.values();
  }
}
