/**
 * NumPy `.npy` frames (format versions 1.0, 2.0 and 3.0, C order) -> Float32Array,
 * and the latest-wins loader the image panels fetch them with.
 */

export interface Npy {
  shape: number[];
  dtype: string;
  data: Float32Array;
}

/** A 2-D image: `data[row * nx + col]`. */
export interface Frame {
  ny: number;
  nx: number;
  data: Float32Array;
  /** frames stacked per point in the source (summed into `data`) */
  count: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

type Reader = (view: DataView, offset: number, little: boolean) => number;
const READERS: Record<string, [number, Reader]> = {
  b1: [1, (v, o) => v.getUint8(o)],
  u1: [1, (v, o) => v.getUint8(o)],
  i1: [1, (v, o) => v.getInt8(o)],
  u2: [2, (v, o, le) => v.getUint16(o, le)],
  i2: [2, (v, o, le) => v.getInt16(o, le)],
  u4: [4, (v, o, le) => v.getUint32(o, le)],
  i4: [4, (v, o, le) => v.getInt32(o, le)],
  u8: [8, (v, o, le) => Number(v.getBigUint64(o, le))],
  i8: [8, (v, o, le) => Number(v.getBigInt64(o, le))],
  f2: [2, (v, o, le) => halfToFloat(v.getUint16(o, le))],
  f4: [4, (v, o, le) => v.getFloat32(o, le)],
  f8: [8, (v, o, le) => v.getFloat64(o, le)],
};

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function headerField(header: string, key: string): string {
  const m = header.match(new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|\\([^)]*\\)|True|False)`));
  if (!m) throw new Error(`npy header has no '${key}': ${header}`);
  return m[1];
}

/** Parse an .npy buffer; every supported dtype is converted to float32. */
export function parseNpy(input: ArrayBuffer | Uint8Array): Npy {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) throw new Error('not a NumPy .npy file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  let headerLen: number;
  let offset: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLen = view.getUint32(8, true);
    offset = 12;
  } else {
    throw new Error(`unsupported .npy format version ${major}.${bytes[7]}`);
  }
  if (offset + headerLen > bytes.length) throw new Error('truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(offset, offset + headerLen));
  offset += headerLen;

  const descr = headerField(header, 'descr').slice(1, -1);
  if (headerField(header, 'fortran_order') !== 'False') throw new Error('Fortran-ordered .npy arrays are not supported');
  const shape = headerField(header, 'shape')
    .slice(1, -1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length)
    .map((s) => parseInt(s, 10));
  if (shape.some((n) => !Number.isFinite(n) || n < 0)) throw new Error(`bad .npy shape in ${header}`);

  const m = descr.match(/^([<>|=])([biuf])(\d+)$/);
  const reader = m ? READERS[`${m[2]}${m[3]}`] : undefined;
  if (!m || !reader) throw new Error(`unsupported .npy dtype '${descr}'`);
  const little = m[1] !== '>';
  const [size, read] = reader;
  const n = shape.reduce((a, b) => a * b, 1);
  if (offset + n * size > bytes.length) throw new Error(`truncated .npy data: ${n} × ${descr} expected`);

  const data = new Float32Array(n);
  const kind = `${m[2]}${m[3]}`;
  const aligned = (bytes.byteOffset + offset) % size === 0;
  // fast paths for the common little-endian dtypes (typed-array views need alignment)
  if (little && aligned && (kind === 'u1' || kind === 'b1')) data.set(bytes.subarray(offset, offset + n));
  else if (little && aligned && kind === 'u2') data.set(new Uint16Array(bytes.buffer, bytes.byteOffset + offset, n));
  else if (little && aligned && kind === 'i2') data.set(new Int16Array(bytes.buffer, bytes.byteOffset + offset, n));
  else if (little && aligned && kind === 'u4') data.set(new Uint32Array(bytes.buffer, bytes.byteOffset + offset, n));
  else if (little && aligned && kind === 'i4') data.set(new Int32Array(bytes.buffer, bytes.byteOffset + offset, n));
  else if (little && aligned && kind === 'f4') data.set(new Float32Array(bytes.buffer, bytes.byteOffset + offset, n));
  else if (little && aligned && kind === 'f8') data.set(new Float64Array(bytes.buffer, bytes.byteOffset + offset, n));
  else for (let k = 0; k < n; k++) data[k] = read(view, offset + k * size, little);
  return { shape, dtype: descr, data };
}

/** The image to show from an .npy: `(ny, nx)` as is, `(k, ny, nx)` summed over k. */
export function toFrame(npy: Npy): Frame {
  const dims = npy.shape;
  if (dims.length < 2) throw new Error(`expected a 2-D frame, got shape (${dims.join(', ')})`);
  const ny = dims[dims.length - 2];
  const nx = dims[dims.length - 1];
  const size = ny * nx;
  const count = size ? npy.data.length / size : 0;
  if (count <= 1) return { ny, nx, data: npy.data.subarray(0, size), count: 1 };
  const out = new Float32Array(size);
  for (let f = 0; f < count; f++) {
    const base = f * size;
    for (let k = 0; k < size; k++) out[k] += npy.data[base + k];
  }
  return { ny, nx, data: out, count };
}

/** A failed request, with the server's `detail`. */
class HttpError extends Error {
  constructor(readonly status: number, detail: string) {
    super(detail);
  }
}

export async function httpError(r: Response): Promise<HttpError> {
  let detail = `HTTP ${r.status} ${r.statusText}`.trim();
  try {
    const body = await r.json();
    if (body && typeof body.detail === 'string') detail = body.detail;
    else if (body && body.detail) detail = JSON.stringify(body.detail);
  } catch {
    /* not JSON */
  }
  return new HttpError(r.status, detail);
}

export async function fetchFrame(url: string, signal?: AbortSignal): Promise<Frame> {
  const r = await fetch(url, { signal });
  if (!r.ok) throw await httpError(r);
  return toFrame(parseNpy(await r.arrayBuffer()));
}

export function frameUrl(uid: string, stream: string, field: string, seq: number, bin: number, mode: 'max' | 'mean'): string {
  const e = encodeURIComponent;
  return `/api/v1/runs/${e(uid)}/streams/${e(stream)}/frames/${e(field)}/${seq}?bin=${bin}&bin_mode=${mode}`;
}

export type Schedule = (cb: () => void) => void;

/**
 * Latest-wins loading: at most one request in flight; when it resolves the
 * result is handed over (to be painted), and on the next animation frame the
 * loader asks again only if the wanted key changed meanwhile. After a
 * failure it waits `retryMs` before the next attempt (of whatever is wanted
 * then), so a broken source costs one request per `retryMs`.
 */
export class LatestLoader<T> {
  private wanted: string | null = null;
  private have: string | null = null;
  private inflight = false;
  private waiting = false; // a retry delay or an animation frame is pending
  private closed = false;
  requests = 0;

  constructor(
    private readonly load: (key: string) => Promise<T>,
    private readonly onResult: (key: string, value: T) => void,
    private readonly onError: (key: string, err: Error) => void,
    private readonly nextFrame: Schedule = (cb) => requestAnimationFrame(cb),
    private readonly later: (cb: () => void, ms: number) => void = (cb, ms) => setTimeout(cb, ms),
    readonly retryMs = 2000,
  ) {}

  want(key: string | null): void {
    this.wanted = key;
    this.pump();
  }

  close(): void {
    this.closed = true;
  }

  private pump(): void {
    if (this.closed || this.inflight || this.waiting || this.wanted === null || this.wanted === this.have) return;
    const key = this.wanted;
    this.inflight = true;
    this.requests++;
    this.load(key).then(
      (value) => {
        this.inflight = false;
        if (this.closed) return;
        this.have = key;
        this.onResult(key, value);
        this.waiting = true;
        this.nextFrame(() => {
          this.waiting = false;
          this.pump();
        });
      },
      (err: unknown) => {
        this.inflight = false;
        if (this.closed) return;
        this.onError(key, err instanceof Error ? err : new Error(String(err)));
        this.waiting = true;
        this.later(() => {
          this.waiting = false;
          this.pump();
        }, this.retryMs);
      },
    );
  }
}
