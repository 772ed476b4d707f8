import { describe, expect, it } from 'vitest';
import { LatestLoader, parseNpy, toFrame } from './npy';

// written by numpy.save (and numpy.lib.format.write_array(version=(2, 0)))
const NPY = {
  u2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPHUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAEAAgADAAQABQA=',
  b1: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAB',
  f8stack: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAIwAAAAAAAAADAAAAAAAAA8L8AAAAAAAAAAAAAAAAAAPA/AAAAAAAAAEAAAAAAAAAIQAAAAAAAABBAAAAAAAAAFEAAAAAAAAAYQAAAAAAAABxAAAAAAAAAIEA=',
  i8: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAEAAPv/////////',
  v2be: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc+aTQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwgMiksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAQAAAAIAAAAD',
};
const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** Build an .npy v1.0 by hand, optionally at an odd offset inside a bigger buffer. */
function npy(descr: string, shape: number[], payload: Uint8Array, pad = 0): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  header += '\n';
  const out = new Uint8Array(pad + 10 + header.length + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8], pad);
  out.set(new TextEncoder().encode(header), pad + 10);
  out.set(payload, pad + 10 + header.length);
  return out.subarray(pad);
}
const le = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('parseNpy', () => {
  it('reads numpy-written files: uint16, bool, int64, v2.0 big-endian', () => {
    const a = parseNpy(b64(NPY.u2));
    expect(a.shape).toEqual([2, 3]);
    expect(a.dtype).toBe('<u2');
    expect(Array.from(a.data)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(parseNpy(b64(NPY.b1)).data)).toEqual([1, 0, 0, 1]);
    expect(Array.from(parseNpy(b64(NPY.i8)).data)).toEqual([2 ** 40, -5]);
    const be = parseNpy(b64(NPY.v2be));
    expect(be.shape).toEqual([2, 2]);
    expect(Array.from(be.data)).toEqual([0, 1, 2, 3]);
  });

  it('every dtype the server sends, also when the buffer is unaligned', () => {
    const cases: [string, ArrayBufferView, number[]][] = [
      ['|u1', new Uint8Array([0, 255]), [0, 255]],
      ['<u1', new Uint8Array([7, 9]), [7, 9]],
      ['<u2', new Uint16Array([1, 65535]), [1, 65535]],
      ['<u4', new Uint32Array([1, 4e9]), [1, 4e9]],
      ['<i2', new Int16Array([-3, 3]), [-3, 3]],
      ['<i4', new Int32Array([-70000, 5]), [-70000, 5]],
      ['<u8', new BigUint64Array([5n, 7n]), [5, 7]],
      ['<i8', new BigInt64Array([-5n, 7n]), [-5, 7]],
      ['<f4', new Float32Array([0.5, -1.5]), [0.5, -1.5]],
      ['<f8', new Float64Array([NaN, 2.25]), [NaN, 2.25]],
      ['|b1', new Uint8Array([1, 0]), [1, 0]],
    ];
    for (const [descr, arr, expected] of cases) {
      for (const pad of [0, 3]) {
        const got = parseNpy(npy(descr, [1, 2], le(arr), pad));
        expect(Array.from(got.data), `${descr} pad ${pad}`).toEqual(expected);
      }
    }
  });

  it('rejects garbage, Fortran order, unknown dtypes and truncated data', () => {
    expect(() => parseNpy(new TextEncoder().encode('{"detail": "no"}'))).toThrow(/not a NumPy/);
    expect(() => parseNpy(npy('<c16', [1], new Uint8Array(16)))).toThrow(/dtype/);
    expect(() => parseNpy(npy('<u2', [4], new Uint8Array(4)))).toThrow(/truncated/);
    const f = new TextDecoder('latin1').decode(npy('<u1', [1, 1], new Uint8Array(1))).replace('False', 'True ');
    expect(() => parseNpy(Uint8Array.from(f, (c) => c.charCodeAt(0)))).toThrow(/Fortran/);
  });
});

describe('toFrame', () => {
  it('keeps (ny, nx) and sums a (k, ny, nx) stack', () => {
    const one = toFrame(parseNpy(b64(NPY.u2)));
    expect([one.ny, one.nx, one.count]).toEqual([2, 3, 1]);
    const st = toFrame(parseNpy(b64(NPY.f8stack))); // -3..8 as (2, 2, 3)
    expect([st.ny, st.nx, st.count]).toEqual([2, 3, 2]);
    expect(Array.from(st.data)).toEqual([-3 + 3, -2 + 4, -1 + 5, 0 + 6, 1 + 7, 2 + 8]);
    expect(() => toFrame(parseNpy(npy('<u1', [3], new Uint8Array(3))))).toThrow(/2-D/);
  });
});

describe('LatestLoader', () => {
  function setup() {
    const pending: { key: string; resolve: (v: string) => void; reject: (e: Error) => void }[] = [];
    const frames: (() => void)[] = [];
    const timers: (() => void)[] = [];
    const results: string[] = [];
    const errors: string[] = [];
    const loader = new LatestLoader<string>(
      (key) => new Promise((resolve, reject) => pending.push({ key, resolve, reject })),
      (key, v) => results.push(`${key}=${v}`),
      (key, e) => errors.push(`${key}:${e.message}`),
      (cb) => frames.push(cb),
      (cb) => timers.push(cb),
    );
    const flush = () => new Promise((r) => setTimeout(r, 0));
    return { loader, pending, frames, timers, results, errors, flush };
  }

  it('one request in flight, latest wins, next request only after a paint', async () => {
    const { loader, pending, frames, results, flush } = setup();
    loader.want('1');
    loader.want('2');
    loader.want('3');
    expect(pending.map((p) => p.key)).toEqual(['1']);
    pending[0].resolve('a');
    await flush();
    expect(results).toEqual(['1=a']);
    expect(pending.length).toBe(1); // waits for the animation frame
    loader.want('4');
    expect(pending.length).toBe(1);
    frames.shift()!();
    expect(pending.map((p) => p.key)).toEqual(['1', '4']); // 2 and 3 were never fetched
    pending[1].resolve('b');
    await flush();
    frames.shift()!();
    loader.want('4'); // unchanged: nothing to do
    expect(pending.length).toBe(2);
    expect(loader.requests).toBe(2);
  });

  it('after a failure, retries slowly with whatever is wanted then', async () => {
    const { loader, pending, timers, frames, results, errors, flush } = setup();
    loader.want('5');
    pending[0].reject(new Error('frame 5 not written yet'));
    await flush();
    expect(errors).toEqual(['5:frame 5 not written yet']);
    loader.want('6');
    expect(pending.length).toBe(1); // no hammering while the retry delay runs
    timers.shift()!();
    expect(pending.map((p) => p.key)).toEqual(['5', '6']);
    pending[1].resolve('ok');
    await flush();
    expect(results).toEqual(['6=ok']);
    expect(frames.length).toBe(1);
  });

  it('close() drops late answers', async () => {
    const { loader, pending, results, flush } = setup();
    loader.want('1');
    loader.close();
    pending[0].resolve('late');
    await flush();
    expect(results).toEqual([]);
  });
});
