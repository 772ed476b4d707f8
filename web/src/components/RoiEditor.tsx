/**
 * ROIs of a detector field: loaded from and saved to the server
 * (GET/PUT /api/v1/rois/{field}), drawn over the image (inside HeatmapVis),
 * and listed with names and numbers next to it.
 */
import { MouseButton, SvgElement, SvgRect, useCameraState, useCanvasEvent, useInteraction, useVisCanvasContext } from '@h5web/lib';
import { useThree } from '@react-three/fiber';
import { useCallback, useEffect, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react';
import { Vector3 } from 'three';
import { httpError } from '../lib/npy';
import {
  clipRoi, moveRoi, nextRoiName, rectFromPoints, resizeRoi, roiColour, sameRois, type Corner, type Roi,
} from '../lib/roisums';

const roisUrl = (field: string) => `/api/v1/rois/${encodeURIComponent(field)}`;

/** How often the ROIs are re-read (another tab may have changed them). */
const ROI_POLL_MS = 10_000;

/**
 * The field's ROIs: GET on mount, again whenever the live sums of this field
 * were reset (that is how the server reports an ROI change) and every
 * ROI_POLL_MS; PUT on every edit (optimistic; reverted, with the server's
 * message, on failure). Answers to requests older than the newest one are dropped.
 */
export function useRois(field: string, liveResets: number) {
  const [rois, setRois] = useState<Roi[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [saveError, setSaveError] = useState<string | null>(null);
  const saved = useRef<Roi[]>([]);
  const gen = useRef(0); // every GET and PUT; a GET answer counts only if nothing was sent after it
  const lastPut = useRef(0);

  const load = useCallback(() => {
    const n = ++gen.current;
    fetch(roisUrl(field))
      .then(async (r) => {
        if (!r.ok) throw await httpError(r);
        return (await r.json()) as Roi[];
      })
      .then((list) => {
        if (n !== gen.current) return;
        saved.current = list;
        setLoadError(null);
        setRois((cur) => (sameRois(cur, list) ? cur : list));
      })
      .catch((e: Error) => n === gen.current && setLoadError(`Could not load the ROIs of ${field}: ${e.message}`));
  }, [field]);

  useEffect(() => {
    load();
    const t = setInterval(load, ROI_POLL_MS);
    return () => {
      clearInterval(t);
      gen.current++; // drop answers after unmount
      lastPut.current = -1;
    };
  }, [load]);

  // the mount (or field change) above has loaded; load again only when the resets count moves on from what was seen
  const seenResets = useRef(liveResets);
  useEffect(() => {
    if (liveResets === seenResets.current) return;
    seenResets.current = liveResets;
    if (liveResets > 0) load();
  }, [liveResets, load]);

  const save = useCallback(
    (next: Roi[]) => {
      const n = ++gen.current;
      lastPut.current = n;
      setRois(next);
      fetch(roisUrl(field), { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(next) })
        .then(async (r) => {
          if (!r.ok) throw await httpError(r);
          return (await r.json()) as Roi[];
        })
        .then((list) => {
          if (n !== lastPut.current) return; // a newer edit is on its way
          gen.current++; // GETs sent before this answer may predate the change
          saved.current = list;
          setSaveError(null);
          setRois(list);
        })
        .catch((e: Error) => {
          if (n !== lastPut.current) return;
          setSaveError(`ROIs not saved: ${e.message}`);
          setRois(saved.current);
          load(); // and what the server really has
        });
    },
    [field, load],
  );
  return { rois, save, error: saveError ?? loadError };
}

type DragKind = 'move' | Corner;
interface Drag {
  index: number;
  kind: DragKind;
  start: Vector3;
  orig: Roi;
  current: Roi;
  pointerId: number;
}

const CORNERS: Corner[] = [
  { right: false, bottom: false },
  { right: true, bottom: false },
  { right: false, bottom: true },
  { right: true, bottom: true },
];
const cornerName = (c: Corner) => `${c.bottom ? 'b' : 't'}${c.right ? 'r' : 'l'}`;
const CURSOR: Record<string, string> = { tl: 'nwse-resize', br: 'nwse-resize', tr: 'nesw-resize', bl: 'nesw-resize' };
const HANDLE = 9;

/**
 * The ROI rectangles, in detector pixel (data) coordinates, as children of a
 * HeatmapVis whose axes are detector pixels with row 0 at the top
 * (`flipYAxis`). Drag inside a rectangle: move; drag a corner square:
 * resize. In draw mode (pan disabled on the vis) a left-button drag anywhere
 * draws a new ROI. The final rectangle is computed from the pointerup
 * position itself, not from the last painted state, so a fast drag is exact.
 */
export interface RoiOverlayProps {
  rois: Roi[];
  shape: number[] | null;
  drawMode: boolean;
  selected: string | null;
  onSelect: (name: string | null) => void;
  onChange: (index: number, roi: Roi) => void;
  onDraw: (rect: Omit<Roi, 'name'>) => void;
}

export function RoiOverlay({ rois, shape, drawMode, selected, onSelect, onChange, onDraw }: RoiOverlayProps) {
  const camera = useThree((s) => s.camera);
  const { dataToHtml, htmlToData, canvasArea } = useVisCanvasContext();
  // the gesture lives in a ref (handlers see it at once); state only repaints
  const dragRef = useRef<Drag | null>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const drawRef = useRef<{ start: Vector3; pointerId: number } | null>(null);
  const [drawn, setDrawn] = useState<[Vector3, Vector3] | null>(null);
  const shown = drag ? rois.map((r, k) => (k === drag.index ? drag.current : r)) : rois;

  const rects = useCameraState(
    (cam) => shown.map((r) => [dataToHtml(cam, new Vector3(r.x, r.y)), dataToHtml(cam, new Vector3(r.x + r.width, r.y + r.height))]),
    [shown, dataToHtml],
    (a, b) => a.length === b.length && a.every((p, k) => p[0].equals(b[k][0]) && p[1].equals(b[k][1])),
  );
  const rubber = useCameraState(
    (cam) => (drawn ? [dataToHtml(cam, drawn[0]), dataToHtml(cam, drawn[1])] as [Vector3, Vector3] : null),
    [drawn, dataToHtml],
  );

  const toData = (e: { clientX: number; clientY: number }) => {
    const box = canvasArea.getBoundingClientRect();
    return htmlToData(camera, new Vector3(e.clientX - box.left, e.clientY - box.top));
  };

  // ---- draw mode: a left-button drag anywhere on the canvas (pan is off in draw mode)
  const shouldDraw = useInteraction('RoiDraw', { button: MouseButton.Left, disabled: !drawMode });
  useCanvasEvent('pointerdown', ({ sourceEvent: e, dataPt }) => {
    if (!drawMode || !shouldDraw(e)) return;
    (e.target as Element).setPointerCapture(e.pointerId);
    drawRef.current = { start: dataPt, pointerId: e.pointerId };
    setDrawn([dataPt, dataPt]);
  });
  useCanvasEvent('pointermove', ({ sourceEvent: e }) => {
    const d = drawRef.current;
    if (!d || e.pointerId !== d.pointerId) return;
    setDrawn([d.start, toData(e)]);
  });
  const finishDraw = (e: PointerEvent, keep: boolean) => {
    const d = drawRef.current;
    if (!d || e.pointerId !== d.pointerId) return;
    drawRef.current = null;
    setDrawn(null);
    (e.target as Element).releasePointerCapture?.(e.pointerId);
    if (!keep) return;
    const end = toData(e);
    const a = dataToHtml(camera, d.start);
    const b = dataToHtml(camera, end);
    if (Math.abs(a.x - b.x) < 3 || Math.abs(a.y - b.y) < 3) return; // a click, not a drag
    const r = rectFromPoints(d.start, end, shape);
    if (r) onDraw(r);
  };
  useCanvasEvent('pointerup', ({ sourceEvent: e }) => finishDraw(e, true));
  useCanvasEvent('pointercancel', ({ sourceEvent: e }) => finishDraw(e, false));
  useEffect(() => {
    const esc = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && drawRef.current) {
        drawRef.current = null;
        setDrawn(null);
      }
    };
    window.addEventListener('keydown', esc);
    return () => window.removeEventListener('keydown', esc);
  }, []);

  // ---- move (drag inside) and resize (drag a corner square)
  const current = (d: Drag, e: { clientX: number; clientY: number }) => {
    const p = toData(e);
    const dx = p.x - d.start.x;
    const dy = p.y - d.start.y;
    return d.kind === 'move' ? moveRoi(d.orig, dx, dy, shape) : resizeRoi(d.orig, d.kind, dx, dy, shape);
  };
  const begin = (index: number, kind: DragKind) => (e: ReactPointerEvent<SVGElement>) => {
    if (drawMode || e.button !== 0) return;
    e.stopPropagation(); // not a pan
    e.preventDefault();
    (e.currentTarget as Element).setPointerCapture(e.pointerId);
    onSelect(rois[index].name);
    const d = { index, kind, start: toData(e), orig: rois[index], current: rois[index], pointerId: e.pointerId };
    dragRef.current = d;
    setDrag(d);
  };
  const move = (e: ReactPointerEvent<SVGElement>) => {
    const d = dragRef.current;
    if (!d || e.pointerId !== d.pointerId) return;
    e.stopPropagation();
    d.current = current(d, e);
    setDrag({ ...d });
  };
  const end = (e: ReactPointerEvent<SVGElement>) => {
    const d = dragRef.current;
    if (!d || e.pointerId !== d.pointerId) return;
    e.stopPropagation();
    (e.currentTarget as Element).releasePointerCapture(e.pointerId);
    dragRef.current = null;
    setDrag(null);
    if (e.type === 'pointercancel') return;
    const { index, orig } = d;
    const r = current(d, e);
    if (r.x !== orig.x || r.y !== orig.y || r.width !== orig.width || r.height !== orig.height) onChange(index, r);
  };
  const handlers = { onPointerMove: move, onPointerUp: end, onPointerCancel: end };

  const drawColour = roiColour(rois.length);
  return (
    <>
      {rubber && (
        <SvgElement>
          <SvgRect coords={rubber} fill={drawColour} fillOpacity={0.15} stroke={drawColour} strokeWidth={2} strokeDasharray="5 3" data-testid="roi-drawing" />
        </SvgElement>
      )}
      <SvgElement>
        {shown.map((r, k) => {
          const [a, b] = rects[k] ?? [new Vector3(), new Vector3()];
          const colour = roiColour(k);
          const isSel = r.name === selected;
          const left = Math.min(a.x, b.x);
          const top = Math.min(a.y, b.y);
          const ptr = drawMode ? 'none' : 'all';
          return (
            <g key={r.name} data-testid={`roi-rect-${r.name}`} data-roi={`${r.x},${r.y},${r.width},${r.height}`}>
              <SvgRect
                coords={[a, b]}
                fill={colour}
                fillOpacity={isSel ? 0.16 : 0.05}
                stroke={colour}
                strokeWidth={isSel ? 3 : 2}
                style={{ pointerEvents: ptr, cursor: drawMode ? 'crosshair' : 'move' }}
                onPointerDown={begin(k, 'move')}
                {...handlers}
              />
              <text x={left + 3} y={top - 4} fill={colour} fontSize={12} fontWeight={700} style={{ pointerEvents: 'none', paintOrder: 'stroke', stroke: '#fff', strokeWidth: 3 }}>
                {r.name}
              </text>
              {!drawMode &&
                CORNERS.map((c) => {
                  const cx = c.right ? Math.max(a.x, b.x) : left;
                  const cy = c.bottom ? Math.max(a.y, b.y) : top;
                  const name = cornerName(c);
                  return (
                    <rect
                      key={name}
                      data-testid={`roi-handle-${r.name}-${name}`}
                      x={cx - HANDLE / 2}
                      y={cy - HANDLE / 2}
                      width={HANDLE}
                      height={HANDLE}
                      fill="#fff"
                      stroke={colour}
                      strokeWidth={2}
                      style={{ pointerEvents: 'all', cursor: CURSOR[name] }}
                      onPointerDown={begin(k, c)}
                      {...handlers}
                    />
                  );
                })}
            </g>
          );
        })}
      </SvgElement>
    </>
  );
}

/** The list next to the image: colour, name (editable), x/y/width/height (editable), delete. */
export function RoiList({ rois, shape, selected, onSelect, onSave }: {
  rois: Roi[];
  shape: number[] | null;
  selected: string | null;
  onSelect: (name: string | null) => void;
  onSave: (rois: Roi[]) => void;
}) {
  const replace = (k: number, r: Roi) => onSave(rois.map((old, j) => (j === k ? r : old)));
  const rename = (k: number, name: string) => {
    const n = name.trim();
    if (!n || n === rois[k].name || rois.some((r) => r.name === n)) return false;
    replace(k, { ...rois[k], name: n });
    return true;
  };
  const setNum = (k: number, key: 'x' | 'y' | 'width' | 'height', v: number) => {
    if (!Number.isFinite(v) || v === rois[k][key]) return;
    replace(k, clipRoi({ ...rois[k], [key]: v }, shape));
  };
  if (!rois.length) return <p className="muted">No ROI yet — press “draw ROI” and drag over the image.</p>;
  return (
    <table className="roi-list">
      <thead>
        <tr><th /><th>name</th><th>x</th><th>y</th><th>w</th><th>h</th><th /></tr>
      </thead>
      <tbody>
        {rois.map((r, k) => (
          <tr
            key={`${r.name}|${r.x}|${r.y}|${r.width}|${r.height}`}
            data-testid={`roi-row-${r.name}`}
            className={r.name === selected ? 'selected' : ''}
            onClick={() => onSelect(r.name)}
          >
            <td><span className="swatch" style={{ background: roiColour(k) }} /></td>
            <td>
              <input
                className="roi-name"
                defaultValue={r.name}
                aria-label={`name of ${r.name}`}
                data-testid={`roi-name-${r.name}`}
                onKeyDown={(e) => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
                onBlur={(e) => {
                  if (!rename(k, e.target.value)) e.target.value = r.name;
                }}
              />
            </td>
            {(['x', 'y', 'width', 'height'] as const).map((key) => (
              <td key={key}>
                <input
                  type="number"
                  className="roi-num"
                  min={key === 'width' || key === 'height' ? 1 : 0}
                  step={1}
                  defaultValue={r[key]}
                  aria-label={`${key} of ${r.name}`}
                  data-testid={`roi-${key}-${r.name}`}
                  onKeyDown={(e) => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
                  onBlur={(e) => setNum(k, key, Math.round(Number(e.target.value)))}
                />
              </td>
            ))}
            <td>
              <button
                className="roi-delete"
                title={`delete ${r.name}`}
                aria-label={`delete ${r.name}`}
                data-testid={`roi-delete-${r.name}`}
                onClick={(e) => {
                  e.stopPropagation();
                  onSave(rois.filter((_, j) => j !== k));
                }}
              >
                ×
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A new ROI from a drawn rectangle: the first free rois name. */
export function addRoi(rois: Roi[], rect: Omit<Roi, 'name'>): Roi[] {
  return [...rois, { name: nextRoiName(rois), ...rect }];
}
