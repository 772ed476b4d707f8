import {
  ColorMap, DomainWidget, HeatmapVis, LineVis, ScaleType, ScatterVis, getDomain, getVisDomain,
  type ColorScaleType, type CustomDomain, type Domain,
} from '@h5web/lib';
import ndarray from 'ndarray';
import { useMemo, useState } from 'react';
import type { StreamColumns } from '../lib/columns';
import { MapBuilder, cellEdges, type GridSpec } from '../lib/grid';
import { normalise } from '../lib/plotdefaults';
import type { RunState } from '../lib/runstate';
import { stats } from '../stats';

export const COLORMAPS: ColorMap[] = ['Viridis', 'Inferno', 'Magma', 'Plasma', 'Cividis', 'Greys', 'RdBu', 'Turbo'] as ColorMap[];
/** h5web's ignoreValue for every plot: NaN and ±Infinity are not drawn. */
export const isBad = (v: number) => !Number.isFinite(v);

export function safeDomain(values: ArrayLike<number>, scale: ColorScaleType = ScaleType.Linear): Domain {
  const d = getDomain(values as any, { scaleType: scale, ignoreValue: isBad });
  if (!d) return scale === ScaleType.Log ? [1, 10] : [0, 1];
  if (d[0] === d[1]) return [d[0] - 0.5 * (Math.abs(d[0]) || 1), d[1] + 0.5 * (Math.abs(d[1]) || 1)];
  return d;
}

function histogram(values: Float64Array, domain: Domain, nbins = 40): { values: Float64Array; bins: Float64Array } {
  const [a, b] = domain;
  const counts = new Float64Array(nbins);
  const bins = new Float64Array(nbins + 1);
  for (let k = 0; k <= nbins; k++) bins[k] = a + ((b - a) * k) / nbins;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    const k = Math.min(nbins - 1, Math.max(0, Math.floor(((v - a) / (b - a)) * nbins)));
    counts[k]++;
  }
  return { values: counts, bins };
}

/**
 * The x values of a plot of `stream`: `time` as seconds since the run's start,
 * `seq_num` labelled "point number", any other field labelled by `fieldLabel`.
 */
export function xValues(st: RunState, stream: StreamColumns, x: string, fieldLabel: (f: string) => string): { values: Float64Array | undefined; label: string } {
  const col = stream.get(x);
  if (x === 'time' && col) {
    const t0 = (st.start?.time as number) ?? col[0];
    return { values: col.map((t) => t - t0), label: 'time since start (s)' };
  }
  if (x === 'seq_num') return { values: col, label: 'point number' };
  return { values: col, label: fieldLabel(x) };
}

/** The x-axis selector: point number, time, or a field of the stream. */
export function XSelect({ fields, value, onChange, testid }: { fields: string[]; value: string; onChange: (x: string) => void; testid: string }) {
  return (
    <label>x <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testid}>
      {['seq_num', 'time', ...fields].map((f) => <option key={f} value={f}>{f === 'seq_num' ? 'point number' : f}</option>)}
    </select></label>
  );
}

function withUnits(st: RunState, field: string): string {
  for (const d of st.descriptors) {
    const u = d.data_keys?.[field]?.units;
    if (u) return `${field} (${u})`;
  }
  return field;
}

export function LinePanels({ st, fields, defaultX, defaultYs }: { st: RunState; fields: string[]; defaultX: string; defaultYs: string[] }) {
  const [xSel, setX] = useState<string | null>(null);
  const [ySel, setYs] = useState<string[] | null>(null);
  const [monitor, setMonitor] = useState('');
  const [log, setLog] = useState(false);
  const x = xSel ?? defaultX;
  const ys = (ySel ?? defaultYs).filter((f) => fields.includes(f));
  const { values: xv, label: xlabel } = xValues(st, st.primary, x, (f) => withUnits(st, f));
  const mon = monitor ? st.primary.get(monitor) : undefined;
  const toggle = (f: string) => setYs(ys.includes(f) ? ys.filter((y) => y !== f) : [...ys, f]);

  return (
    <section className="panel lines" data-testid="line-panels">
      <div className="panel-head controls">
        <h2>Plots</h2>
        <XSelect fields={fields} value={x} onChange={setX} testid="x-select" />
        <label>normalise by <select value={monitor} onChange={(e) => setMonitor(e.target.value)} data-testid="monitor-select">
          <option value="">—</option>
          {fields.map((f) => <option key={f} value={f}>{f}</option>)}
        </select></label>
        <label><input type="checkbox" checked={log} onChange={(e) => setLog(e.target.checked)} data-testid="log-scale" /> log y</label>
        <span className="yfields">y:
          {fields.map((f) => (
            <label key={f}><input type="checkbox" checked={ys.includes(f)} onChange={() => toggle(f)} data-testid={`y-${f}`} /> {f}</label>
          ))}
        </span>
      </div>
      {!ys.length && <p className="muted">No field selected — tick a y field above.</p>}
      <div className="line-grid">
        {ys.map((f) => {
          const raw = st.primary.get(f);
          if (!raw || !xv) return null;
          const y = normalise(raw, mon);
          const n = Math.min(y.length, xv.length);
          const yv = y.subarray(0, n);
          const scale = log ? ScaleType.Log : ScaleType.Linear;
          const label = monitor ? `${f} / ${monitor}` : withUnits(st, f);
          return (
            <div className="vis-box" key={f} data-testid="line-panel" data-field={f} data-points={n}>
              <div className="vis-title">{label} <span className="muted">{n} points</span></div>
              <div className="vis">
                <LineOf y={yv} x={xv.subarray(0, n)} scale={scale} xlabel={xlabel} ylabel={label} />
              </div>
            </div>
          );
        })}
      </div>
    </section>
  );
}

function FieldSelect({ fields, value, onChange, testid }: { fields: string[]; value: string; onChange: (v: string) => void; testid: string }) {
  return (
    <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testid}>
      {fields.map((f) => <option key={f} value={f}>{f}</option>)}
    </select>
  );
}

export function ColourControls({ cmap, setCmap, scale, setScale }: { cmap: ColorMap; setCmap: (c: ColorMap) => void; scale: ColorScaleType; setScale: (s: ColorScaleType) => void }) {
  return (
    <>
      <label>colours <select value={cmap} onChange={(e) => setCmap(e.target.value as ColorMap)}>{COLORMAPS.map((c) => <option key={c}>{c}</option>)}</select></label>
      <label><input type="checkbox" checked={scale === ScaleType.Log} onChange={(e) => setScale(e.target.checked ? ScaleType.Log : ScaleType.Linear)} /> log</label>
    </>
  );
}

export function MapPanel({ st, grid, defaultField }: { st: RunState; grid: GridSpec; defaultField: string | undefined }) {
  const fields = st.fieldsOf('primary');
  const [fieldSel, setField] = useState<string | null>(null);
  const field = fieldSel ?? defaultField ?? fields[0];
  const [cmap, setCmap] = useState<ColorMap>('Viridis' as ColorMap);
  const [scale, setScale] = useState<ColorScaleType>(ScaleType.Linear);
  const [custom, setCustom] = useState<CustomDomain>([null, null]);
  const [apiMsg, setApiMsg] = useState<string | null>(null);
  const builder = useMemo(() => new MapBuilder(grid, field), [st, field, grid.shape[0], grid.shape[1]]);
  builder.update(st.cells.values(), st.primary.get(field));
  const m = builder.map;
  stats.mapFilled = m.filled;
  stats.mapMeasured = m.measured;
  const [ny, nx] = grid.shape;
  // m.values and m.measured change in place: what is derived from them follows builder.version (m.filled for the mask)
  // (unmeasured cells are NaN, which the domain and the histogram skip)
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const values = useMemo(() => Float32Array.from(m.values), [builder, builder.version]);
  const measured = useMemo(() => m.measured.slice(), [m.filled, builder]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const dataDomain = useMemo(() => safeDomain(m.values, scale), [builder, builder.version, scale]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const hist = useMemo(() => histogram(m.values, dataDomain), [builder, builder.version, dataDomain]);
  const domain = getVisDomain(custom, dataDomain);

  const checkApi = async () => {
    try {
      const r = await fetch(`/api/v1/runs/${st.uid}/maps/${encodeURIComponent(field)}`);
      const body = await r.json();
      if (!r.ok) throw new Error(body.detail ?? `HTTP ${r.status}`);
      const blob = new Blob([JSON.stringify(body)], { type: 'application/json' });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `map-${st.start?.scan_id ?? st.uid.slice(0, 8)}-${field}.json`;
      a.click();
      setApiMsg(null);
    } catch (e) {
      setApiMsg(`Could not fetch the map of ${field}: ${(e as Error).message}`);
    }
  };

  return (
    <section className="panel map" data-testid="map-panel" data-filled={m.filled} data-field={field}>
      <div className="panel-head controls">
        <h2>Map</h2>
        <label>colour by <FieldSelect fields={fields} value={field} onChange={(f) => { setField(f); setCustom([null, null]); }} testid="map-field" /></label>
        <ColourControls cmap={cmap} setCmap={setCmap} scale={scale} setScale={setScale} />
        <span className="muted" data-testid="map-filled">{m.filled} / {ny * nx} cells</span>
        <button onClick={checkApi} title="GET /api/v1/runs/{uid}/maps/{field}">Download JSON</button>
      </div>
      {apiMsg && <div className="error" role="alert" data-testid="map-error">{apiMsg}</div>}
      <div className="map-body">
        <div className="vis map-vis">
          <MapView grid={grid} values={values} measured={measured} domain={domain} cmap={cmap} scale={scale} />
        </div>
        <div className="domain">
          <DomainWidget
            dataDomain={dataDomain}
            customDomain={custom}
            scaleType={scale}
            histogram={{ ...hist, colorMap: cmap }}
            onCustomDomainChange={setCustom}
          />
        </div>
      </div>
    </section>
  );
}

/** A grid scan map: row-major [ny, nx] values on the grid's motor axes, unmeasured cells transparent. */
export function MapView({ grid, values, measured, domain, cmap, scale, title }: {
  grid: GridSpec; values: Float32Array; measured: Float32Array; domain: Domain; cmap: ColorMap; scale: ColorScaleType; title?: string;
}) {
  const [ny, nx] = grid.shape;
  const motors = grid.motors.length === 2 ? grid.motors : ['slow axis', 'fast axis'];
  const ext = grid.extents ?? undefined;
  const xEdges = useMemo(() => cellEdges(ext?.[1], nx), [ext?.[1]?.[0], ext?.[1]?.[1], nx]);
  const yEdges = useMemo(() => cellEdges(ext?.[0], ny), [ext?.[0]?.[0], ext?.[0]?.[1], ny]);
  return (
    <HeatmapVis
      dataArray={ndarray(values, [ny, nx])}
      domain={domain}
      colorMap={cmap}
      scaleType={scale}
      aspect="auto"
      title={title}
      abscissaParams={{ value: xEdges, label: motors[1] }}
      ordinateParams={{ value: yEdges, label: motors[0] }}
      alpha={{ array: ndarray(measured, [ny, nx]), domain: [0, 1] }}
      ignoreValue={isBad}
      showGrid={false}
    />
  );
}

export function ScatterPanel({ st, axes, defaultField }: { st: RunState; axes: string[]; defaultField: string | undefined }) {
  const fields = st.fieldsOf('primary');
  const [fieldSel, setField] = useState<string | null>(null);
  const field = fieldSel ?? defaultField ?? fields[0];
  const [cmap, setCmap] = useState<ColorMap>('Viridis' as ColorMap);
  const [scale, setScale] = useState<ColorScaleType>(ScaleType.Linear);
  const x = st.primary.get(axes[0]);
  const y = st.primary.get(axes[1]);
  const c = st.primary.get(field);
  const n = Math.min(x?.length ?? 0, y?.length ?? 0, c?.length ?? 0);
  stats.scatterPoints = n;
  return (
    <section className="panel scatter" data-testid="scatter-panel" data-points={n}>
      <div className="panel-head controls">
        <h2>Positions</h2>
        <label>colour by <FieldSelect fields={fields} value={field} onChange={setField} testid="scatter-field" /></label>
        <ColourControls cmap={cmap} setCmap={setCmap} scale={scale} setScale={setScale} />
        <span className="muted">{n} points</span>
      </div>
      <div className="vis map-vis">
        {n > 0 && x && y && c ? (
          <ScatterVis
            abscissaParams={{ value: x.subarray(0, n), label: withUnits(st, axes[0]) }}
            ordinateParams={{ value: y.subarray(0, n), label: withUnits(st, axes[1]) }}
            dataArray={ndarray(c.subarray(0, n), [n])}
            domain={safeDomain(c.subarray(0, n), scale)}
            colorMap={cmap}
            scaleType={scale}
            size={8}
            showGrid
          />
        ) : (
          <p className="muted">Waiting for the first point…</p>
        )}
      </div>
    </section>
  );
}

/** One live curve: y against x (same length), NaN gaps skipped, auto y range. */
export function LineOf({ y, x, scale, xlabel, ylabel }: { y: Float64Array; x: Float64Array; scale: ScaleType.Linear | ScaleType.Log; xlabel: string; ylabel: string }) {
  return (
    <LineVis
      dataArray={ndarray(y, [y.length])}
      domain={safeDomain(y, scale)}
      scaleType={scale}
      abscissaParams={{ value: x, label: xlabel }}
      ordinateLabel={ylabel}
      showGrid
      ignoreValue={isBad}
      curveType={'OnlyLine' as any}
    />
  );
}
