import { describe, expect, it } from 'vitest';
import { CellIndex, MapBuilder, cellEdges, placeSeq, type GridSpec } from './grid';

describe('placeSeq (bluesky LiveGrid rule)', () => {
  it('places a 3x4 snake scan row by row, odd rows mirrored', () => {
    const got = Array.from({ length: 12 }, (_, k) => placeSeq(k + 1, [3, 4], [false, true]));
    expect(got).toEqual([
      [0, 0], [0, 1], [0, 2], [0, 3],
      [1, 3], [1, 2], [1, 1], [1, 0],
      [2, 0], [2, 1], [2, 2], [2, 3],
    ]);
  });
  it('does not mirror without snaking', () => {
    expect(placeSeq(5, [3, 4], [false, false])).toEqual([1, 0]);
  });
  it('returns null off the grid', () => {
    expect(placeSeq(0, [2, 2], [false, true])).toBeNull();
    expect(placeSeq(5, [2, 2], [false, true])).toBeNull();
  });
  it('visits every cell exactly once', () => {
    const seen = new Set<string>();
    for (let s = 1; s <= 35; s++) seen.add(String(placeSeq(s, [5, 7], [false, true])));
    expect(seen.size).toBe(35);
  });
});

describe('MapBuilder', () => {
  const spec: GridSpec = { shape: [2, 3], extents: [[0, 1], [0, 2]], snaking: [false, true], motors: ['y', 'x'] };
  it('fills cells incrementally and leaves unmeasured ones blank', () => {
    const b = new MapBuilder(spec, 'det');
    const cells = new CellIndex();
    cells.set(0, [0, 1, 2, 5]);
    expect(b.update(cells.values(), new Float64Array([10, 11, 12, 13]))).toBe(true);
    expect(b.map.filled).toBe(4);
    expect(Array.from(b.map.measured)).toEqual([1, 1, 1, 0, 0, 1]);
    expect(b.map.values[5]).toBe(13);
    expect(Number.isNaN(b.map.values[3])).toBe(true);
    // nothing new: no work
    expect(b.update(cells.values(), new Float64Array([10, 11, 12, 13]))).toBe(false);
    cells.set(4, [4, 3]);
    b.update(cells.values(), new Float64Array([10, 11, 12, 13, 14, 15]));
    expect(Array.from(b.map.values)).toEqual([10, 11, 12, 15, 14, 13]);
    expect(b.map.filled).toBe(6);
  });
  it('waits for values that have not arrived yet', () => {
    const b = new MapBuilder(spec, 'det');
    const cells = new CellIndex();
    cells.set(0, [0, 1, 2]);
    b.update(cells.values(), new Float64Array([1]));
    expect(b.map.filled).toBe(1);
    b.update(cells.values(), new Float64Array([1, 2, 3]));
    expect(b.map.filled).toBe(3);
  });
});

describe('cellEdges', () => {
  it('puts cell centres on the motor positions', () => {
    expect(Array.from(cellEdges([0, 2], 3))).toEqual([-0.5, 0.5, 1.5, 2.5]);
  });
});
