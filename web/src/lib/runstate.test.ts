import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeMessage } from './protocol';
import { RunState } from './runstate';
import { defaultX, defaultY, normalise, progress } from './plotdefaults';

function bytes(a: Float64Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(0));
}

const start = { uid: 'u', time: 0, motors: ['sx'], num_points: 4, hints: { dimensions: [[['sx'], 'primary']] } };

describe('decode + RunState', () => {
  it('applies snapshot, rows (unaligned bins), cells and coalesced docs', () => {
    const st = new RunState();
    st.apply(decodeMessage(encode({ t: 'snapshot', uid: 'u', last_id: 1, summary: null, server_time: 0,
      stages: { run: { start, stop: null, layout: { kind: 'line' }, descriptors: [] }, columns: { streams: { primary: { fields: ['sx', 'det'], rows: 0 } } } } })));
    // a leading string makes the bins land at odd offsets in the msgpack buffer
    const rows = (start0: number, xs: number[]) => encode({ t: 'rows', stream: 'primary', start: start0, n: xs.length, pad: 'x',
      seq_num: bytes(new Int32Array(xs.map((_, k) => start0 + k + 1))), time: bytes(new Float64Array(xs.length)),
      cols: { sx: bytes(new Float64Array(xs)), det: bytes(new Float64Array(xs.map((x) => x * 10))) }, ti: 12.5 });
    st.apply(decodeMessage(rows(0, [1, 2])));
    st.apply(decodeMessage(rows(2, [3])));
    expect(Array.from(st.primary.get('det')!)).toEqual([10, 20, 30]);
    expect(Array.from(st.primary.get('seq_num')!)).toEqual([1, 2, 3]);
    expect(st.primary.rows).toBe(3);
    expect(st.lastIngest).toBe(12.5);
    st.apply(decodeMessage(encode({ t: 'cells', stream: 'primary', start: 0, n: 3, idx: bytes(new Int32Array([0, 1, 3])) })));
    expect(Array.from(st.cells.values())).toEqual([0, 1, 3]);
    st.apply(decodeMessage(encode({ t: 'docs', items: [{ n: 1, name: 'start', doc: {} }], skipped: 7 })));
    expect(st.log.length).toBe(1);
    expect(st.logSkipped).toBe(7);
    st.apply(decodeMessage(encode({ t: 'roi_sums', anything: 1 })));
    expect(st.extra.has('roi_sums')).toBe(true); // unknown stage messages are kept, not fatal
  });
});

describe('plot defaults (BestEffortCallback rules)', () => {
  it('x from hints.dimensions, time without, seq_num for several dimensions', () => {
    expect(defaultX(start, ['sx', 'det'])).toBe('sx');
    expect(defaultX({ uid: 'u' }, ['det'])).toBe('time');
    expect(defaultX({ hints: { dimensions: [[['sy'], 'primary'], [['sx'], 'primary']] } }, ['sx', 'sy'])).toBe('seq_num');
  });
  it('y from descriptor hints, else every numeric field but the motors', () => {
    const d = [{ uid: 'd', name: 'primary', hints: { det: { fields: ['det'] } }, data_keys: {} }];
    expect(defaultY(start, d, ['sx', 'det', 'I0'])).toEqual(['det']);
    const withMotor = [{ ...d[0], hints: { det: { fields: ['det'] }, sx: { fields: ['sx'] } } }];
    expect(defaultY(start, withMotor, ['sx', 'det', 'I0'])).toEqual(['det']);
    expect(defaultY(start, [], ['sx', 'det', 'I0'])).toEqual(['det', 'I0']);
  });
  it('normalises by a monitor and computes ETA', () => {
    expect(Array.from(normalise(new Float64Array([2, 4]), new Float64Array([2, 0])))).toEqual([1, NaN]);
    expect(progress(25, 100, 10)).toEqual({ fraction: 0.25, eta: 30 });
    expect(progress(5, null, 10)).toEqual({ fraction: null, eta: null });
  });
});
