/**
 * Live detector images: one panel per 2-D detector field of the run, the
 * latest frame (or one picked with the slider) fetched as .npy, binned on
 * the server, painted with HeatmapVis in detector pixel coordinates (row 0
 * at the top), auto-contrast by percentiles, and the field's ROIs over it.
 */
import {
  DomainWidget, HeatmapVis, ScaleType, getVisDomain,
  type ColorMap, type ColorScaleType, type CustomDomain, type Domain,
} from '@h5web/lib';
import ndarray from 'ndarray';
import { memo, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { finiteRange, histogram, percentileClip } from '../lib/contrast';
import { DataBusContext } from '../lib/databus';
import { LatestLoader, fetchFrame, frameUrl, type Frame } from '../lib/npy';
import type { DetectorInfo, Roi } from '../lib/roisums';
import type { RunState } from '../lib/runstate';
import { recordFramePaint } from '../stats';
import { COLORMAPS, isBad } from './Plots';
import { RoiList, RoiOverlay, addRoi, useRois, type RoiOverlayProps } from './RoiEditor';

/** Largest binned frame side the client asks for (about a panel's width in pixels). */
const TARGET_PIXELS = 512;
const BINS = [1, 2, 4, 8];
const SCALES: [ColorScaleType, string][] = [[ScaleType.Linear, 'linear'], [ScaleType.Log, 'log'], [ScaleType.SymLog, 'symlog']];

function autoBin(shape: number[] | null | undefined): number {
  if (!shape || shape.length < 2) return 1;
  return Math.min(64, Math.max(1, Math.ceil(Math.max(shape[0], shape[1]) / TARGET_PIXELS)));
}

export function ImagePanels({ st }: { st: RunState }) {
  const dets = st.detectorFields();
  const fields = Object.keys(dets);
  if (!fields.length) return null;
  return (
    <>
      {fields.map((f) => (
        <ImagePanel key={f} st={st} field={f} info={dets[f]} />
      ))}
    </>
  );
}

interface Shown extends Frame {
  seq: number;
  bin: number;
}

/** seq and bin of a frame URL (the loader's key). */
function urlMeta(url: string): { seq: number; bin: number } {
  const m = url.match(/\/frames\/[^/]+\/(\d+)\?bin=(\d+)/);
  return m ? { seq: Number(m[1]), bin: Number(m[2]) } : { seq: 0, bin: 1 };
}

/** Latest-wins frame loading for one panel; the error stays until a frame arrives. */
function useFrame(url: string | null) {
  const [shown, setShown] = useState<Shown | null>(null);
  const [error, setError] = useState<string | null>(null);
  const loader = useRef<LatestLoader<Frame> | null>(null);
  const urlRef = useRef(url);
  urlRef.current = url;
  useEffect(() => {
    const l = new LatestLoader<Frame>(
      (key) => fetchFrame(key),
      (key, frame) => {
        setShown({ ...frame, ...urlMeta(key) });
        setError(null);
      },
      (key, err) => setError(`point ${urlMeta(key).seq}: ${err.message}`),
    );
    loader.current = l;
    l.want(urlRef.current);
    return () => l.close();
  }, []);
  useEffect(() => {
    loader.current?.want(url);
  }, [url]);
  const want = useCallback((u: string) => loader.current?.want(u), []);
  return { shown, error, want };
}

function ImagePanel({ st, field, info }: { st: RunState; field: string; info: DetectorInfo }) {
  const seqCol = st.stream(info.stream).get('seq_num');
  const latest = seqCol && seqCol.length ? seqCol[seqCol.length - 1] : 0;
  const [follow, setFollow] = useState(true);
  const [picked, setPicked] = useState(1);
  const seq = follow ? latest : Math.min(Math.max(1, picked), latest);
  const [binSel, setBinSel] = useState<number | null>(null);
  const [mode, setMode] = useState<'max' | 'mean'>('max');
  const [cmap, setCmap] = useState<ColorMap>('Viridis' as ColorMap);
  const [scale, setScale] = useState<ColorScaleType>(ScaleType.Linear);
  const [locked, setLocked] = useState<CustomDomain | null>(null);
  const [drawMode, setDrawMode] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  // [ny, nx] of the detector, as arrays that keep their identity while the numbers do (memo(ImageVis) and RoiList)
  const hasShape = info.shape?.length >= 2;
  const [sy, sx] = hasShape ? info.shape.slice(-2) : [0, 0];
  const shape = useMemo(() => (hasShape ? [sy, sx] : null), [hasShape, sy, sx]);
  const bin = binSel ?? autoBin(shape);
  const url = st.uid && seq > 0 ? frameUrl(st.uid, info.stream, field, seq, bin, mode) : null;
  const { shown, error, want } = useFrame(url);
  // follow the newest frame as soon as its event arrives, not at the next render of the run view
  const bus = useContext(DataBusContext);
  const live = useRef({ follow, bin, mode });
  live.current = { follow, bin, mode };
  useEffect(() => bus?.on((s) => {
    const { follow: f, bin: b, mode: m } = live.current;
    const col = s.stream(info.stream).get('seq_num');
    const newest = col && col.length ? col[col.length - 1] : 0;
    if (f && s.uid && newest > 0) want(frameUrl(s.uid, info.stream, field, newest, b, m));
  }), [bus, want, info.stream, field]);
  useEffect(() => {
    if (shown) recordFramePaint(field, shown.seq);
  }, [shown, field]);

  const fs = st.roisums.fields.get(field);
  const { rois, save, error: roiError } = useRois(field, fs?.resets ?? 0);
  // the frame as received sets the bounds when the descriptor's shape is not known
  const fy = shown ? shown.ny * shown.bin : 0;
  const fx = shown ? shown.nx * shown.bin : 0;
  const frameShape = useMemo(() => shape ?? (shown ? [fy, fx] : null), [shape, !!shown, fy, fx]); // eslint-disable-line react-hooks/exhaustive-deps

  // contrast: percentile clip of the received frame, unless locked
  const positive = scale === ScaleType.Log;
  const auto = useMemo<Domain>(() => (shown && percentileClip(shown.data, 0.5, 99.5, positive)) || (positive ? [1, 10] : [0, 1]), [shown, positive]);
  const full = useMemo<Domain>(() => (shown && finiteRange(shown.data, positive)) || auto, [shown, positive, auto]);
  const dataDomain: Domain = [Math.min(full[0], auto[0]), Math.max(full[1], auto[1])];
  const custom: CustomDomain = locked ?? auto;
  const [d0, d1] = getVisDomain(custom, dataDomain);
  const domain = useMemo<Domain>(() => [d0, d1], [d0, d1]);
  const hist = useMemo(
    () => (shown ? { ...histogram(shown.data, dataDomain, 64, positive), colorMap: cmap } : undefined),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [shown, dataDomain[0], dataDomain[1], positive, cmap],
  );

  const onChange = useCallback((k: number, r: Roi) => save(rois.map((old, j) => (j === k ? r : old))), [rois, save]);
  const onDraw = useCallback((rect: Omit<Roi, 'name'>) => {
    const next = addRoi(rois, rect);
    setSelected(next[next.length - 1].name);
    save(next);
  }, [rois, save]);

  // Delete / Backspace removes the selected ROI (not while typing in a field)
  useEffect(() => {
    if (!selected) return;
    const h = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
      if ((e.key === 'Delete' || e.key === 'Backspace') && rois.some((r) => r.name === selected)) {
        e.preventDefault();
        save(rois.filter((r) => r.name !== selected));
        setSelected(null);
      } else if (e.key === 'Escape') setSelected(null);
    };
    window.addEventListener('keydown', h);
    return () => window.removeEventListener('keydown', h);
  }, [selected, rois, save]);

  return (
    <section className="panel image" data-testid={`image-panel-${field}`} data-field={field} data-seq={shown?.seq ?? 0} data-bin={shown?.bin ?? bin} data-rois={rois.length}>
      <div className="panel-head controls">
        <h2>{field}</h2>
        <span className="muted">{shape ? `${shape[0]} × ${shape[1]} px` : ''}{info.dtype ? ` ${info.dtype}` : ''}</span>
        <label className="seq">
          point
          <input
            type="range"
            min={1}
            max={Math.max(1, latest)}
            value={Math.max(1, seq)}
            disabled={latest < 1}
            data-testid="frame-slider"
            onChange={(e) => {
              setPicked(Number(e.target.value));
              setFollow(Number(e.target.value) >= latest);
            }}
          />
        </label>
        <span data-testid="frame-seq" data-seq={shown?.seq ?? 0} data-latest={latest} className="mono">
          {shown ? shown.seq : '—'} / {latest}
        </span>
        <label title="show the newest frame as points arrive">
          <input type="checkbox" checked={follow} data-testid="frame-follow" onChange={(e) => { setFollow(e.target.checked); setPicked(seq); }} /> follow latest
        </label>
        <label>bin <select value={binSel ?? 0} data-testid="frame-bin" onChange={(e) => setBinSel(Number(e.target.value) || null)}>
          <option value={0}>auto ({autoBin(shape)})</option>
          {BINS.map((b) => <option key={b} value={b}>{b}</option>)}
        </select></label>
        <select value={mode} data-testid="frame-bin-mode" title="max keeps single-pixel peaks" onChange={(e) => setMode(e.target.value as 'max' | 'mean')}>
          <option value="max">max</option>
          <option value="mean">mean</option>
        </select>
        <label>colours <select value={cmap} onChange={(e) => setCmap(e.target.value as ColorMap)}>{COLORMAPS.map((c) => <option key={c}>{c}</option>)}</select></label>
        <label>scale <select value={scale} data-testid="frame-scale" onChange={(e) => { setScale(e.target.value as ColorScaleType); setLocked(null); }}>
          {SCALES.map(([s, label]) => <option key={s} value={s}>{label}</option>)}
        </select></label>
      </div>
      {error && <div className="error" role="alert" data-testid="frame-error">{error}</div>}
      <div className="image-body">
        <div className={drawMode ? 'vis image-vis drawing' : 'vis image-vis'}>
          {shown ? (
            <ImageVis
              frame={shown}
              domain={domain}
              cmap={cmap}
              scale={scale}
              rois={rois}
              shape={frameShape}
              drawMode={drawMode}
              selected={selected}
              onSelect={setSelected}
              onChange={onChange}
              onDraw={onDraw}
            />
          ) : (
            <p className="muted">{latest ? (error ? 'No frame yet.' : 'Loading the frame…') : 'Waiting for the first point…'}</p>
          )}
        </div>
        <div className="image-side">
          <div className="contrast">
            <DomainWidget dataDomain={dataDomain} customDomain={custom} scaleType={scale} histogram={hist} onCustomDomainChange={setLocked} />
            <label title="keep the colour scale when new frames arrive">
              <input type="checkbox" data-testid="contrast-lock" checked={locked !== null} onChange={(e) => setLocked(e.target.checked ? [d0, d1] : null)} /> lock contrast
            </label>
            {locked && <button data-testid="contrast-auto" onClick={() => setLocked(null)}>auto</button>}
          </div>
          <div className="roi-tools">
            <button
              className={drawMode ? 'active' : ''}
              aria-pressed={drawMode}
              data-testid="roi-draw-toggle"
              title="drag on the image to add an ROI; pan is off while drawing"
              onClick={() => setDrawMode(!drawMode)}
            >
              {drawMode ? 'drawing — done' : 'draw ROI'}
            </button>
            <span className="muted">{drawMode ? 'drag on the image' : 'drag a box to move it, a corner to resize'}</span>
          </div>
          {roiError && <div className="error" role="alert" data-testid="roi-save-error">{roiError}</div>}
          <RoiList rois={rois} shape={frameShape} selected={selected} onSelect={setSelected} onSave={save} />
        </div>
      </div>
    </section>
  );
}

interface ImageVisProps extends RoiOverlayProps {
  frame: Shown;
  domain: Domain;
  cmap: ColorMap;
  scale: ColorScaleType;
}

/** Pixel edges of the binned frame in detector pixels: bin k covers [k*bin, (k+1)*bin). */
function edges(n: number, bin: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let k = 0; k <= n; k++) out[k] = k * bin;
  return out;
}

const ImageVis = memo(function ImageVis({ frame, domain, cmap, scale, rois, shape, drawMode, selected, onSelect, onChange, onDraw }: ImageVisProps) {
  const { ny, nx, bin } = frame;
  const data = useMemo(() => ndarray(frame.data, [ny, nx]), [frame, ny, nx]);
  const xAxis = useMemo(() => ({ value: edges(nx, bin), label: 'x (column, px)' }), [nx, bin]);
  const yAxis = useMemo(() => ({ value: edges(ny, bin), label: 'y (row, px)' }), [ny, bin]);
  const interactions = useMemo(() => (drawMode ? { pan: false as const } : undefined), [drawMode]);
  return (
    <HeatmapVis
      dataArray={data}
      domain={domain}
      colorMap={cmap}
      scaleType={scale}
      aspect="equal"
      flipYAxis
      abscissaParams={xAxis}
      ordinateParams={yAxis}
      interactions={interactions}
      ignoreValue={isBad}
    >
      <RoiOverlay rois={rois} shape={shape} drawMode={drawMode} selected={selected} onSelect={onSelect} onChange={onChange} onDraw={onDraw} />
    </HeatmapVis>
  );
});
