/**
 * ROI sums of the run's detector fields: for grid scans one map per ROI and
 * the total (each with its own colour scale), otherwise one line plot per
 * ROI and the total. Data: the live channel's `roisums` messages.
 */
import { ScaleType, type ColorMap, type ColorScaleType } from '@h5web/lib';
import { useMemo, useState } from 'react';
import type { GridSpec } from '../lib/grid';
import { TOTAL_COLOUR, alignedColumns, isTotal, placeOnGrid, roiColour, type FieldSums } from '../lib/roisums';
import type { RunState } from '../lib/runstate';
import { ColourControls, LineOf, MapView, XSelect, safeDomain, xValues } from './Plots';

export function RoiSumPanels({ st, defaultX }: { st: RunState; defaultX: string }) {
  const fields = [...st.roisums.fields.entries()].filter(([, fs]) => fs.names.length);
  if (!fields.length) return null;
  const layout = st.layout;
  return (
    <>
      {fields.map(([field, fs]) =>
        layout.kind === 'grid' && layout.grid && fs.stream === 'primary' ? (
          <RoiMaps key={field} st={st} field={field} fs={fs} grid={layout.grid} />
        ) : (
          <RoiLines key={field} st={st} field={field} fs={fs} defaultX={defaultX} />
        ),
      )}
    </>
  );
}

function colourOf(fs: FieldSums, name: string): string {
  if (isTotal(name)) return TOTAL_COLOUR;
  const k = fs.rois.findIndex((r) => r.name === name);
  return roiColour(k < 0 ? 0 : k);
}

function useAligned(st: RunState, fs: FieldSums) {
  const rowSeq = st.stream(fs.stream).get('seq_num');
  const rows = rowSeq?.length ?? 0;
  // eslint-disable-next-line react-hooks/exhaustive-deps
  return useMemo(() => alignedColumns(fs, rowSeq), [fs, fs.version, rows]);
}

function RoiErrors({ fs }: { fs: FieldSums }) {
  if (!fs.errors) return null;
  const what = fs.errors === 1 ? '1 frame' : `${fs.errors} frames`;
  return (
    <div className="error" role="alert" data-testid="roi-error">
      {what} could not be read{fs.error ? `: ${fs.error}` : ''}{fs.errorSeq != null ? ` (point ${fs.errorSeq})` : ''}
    </div>
  );
}

function RoiMaps({ st, field, fs, grid }: { st: RunState; field: string; fs: FieldSums; grid: GridSpec }) {
  const [cmap, setCmap] = useState<ColorMap>('Viridis' as ColorMap);
  const [scale, setScale] = useState<ColorScaleType>(ScaleType.Linear);
  const cols = useAligned(st, fs);
  const cells = st.cells.values();
  const ncells = grid.shape[0] * grid.shape[1];
  const maps = useMemo(
    () => fs.names.map((name) => {
      const placed = placeOnGrid(cells, cols.get(name) ?? new Float64Array(0), ncells);
      // unmeasured cells are NaN, which the domain skips
      return { name, ...placed, domain: safeDomain(placed.values, scale) };
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [cols, cells.length, ncells, scale, fs.names.join('\n')],
  );
  return (
    <section className="panel roi-maps" data-testid="roi-maps" data-field={field}>
      <div className="panel-head controls">
        <h2>ROI maps · {field}</h2>
        <ColourControls cmap={cmap} setCmap={setCmap} scale={scale} setScale={setScale} />
        <span className="muted">{fs.length} frames summed</span>
      </div>
      <div className="roi-map-grid">
        {maps.map((m) => (
          <div className="vis-box" key={m.name} data-testid={`roi-map-${m.name}`} data-measured={m.measuredCount}>
            <div className="vis-title" style={{ color: colourOf(fs, m.name) }}>
              {m.name} <span className="muted">{m.measuredCount} / {ncells}</span>
            </div>
            <div className="vis roi-map-vis">
              <MapView grid={grid} values={m.values} measured={m.measured} domain={m.domain} cmap={cmap} scale={scale} />
            </div>
          </div>
        ))}
      </div>
      <RoiErrors fs={fs} />
    </section>
  );
}

function RoiLines({ st, field, fs, defaultX }: { st: RunState; field: string; fs: FieldSums; defaultX: string }) {
  const stream = st.stream(fs.stream);
  const fields = stream.fields;
  const [xSel, setX] = useState<string | null>(null);
  const [log, setLog] = useState(false);
  const x = xSel ?? (fields.includes(defaultX) || defaultX === 'time' || defaultX === 'seq_num' ? defaultX : 'seq_num');
  const cols = useAligned(st, fs);
  const { values: xv, label: xlabel } = xValues(st, stream, x, (f) => f);
  const scale = log ? ScaleType.Log : ScaleType.Linear;
  return (
    <section className="panel roi-lines" data-testid="roi-lines" data-field={field}>
      <div className="panel-head controls">
        <h2>ROI sums · {field}</h2>
        <XSelect fields={fields} value={x} onChange={setX} testid="roi-x-select" />
        <label><input type="checkbox" checked={log} onChange={(e) => setLog(e.target.checked)} /> log y</label>
        <span className="muted">{fs.length} frames summed</span>
      </div>
      <div className="line-grid">
        {fs.names.map((name) => {
          const y = cols.get(name);
          if (!y || !xv) return null;
          const n = Math.min(y.length, xv.length);
          const finite = y.subarray(0, n).reduce((c, v) => c + (Number.isFinite(v) ? 1 : 0), 0);
          return (
            <div className="vis-box" key={name} data-testid={`roi-line-${name}`} data-points={finite}>
              <div className="vis-title" style={{ color: colourOf(fs, name) }}>{name} <span className="muted">{finite} points</span></div>
              <div className="vis">
                {n > 0 ? (
                  <LineOf y={y.subarray(0, n)} x={xv.subarray(0, n)} scale={scale} xlabel={xlabel} ylabel={name} />
                ) : (
                  <p className="muted">Waiting for the first sum…</p>
                )}
              </div>
            </div>
          );
        })}
      </div>
      <RoiErrors fs={fs} />
    </section>
  );
}
