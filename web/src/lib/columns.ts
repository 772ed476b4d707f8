/** Append-only float64 columns per stream, filled from `rows` messages. */

type GrowableKind = Float64Array | Int32Array;

/**
 * A typed array that grows (doubling) as rows are written at any start;
 * with `gap`, rows skipped by a write are filled with it, else left as they are.
 */
export class GrowableArray<T extends GrowableKind> {
  private buf: T;
  length = 0;
  constructor(private readonly make: new (n: number) => T, capacity = 256, private readonly gap?: number) {
    this.buf = new make(capacity);
  }
  /** Write `values` at row `start`. */
  set(start: number, values: ArrayLike<number>): void {
    const end = start + values.length;
    if (end > this.buf.length) {
      let cap = this.buf.length;
      while (cap < end) cap *= 2;
      const next = new this.make(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    if (this.gap !== undefined && start > this.length) this.buf.fill(this.gap, this.length, start);
    this.buf.set(values, start);
    this.length = Math.max(this.length, end);
  }
  /** A view of the filled part (valid until the next `set`). */
  values(): T {
    return this.buf.subarray(0, this.length) as T;
  }
}

/** Rows are contiguous; a gap is filled with NaN. */
export class Column extends GrowableArray<Float64Array> {
  constructor(capacity = 256) {
    super(Float64Array, capacity, NaN);
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
