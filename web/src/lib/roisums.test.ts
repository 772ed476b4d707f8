import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeMessage } from './protocol';
import {
  RoiSums, alignedColumns, clipRoi, moveRoi, nextRoiName, placeOnGrid, rectFromPoints, resizeRoi, roiColour, rowLookup,
  type RoiSumsMessage,
} from './roisums';
import { RunState } from './runstate';

const bytes = (a: Float64Array | Int32Array) => new Uint8Array(a.buffer.slice(0));
const ROIS = [{ name: 'roi1', x: 1, y: 2, width: 3, height: 4 }, { name: 'roi2', x: 0, y: 0, width: 2, height: 2 }];
const NAMES = ['roi1', 'roi2', 'total:det'];

function msg(reset: boolean, seqs: number[], opts: Partial<RoiSumsMessage> = {}): Uint8Array {
  const values: Record<string, Uint8Array> = {};
  NAMES.forEach((n, j) => (values[n] = bytes(new Float64Array(seqs.map((s) => s * 10 + j)))));
  return encode({ t: 'roisums', field: 'det', stream: 'primary', reset, rois: ROIS, names: NAMES, pad: 'x',
    seq: bytes(new Int32Array(seqs)), values, errors: 0, error: null, error_seq: null, ...opts });
}

describe('RoiSums', () => {
  it('reset takes the rows, append adds rows, reset drops everything', () => {
    const rs = new RoiSums();
    rs.apply(decodeMessage(msg(true, [1, 2])) as any);
    rs.apply(decodeMessage(msg(false, [3])) as any);
    const fs = rs.fields.get('det')!;
    expect(Array.from(fs.seq.values())).toEqual([1, 2, 3]);
    expect(Array.from(fs.values.get('roi2')!.values())).toEqual([11, 21, 31]);
    expect(Array.from(fs.values.get('total:det')!.values())).toEqual([12, 22, 32]);
    expect(fs.rois).toEqual(ROIS);
    const v = fs.version;
    rs.apply(decodeMessage(msg(true, [2], { errors: 3, error: 'frame 1: file gone', error_seq: 1 })) as any);
    const again = rs.fields.get('det')!;
    expect(Array.from(again.seq.values())).toEqual([2]);
    expect(Array.from(again.values.get('roi1')!.values())).toEqual([20]);
    expect(again.errors).toBe(3);
    expect(again.error).toBe('frame 1: file gone');
    expect(again.version).toBeGreaterThan(v);
    expect(again.resets).toBe(2);
  });

  it('via RunState: snapshot stage (undecoded bins), detectors message, roisums message', () => {
    const st = new RunState();
    const body = { t: 'roisums', field: 'det', stream: 'primary', reset: true, rois: ROIS, names: NAMES,
      seq: bytes(new Int32Array([1])), values: Object.fromEntries(NAMES.map((n) => [n, bytes(new Float64Array([5]))])),
      errors: 0, error: null, error_seq: null };
    st.apply(decodeMessage(encode({ t: 'snapshot', uid: 'u', last_id: 1, summary: null, server_time: 0,
      stages: { rois: { detectors: { det: { stream: 'primary', shape: [4, 6], dtype: 'uint16' } }, fields: { det: body } } } })));
    expect(st.detectors).toEqual({ det: { stream: 'primary', shape: [4, 6], dtype: 'uint16' } });
    expect(Array.from(st.roisums.fields.get('det')!.values.get('roi1')!.values())).toEqual([5]);
    st.apply(decodeMessage(encode({ t: 'detectors', detectors: { det: { stream: 'primary', shape: [4, 6], dtype: 'uint16' }, cam: { stream: 'primary', shape: [8, 8], dtype: 'uint8' } } })));
    expect(Object.keys(st.detectors)).toEqual(['det', 'cam']);
    st.apply(decodeMessage(msg(false, [2])));
    expect(Array.from(st.roisums.fields.get('det')!.seq.values())).toEqual([1, 2]);
    expect(st.extra.has('roisums')).toBe(false);
  });

  it('detector fields from descriptors when the server sends no detectors stage', () => {
    const st = new RunState();
    st.apply({ t: 'run', start: { uid: 'u' }, stop: null, layout: { kind: 'line' }, descriptors: [
      { uid: 'd', name: 'primary', hints: {}, data_keys: {
        'det-image': { dtype: 'array', shape: [256, 256], external: 'STREAM:' },
        v1det_image: { dtype: 'array', shape: [1, 64, 128], external: 'FILESTORE:' },
        spectrum: { dtype: 'array', shape: [1024], external: 'STREAM:' },
        inline: { dtype: 'array', shape: [4, 4] },
        I0: { dtype: 'number', shape: [] } } },
      { uid: 'b', name: 'baseline', hints: {}, data_keys: { cam: { dtype: 'array', shape: [8, 8], external: 'X' } } },
    ] });
    expect(st.detectorFields()).toEqual({
      'det-image': { stream: 'primary', shape: [256, 256] },
      v1det_image: { stream: 'primary', shape: [64, 128] },
    });
  });
});

describe('alignment and grid placement', () => {
  it('aligns sums with the rows by seq_num (normally seq - 1, else looked up)', () => {
    const rs = new RoiSums();
    rs.apply(decodeMessage(msg(true, [3, 1])) as any);
    const cols = alignedColumns(rs.fields.get('det')!, new Float64Array([1, 2, 3, 4]));
    expect(Array.from(cols.get('roi1')!)).toEqual([10, NaN, 30, NaN]);
    const gap = rowLookup([1, 2, 5, 6]);
    expect([gap(1), gap(5), gap(6), gap(3), gap(9)]).toEqual([0, 2, 3, -1, -1]);
  });

  it('places values with the cell index; NaN and off-grid rows stay blank', () => {
    const m = placeOnGrid(new Int32Array([0, 1, 3, -1, 2]), new Float64Array([5, 6, 7, 8, NaN]), 4);
    expect(Array.from(m.values)).toEqual([5, 6, NaN, 7]);
    expect(Array.from(m.measured)).toEqual([1, 1, 0, 1]);
    expect(m.measuredCount).toBe(3);
  });
});

describe('ROI geometry', () => {
  const shape = [10, 20]; // ny, nx
  it('names and colours', () => {
    expect(nextRoiName([])).toBe('roi1');
    expect(nextRoiName([{ ...ROIS[0], name: 'roi1' }, { ...ROIS[0], name: 'roi3' }])).toBe('roi2');
    expect(roiColour(0)).not.toBe(roiColour(1));
    expect(roiColour(8)).toBe(roiColour(0));
  });
  it('a drag becomes an integer rectangle clipped to the frame', () => {
    expect(rectFromPoints({ x: 2.4, y: 7.6 }, { x: 5.6, y: 3.2 }, shape)).toEqual({ x: 2, y: 3, width: 4, height: 5 });
    expect(rectFromPoints({ x: -5, y: -1 }, { x: 30, y: 4 }, shape)).toEqual({ x: 0, y: 0, width: 20, height: 4 });
    expect(rectFromPoints({ x: 3, y: 3 }, { x: 3.2, y: 3.1 }, shape)).toEqual({ x: 3, y: 3, width: 1, height: 1 });
    expect(rectFromPoints({ x: 25, y: 3 }, { x: 30, y: 5 }, shape)).toBeNull();
  });
  it('move keeps the size and stays inside; resize drags one corner', () => {
    const r = { name: 'roi1', x: 2, y: 2, width: 4, height: 3 };
    expect(moveRoi(r, 1.6, -0.4, shape)).toEqual({ ...r, x: 4, y: 2 });
    expect(moveRoi(r, 100, 100, shape)).toEqual({ ...r, x: 16, y: 7 });
    expect(resizeRoi(r, { right: true, bottom: true }, 2, 1, shape)).toEqual({ ...r, width: 6, height: 4 });
    expect(resizeRoi(r, { right: false, bottom: false }, -1, -2, shape)).toEqual({ ...r, x: 1, y: 0, width: 5, height: 5 });
    // dragging the right edge past the left one flips the rectangle
    expect(resizeRoi(r, { right: true, bottom: true }, -6, 0, shape)).toEqual({ ...r, x: 0, width: 2 });
    expect(clipRoi({ ...r, x: 18, width: 9 }, shape)).toEqual({ ...r, x: 18, width: 2 });
    expect(clipRoi({ ...r, x: 1.4, width: 0 }, shape)).toEqual({ ...r, x: 1, width: 1 });
  });
});
